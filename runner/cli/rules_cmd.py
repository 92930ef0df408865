"""``runner rules list | validate | show``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli.app import App, Commands
from runner.cli.output import shorten, table
from runner.timeutil import isoformat, utcnow

if TYPE_CHECKING:
    from runner.elastic.requests import NativeRequest
    from runner.exceptions.model import ExceptionList
    from runner.exceptions.stage import AppliedExceptions
    from runner.rules.model import Rule


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
    from runner.rules.loader import load_rules

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
    from runner.exceptions.stage import ExceptionCatalog, prepare
    from runner.rules.select import resolve_rule
    from runner.ruletypes import kind_of

    rule = resolve_rule(app.rule_set().rules, args.rule)
    _print_essentials(rule)
    lists = ExceptionCatalog.from_set(app.exception_set()).lists_for(rule)
    now = utcnow()
    applied = prepare(lists, now, app.existing_value_lists()) if lists else None
    if applied is not None and not getattr(kind_of(rule), "post_filters_value_lists", True):
        applied = applied.without_post_filter()
    if lists:
        _print_exceptions(lists, applied, now)
    if args.explain:
        print()
        if applied is not None and applied.query is not None:
            print("# exception filter (items ORed, negated into every request's filter)")
            print(json.dumps({"bool": {"must_not": [applied.query]}}, indent=2))
            print()
        for request in explain(applied.apply(rule) if applied is not None else rule, app):
            print(f"# {request.description}")
            print(f"{request.method} {request.path}")
            print(json.dumps(request.body, indent=2))
            print()
    return 0


def explain(rule: Rule, app: App | None = None) -> list[NativeRequest]:
    """The native requests for a window ending now: exactly what the backend sends.  With a
    cluster configured, KQL is compiled with the cluster's field types, as it runs there."""
    from runner.ruletypes import kind_of
    from runner.ruletypes.indicator_match import IndicatorMatchKind

    fields = threat_fields = None
    if app is not None and app.settings.elasticsearch.configured and rule.language == "kuery":
        from runner.backends.elasticsearch import ElasticsearchBackend

        backend = app.backend()
        if isinstance(backend, ElasticsearchBackend):
            fields = backend.field_types(rule.index, rule.kql)
            if rule.threat_match is not None:
                threat = rule.threat_match
                threat_fields = backend.field_types(threat.index, threat.parsed)
    kind = kind_of(rule)
    if isinstance(kind, IndicatorMatchKind):
        return kind.explain(rule, utcnow(), fields, threat_fields)
    return kind.explain(rule, utcnow(), fields)


def _print_exceptions(
    lists: tuple[ExceptionList, ...], applied: AppliedExceptions | None, now: datetime
) -> None:
    print("\nexceptions:")
    for lst in lists:
        print(f"  {lst.list_id} ({lst.name}, {lst.path or 'imported'})")
        for item in lst.items:
            state = "active" if item.active(now) else "expired"
            expiry = f", expires {isoformat(item.expire_time)}" if item.expire_time else ""
            print(f"    - {item.item_id}: {item.name} [{state}{expiry}]")
    if applied is not None:
        if applied.post_items:
            names = ", ".join(i.item_id for i in applied.post_items)
            print(f"  applied after the search (large or non-inlined value lists): {names}")
        if applied.unprocessed:
            names = ", ".join(i.item_id for i in applied.unprocessed)
            print(f"  not applied (large value lists; this rule type warns instead): {names}")
        for problem in applied.problems:
            print(f"  not applied: {problem}")


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
    if rule.alert_suppression is not None:
        spec = rule.alert_suppression
        window = f"for {spec.duration}" if spec.duration else "per rule execution"
        fields.append(
            (
                "suppression",
                f"by {', '.join(spec.group_by)} {window}, missing fields: "
                f"{spec.missing_fields_strategy}",
            )
        )
    fields += _type_essentials(rule)
    if rule.threat:
        techniques = [t.entry.id for threat in rule.threat for t in threat.techniques]
        tactics = [f"{t.tactic.id} {t.tactic.name}" for t in rule.threat]
        fields.append(("mitre", f"{'; '.join(tactics)} | {', '.join(techniques)}"))
    if rule.tags:
        fields.append(("tags", ", ".join(rule.tags)))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key.ljust(width)}  {value}")
    print(f"\n{rule.description.strip()}")
    if rule.query.strip():
        print(f"\nquery:\n{rule.query.strip()}")


def _type_essentials(rule: Rule) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if rule.threshold is not None:
        t = rule.threshold
        text = f">= {t.value} events by {', '.join(t.fields) or '(all events)'}"
        if t.cardinality:
            text += f", >= {t.cardinality[0].value} distinct {t.cardinality[0].field}"
        found.append(("threshold", text))
    if rule.threat_match is not None:
        tm = rule.threat_match
        mapping = " OR ".join(
            "(" + " AND ".join(f"{e.field} = {e.value}" for e in block) + ")"
            for block in tm.mapping
        )
        found += [
            ("threat index", ", ".join(tm.index)),
            ("threat query", " ".join(tm.query.split())),
            ("threat mapping", mapping),
        ]
    if rule.machine_learning is not None:
        ml = rule.machine_learning
        found.append(
            ("ml jobs", f"{', '.join(ml.job_ids)} (anomaly score >= {ml.anomaly_threshold})")
        )
    if rule.cluster_only:
        found.append(("cluster only", "; ".join(rule.cluster_only)))
    return found
