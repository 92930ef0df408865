"""``runner rules list | validate | show``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runner.cli.app import App, Commands
from runner.cli.output import shorten, table
from runner.elastic import requests as es_requests
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.rules.select import resolve_rule
from runner.timeutil import utcnow


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    rules = commands.add_parser(
        "rules", help="list, validate and inspect detection rules", parents=[parent]
    )
    sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="table of the loaded rules", parents=[parent])
    listing.set_defaults(func=cmd_list)

    validate = sub.add_parser(
        "validate", help="load every rule and report every error", parents=[parent]
    )
    validate.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="rule files or folders (default: the rules directory)",
    )
    validate.set_defaults(func=cmd_validate)

    show = sub.add_parser("show", help="one rule's essentials", parents=[parent])
    show.add_argument("rule", metavar="RULE", help="file stem, rule_id or part of the name")
    show.add_argument(
        "--explain",
        action="store_true",
        help="print the native Elasticsearch request(s) for a window ending now",
    )
    show.set_defaults(func=cmd_show)


def cmd_list(args: argparse.Namespace, app: App) -> int:
    rule_set = app.rule_set()
    rows = [
        (r.stem, shorten(r.name, 48), r.type, r.language, r.interval, r.severity, r.risk_score)
        for r in sorted(rule_set.rules, key=lambda r: r.stem)
    ]
    table(("short name", "name", "type", "language", "interval", "severity", "risk"), rows)
    if rule_set.unsupported:
        print(
            f"\n{len(rule_set.unsupported)} unsupported rule(s) skipped "
            "(see `runner rules validate`)"
        )
    if rule_set.errors:
        print(f"{len(rule_set.errors)} rule file(s) failed to load (see `runner rules validate`)")
    return 0


def cmd_validate(args: argparse.Namespace, app: App) -> int:
    paths: list[Path] = args.paths or [app.rules_dir()]
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"{path}: no such file or directory", file=sys.stderr)
    rule_set = load_rules([p for p in paths if p.exists()])
    for error in rule_set.errors:
        print(error.pretty(), file=sys.stderr)
    for skipped in rule_set.unsupported:
        print(f"{skipped.path}: skipped: {skipped.reason}")
    cluster_only = [r for r in rule_set.rules if r.cluster_only]
    for rule in cluster_only:
        print(f"{rule.path}: cluster only (unsupported on the embedded store): "
              f"{'; '.join(rule.cluster_only)}")  # fmt: skip
    failed = len(rule_set.errors) + len(missing)
    summary = (
        f"{len(rule_set.rules)} loaded, {failed} failed, {len(rule_set.unsupported)} unsupported"
    )
    if cluster_only:
        summary += f" ({len(cluster_only)} loaded rule(s) run on a cluster only)"
    print(summary)
    return 1 if failed else 0


def cmd_show(args: argparse.Namespace, app: App) -> int:
    rule = resolve_rule(app.rule_set().rules, args.rule)
    _print_essentials(rule)
    if args.explain:
        print()
        for request in explain(rule, app):
            print(f"# {request.description}")
            print(f"{request.method} {request.path}")
            print(json.dumps(request.body, indent=2))
            print()
    return 0


def explain(rule: Rule, app: App | None = None) -> list[es_requests.NativeRequest]:
    """The native requests for a window ending now: exactly what the backend sends.  With a
    cluster configured, KQL is compiled with the cluster's field types, as it runs there."""
    from runner.ruletypes import kind_of

    fields = None
    if app is not None and app.settings.elasticsearch.configured and rule.language == "kuery":
        from runner.backends.elasticsearch import ElasticsearchBackend

        backend = app.backend()
        if isinstance(backend, ElasticsearchBackend):
            fields = backend.field_types(rule.index, rule.kql)
    return kind_of(rule).explain(rule, utcnow(), fields)


def _print_essentials(rule: Rule) -> None:
    fields = [
        ("name", rule.name),
        ("rule_id", rule.rule_id),
        ("file", str(rule.path)),
        ("type", f"{rule.type} ({rule.language})"),
        ("severity", f"{rule.severity} / risk {rule.risk_score}"),
        ("schedule", f"every {rule.interval}, from {rule.from_}, max {rule.max_signals} alerts"),
        ("index", ", ".join(rule.index) or "(named by the query)"),
        ("timestamp", (rule.timestamp_override and f"{rule.timestamp_override} "
                      f"(fallback @timestamp)") or rule.timestamp_field),
    ]  # fmt: skip
    if rule.new_terms is not None:
        fields.append(
            (
                "new terms",
                f"{', '.join(rule.new_terms.fields)} "
                f"(history from {rule.new_terms.history_window_start})",
            )
        )
    if rule.threat:
        techniques = [t.entry.id for threat in rule.threat for t in threat.techniques]
        tactics = [f"{t.tactic.id} {t.tactic.name}" for t in rule.threat]
        fields.append(("mitre", f"{'; '.join(tactics)} | {', '.join(techniques)}"))
    if rule.tags:
        fields.append(("tags", ", ".join(rule.tags)))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key.ljust(width)}  {value}")
    print(f"\n{rule.description.strip()}\n\nquery:\n{rule.query.strip()}")
