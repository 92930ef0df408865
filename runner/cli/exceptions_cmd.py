"""``runner exceptions list | import | add | remove``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli.app import App, Commands
from runner.cli.output import shorten, table
from runner.errors import UsageError
from runner.timeutil import isoformat, parse_time, utcnow

if TYPE_CHECKING:
    from runner.exceptions.model import Entry, ExceptionItem


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    exceptions = commands.add_parser(
        "exceptions", help="rule exception lists (the exceptions/ folder)", parents=[parent]
    )
    sub = exceptions.add_subparsers(dest="exceptions_command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="every exception item, or a rule's", parents=[parent])
    listing.add_argument("--rule", metavar="NAME", help="only the items that apply to this rule")
    listing.set_defaults(func=cmd_list)

    imports = sub.add_parser(
        "import", help="import Kibana's exception list export (NDJSON)", parents=[parent]
    )
    imports.add_argument("file", type=Path, metavar="FILE")
    imports.add_argument(
        "--rule", action="append", metavar="NAME", help="also attach the lists to this rule"
    )
    imports.set_defaults(func=cmd_import)

    add = sub.add_parser(
        "add", help="add an exception to a rule from one of its alerts", parents=[parent]
    )
    add.add_argument("--rule", required=True, metavar="NAME")
    add.add_argument(
        "--from-alert",
        required=True,
        metavar="ALERT_ID",
        help="the alert's id (kibana.alert.uuid) or a unique prefix of it",
    )
    add.add_argument(
        "--field",
        action="append",
        metavar="F",
        help="field whose value the item matches (repeatable; default "
        "process.executable and process.command_line)",
    )
    add.add_argument("--comment", metavar="TEXT", help="why (kept with the item)")
    add.add_argument(
        "--expires",
        metavar="TIME",
        help="ISO 8601 time or date math (now+30d) after which it no longer applies",
    )
    add.set_defaults(func=cmd_add)  # fmt: skip

    remove = sub.add_parser("remove", help="remove one exception item", parents=[parent])
    remove.add_argument("item_id", metavar="ITEM_ID")
    remove.set_defaults(func=cmd_remove)


def cmd_list(args: argparse.Namespace, app: App) -> int:
    from runner.exceptions.stage import ExceptionCatalog
    from runner.rules.select import resolve_rule

    exception_set = app.exception_set()
    lists = exception_set.lists
    if args.rule:
        rule = resolve_rule(app.rule_set().rules, args.rule)
        lists = ExceptionCatalog(lists=lists).lists_for(rule)
    now = utcnow()
    rows = [
        (
            item.item_id,
            lst.list_id,
            shorten(item.name, 40),
            shorten(" AND ".join(describe(e) for e in item.entries), 60),
            ("expired " if not item.active(now) else "")
            + (isoformat(item.expire_time) if item.expire_time else "-"),
            shorten(item.comments[-1].comment, 30) if item.comments else "",
        )
        for lst in lists
        for item in lst.items
    ]
    table(["ITEM", "LIST", "NAME", "ENTRIES", "EXPIRES", "COMMENT"], rows, empty="(no items)")
    for error in exception_set.errors:
        print(f"not loaded: {error}", file=sys.stderr)
    return 1 if exception_set.errors else 0


def describe(entry: Entry) -> str:
    negation = "NOT " if entry.operator == "excluded" else ""
    if entry.type == "nested":
        return f"{entry.field} {{{' AND '.join(describe(e) for e in entry.entries)}}}"
    if entry.type == "exists":
        return f"{negation}{entry.field} exists"
    if entry.type == "list" and entry.list is not None:
        return f"{entry.field} {negation}in list {entry.list.id}"
    if entry.type == "match_any":
        return f"{entry.field} {negation}is one of {', '.join(entry.value or ())}"
    verb = "matches" if entry.type == "wildcard" else "is"
    return f"{entry.field} {negation}{verb} {entry.value}"


def cmd_import(args: argparse.Namespace, app: App) -> int:
    from runner.exceptions.edit import import_export
    from runner.exceptions.kibana_import import read_export
    from runner.rules.select import resolve_rule

    result = read_export(args.file)
    rules = [resolve_rule(app.rule_set().rules, name) for name in args.rule or []]
    for error in result.errors:
        print(f"skipped {error}", file=sys.stderr)
    written = import_export(app.exceptions_dir(), result, rules)
    for lst, path in written:
        print(f"{lst.list_id}: {len(lst.items)} item(s) in {path}")
    items = sum(len(lst.items) for lst in result.lists)
    print(f"{len(written)} list(s), {items} item(s) imported, {len(result.errors)} skipped")
    return 1 if result.errors else 0


def cmd_add(args: argparse.Namespace, app: App) -> int:
    from runner.exceptions.edit import add_item, item_from_alert, rule_list_id
    from runner.rules.select import resolve_rule

    rule = resolve_rule(app.rule_set().rules, args.rule)
    now = utcnow()
    expires = parse_time(args.expires, now) if args.expires else None
    if expires is not None and expires <= now:
        raise UsageError(f"--expires {args.expires!r} is in the past ({isoformat(expires)})")
    alerts = app.existing_backend().list_alerts(rule_ids=[rule.rule_id])
    matches = [a for a in alerts if str(a.get("kibana.alert.uuid", "")).startswith(args.from_alert)]
    if not matches:
        raise UsageError(f"no alert {args.from_alert!r} of rule {rule.name!r}")
    if len({a["kibana.alert.uuid"] for a in matches}) > 1:
        raise UsageError(f"alert id prefix {args.from_alert!r} is ambiguous; give more of it")
    item = item_from_alert(
        matches[0],
        list_id=rule_list_id(rule),
        fields=args.field or (),
        comment=args.comment,
        expires=expires,
        now=now,
    )
    path = add_item(app.exceptions_dir(), rule, item)
    _print_item(item)
    print(f"added to {path} (rule file untouched); applies from the next execution")
    return 0


def _print_item(item: ExceptionItem) -> None:
    print(f"item {item.item_id}: {item.name}")
    for entry in item.entries:
        print(f"  {describe(entry)}")
    if item.expire_time:
        print(f"  expires {isoformat(item.expire_time)}")


def cmd_remove(args: argparse.Namespace, app: App) -> int:
    from runner.exceptions.edit import remove_item

    path = remove_item(app.exceptions_dir(), args.item_id)
    print(f"removed {args.item_id} from {path}")
    return 0
