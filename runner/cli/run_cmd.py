"""``runner once``, ``runner alerts list|export`` and ``runner executions``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from runner.cli.app import App, Commands
from runner.cli.output import field_value, positive_int, shorten, table
from runner.timeutil import isoformat, parse_time, utcnow

if TYPE_CHECKING:
    from runner.execution.model import ExecutionRecord
    from runner.notify.worker import DeliveryWorker


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    once = commands.add_parser(
        "once", help="run rules now (or at a logical time) and exit", parents=[parent]
    )
    which = once.add_mutually_exclusive_group()
    which.add_argument(
        "--rule",
        action="append",
        metavar="NAME",
        help="rule to run (repeatable): file stem, rule_id or part of the name",
    )
    which.add_argument("--all", action="store_true", help="run every enabled rule")
    once.add_argument(
        "--now",
        metavar="TIME",
        help="logical execution time (ISO 8601 or date math), to replay a moment",
    )
    once.add_argument("--json", action="store_true", help="one JSON object per executed window")
    once.set_defaults(func=cmd_once)

    alerts = commands.add_parser("alerts", help="list or export written alerts", parents=[parent])
    sub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="a readable table, newest first", parents=[parent])
    export = sub.add_parser("export", help="one alert document per line (NDJSON)", parents=[parent])
    for parser in (listing, export):
        parser.add_argument("--rule", action="append", metavar="NAME")
        parser.add_argument("--since", metavar="TIME", help="ISO 8601 or date math (now-24h)")
    listing.add_argument("--limit", type=positive_int, default=50, metavar="N")
    listing.add_argument(
        "--all-alerts", action="store_true", help="include sequence building-block alerts"
    )
    listing.set_defaults(func=cmd_alerts_list)
    export.set_defaults(func=cmd_alerts_export)

    executions = commands.add_parser(
        "executions", help="the execution log, newest first", parents=[parent]
    )
    executions.add_argument("--rule", action="append", metavar="NAME")
    executions.add_argument("--limit", type=positive_int, default=50, metavar="N")
    executions.set_defaults(func=cmd_executions)  # fmt: skip


def cmd_once(args: argparse.Namespace, app: App) -> int:
    from runner.daemon.backfill import HOLD_TTL, HOLD_WAIT
    from runner.daemon.leases import default_daemon_name

    rules = app.select(args.rule, all_rules=args.all)
    now = parse_time(args.now, utcnow()) if args.now else None
    backend = app.backend()
    notes = app.notifications(backend)
    executor = app.executor(notifier=notes.planner if notes.active else None)
    leases = app.leases(name=f"once:{default_daemon_name()}")
    records: list[ExecutionRecord] = []
    for rule in rules:
        # Never beside a daemon's execution of the same rule (runner.daemon.leases).
        with leases.hold(rule.rule_id, wait=HOLD_WAIT, ttl=HOLD_TTL):
            records += executor.run(rule, now, manual=now is not None)
    if args.json:
        for record in records:
            print(json.dumps(record.summary()))
    else:
        print_records(records)
    if notes.active:
        # One delivery pass; what the receivers do not take now waits in the outbox for
        # the daemon or `runner notify deliver`.
        sent, waiting = deliver_pending(notes.worker)
        print(f"notifications: {sent} sent, {waiting} waiting in the outbox", file=sys.stderr)
    return 1 if any(r.status == "failed" for r in records) else 0


def deliver_pending(worker: DeliveryWorker, rounds: int = 20) -> tuple[int, int]:
    """Deliver what is due now (at most ``rounds`` batches); (sent, still pending)."""
    sent = 0
    for _ in range(rounds):
        result = worker.run_once()
        sent += result.sent
        if result.sent + result.retried + result.failed + result.lost == 0:
            break
    return sent, worker.outbox.counts().pending


def print_records(records: list[ExecutionRecord]) -> None:
    rows = [
        (
            shorten(r.rule_name, 40),
            f"{_clock(r.window_start)}..{_clock(r.window_end)}",
            r.status,
            r.candidates,
            r.alerts_created,
            r.duplicates,
            r.search_ms,
            shorten(r.message, 60),
        )
        for r in records
    ]
    table(("rule", "window", "status", "found", "created", "dupes", "ms", "message"), rows)
    created = sum(r.alerts_created for r in records)
    print(f"\n{len(records)} window(s), {created} alert(s) created")


def _clock(value: Any) -> str:
    return isoformat(value)[:19].replace("T", " ") if value is not None else "-"


def _rule_ids(args: argparse.Namespace, app: App) -> list[str]:
    return [r.rule_id for r in app.select(args.rule)] if args.rule else []


def cmd_alerts_list(args: argparse.Namespace, app: App) -> int:
    since = parse_time(args.since, utcnow()) if args.since else None
    alerts = app.existing_backend().list_alerts(
        rule_ids=_rule_ids(args, app),
        since=since,
        # Building blocks are filtered out below, so the limit applies after that.
        limit=args.limit if args.all_alerts else None,
    )
    if not args.all_alerts:
        alerts = [a for a in alerts if "kibana.alert.building_block_type" not in a]
    print_alerts(alerts, limit=args.limit)
    return 0


def print_alerts(alerts: list[dict[str, Any]], *, limit: int) -> None:
    rows = [
        (
            str(a.get("@timestamp", ""))[:19].replace("T", " "),
            shorten(str(a.get("kibana.alert.rule.name", "")), 36),
            a.get("kibana.alert.severity", ""),
            str(field_value(a, "host.name") or ""),
            shorten(str(a.get("kibana.alert.reason", "")), 70),
            str(a.get("kibana.alert.uuid", ""))[:12],
        )
        for a in alerts[:limit]
    ]
    table(("created", "rule", "severity", "host", "reason", "id"), rows, empty="no alerts")
    if len(alerts) > limit:
        print(f"... {len(alerts) - limit} more (use --limit)")


def cmd_alerts_export(args: argparse.Namespace, app: App) -> int:
    since = parse_time(args.since, utcnow()) if args.since else None
    for alert in app.existing_backend().list_alerts(rule_ids=_rule_ids(args, app), since=since):
        sys.stdout.write(json.dumps(alert, sort_keys=True) + "\n")
    return 0


def cmd_executions(args: argparse.Namespace, app: App) -> int:
    records = app.existing_backend().list_executions(
        rule_ids=_rule_ids(args, app), limit=args.limit
    )
    rows = [
        (
            _clock(r.started_at),
            shorten(r.rule_name, 36),
            f"{_clock(r.window_start)}..{_clock(r.window_end)}",
            r.status,
            r.alerts_created,
            r.duplicates,
            r.search_ms + r.index_ms,
            shorten(r.message, 60),
        )
        for r in records
    ]
    table(("started", "rule", "window", "status", "created", "dupes", "ms", "message"), rows,
          empty="no executions recorded")  # fmt: skip
    return 0
