"""``runner notify list | test | status | deliver | retry``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from runner.cli.app import App, Commands
from runner.cli.output import shorten, table
from runner.errors import DeliveryFailed, UsageError
from runner.timeutil import format_duration, isoformat, utcnow

if TYPE_CHECKING:
    from runner.notify.model import Connector


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    notify = commands.add_parser(
        "notify",
        help="connectors, rule actions and the notification outbox",
        description="Connectors and actions are read from action_connectors/ and actions/ "
        "beside the rules directory (notify.connectors / notify.actions to change).",
        parents=[parent],
    )
    sub = notify.add_subparsers(dest="notify_command", required=True, metavar="SUBCOMMAND")
    listing = sub.add_parser("list", help="connectors and actions, and any errors in them",
                             parents=[parent])  # fmt: skip
    listing.set_defaults(func=cmd_list)
    test = sub.add_parser("test", help="send a sample notification through a connector",
                          parents=[parent])  # fmt: skip
    test.add_argument("--connector", required=True, metavar="NAME", help="connector id or name")
    test.add_argument("--kind", choices=("alert", "summary"), default="alert")
    test.set_defaults(func=cmd_test)
    status = sub.add_parser("status", help="outbox counts and recent failures", parents=[parent])
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    deliver = sub.add_parser("deliver", help="deliver what is due now, then exit",
                             parents=[parent])  # fmt: skip
    deliver.set_defaults(func=cmd_deliver)
    retry = sub.add_parser("retry", help="requeue notifications a receiver refused",
                           parents=[parent])  # fmt: skip
    retry.add_argument("--connector", metavar="ID", help="only this connector's")
    retry.set_defaults(func=cmd_retry)


def _secret_sources(connector: Connector) -> str:
    from runner.notify.secrets import default_env

    named = [f"{k} ({w.describe()})" for k, w in sorted(connector.secrets.items())]
    return ", ".join(named) or f"from {default_env(connector.id, '<KEY>')}"


def cmd_list(args: argparse.Namespace, app: App) -> int:
    notes = app.notifications()
    config = notes.config
    table(("connector", "type", "name", "secrets", "file"),
          [(c.id, c.type, shorten(c.name, 30), shorten(_secret_sources(c), 50), c.source)
           for c in config.connectors.values()], empty="no connectors")  # fmt: skip
    print()
    rows = []
    for a in config.actions:
        frequency = "summary" if a.summary else "per alert"
        throttle = format_duration(a.throttle) if a.throttle else "-"
        if a.throttle_fields:
            throttle += f" by {','.join(a.throttle_fields)}"
        kql = a.alerts_filter.kql if a.alerts_filter and a.alerts_filter.kql else "-"
        rows.append((",".join(a.rule_ids), a.connector_id, frequency, throttle,
                     shorten(kql, 40), "params" if a.params else "template"))  # fmt: skip
    table(("rules", "connector", "frequency", "throttle", "filter", "message"), rows,
          empty="no actions")  # fmt: skip
    for error in notes.errors:
        print(f"error: {error.message}", file=sys.stderr)
    return 1 if notes.errors else 0


def _find(app: App, name: str) -> Connector:
    connectors = app.notifications().config.connectors
    for connector in connectors.values():
        if name in (connector.id, connector.name):
            return connector
    raise UsageError(f"no connector {name!r} (known: {', '.join(sorted(connectors)) or 'none'})")


def sample_alert() -> dict[str, Any]:
    now = isoformat(utcnow())
    return {
        "@timestamp": now, "kibana.alert.uuid": "runner-notify-test",
        "kibana.alert.rule.name": "runner notify test", "kibana.alert.severity": "low",
        "kibana.alert.reason": "process event with process bash, parent process emond, "
                               "by root on mac-01 created low alert runner notify test.",
        "host": {"name": "mac-01"}, "user": {"name": "root"},
        "process": {"name": "bash", "command_line": "bash -c id",
                    "parent": {"name": "emond"}},
    }  # fmt: skip


def cmd_test(args: argparse.Namespace, app: App) -> int:
    from runner.notify.context import build_view
    from runner.notify.model import Notification
    from runner.notify.planner import _hash

    notes = app.notifications()
    connector = _find(app, args.connector)
    rules = list(app.rule_set().rules)
    if not rules:
        raise UsageError("a sample needs at least one loaded rule")
    alert = sample_alert()
    now = utcnow()
    view = build_view(rules[0], [alert], now=now, kind=args.kind)
    kind_type = notes.types[connector.type]
    params = kind_type.default_params(notes.planner.templates, args.kind, view)
    key = _hash("test", connector.id, isoformat(now))
    notification = Notification(
        id=key, connector_id=connector.id, connector_type=connector.type,
        rule_id=rules[0].rule_id, rule_name=rules[0].name, action_uuid="notify-test",
        kind=args.kind, alert_ids=(alert["kibana.alert.uuid"],), idempotency_key=key,
        params=params, queued_at=now,
    )  # fmt: skip
    try:
        ack = kind_type.sender(connector, notes.worker.options).send(notification)
    except DeliveryFailed as exc:
        print(f"not delivered: {exc}", file=sys.stderr)
        return 1
    print(f"delivered to {connector.id} ({connector.type}): {ack.detail}")
    return 0


def cmd_status(args: argparse.Namespace, app: App) -> int:
    outbox = app.notifications(app.existing_backend()).outbox
    counts = outbox.counts()
    failed = outbox.items(status="failed", limit=20)
    waiting = [i for i in outbox.items(status="pending", limit=200) if i.attempts][:20]
    if args.json:
        print(json.dumps({
            "pending": counts.pending, "retrying": counts.retrying, "failed": counts.failed,
            "sent": counts.sent, "last_error": counts.last_error,
            "last_error_connector": counts.last_error_connector,
        }))  # fmt: skip
        return 0
    print(f"{counts.pending} pending ({counts.retrying} retrying), {counts.failed} failed, "
          f"{counts.sent} sent")  # fmt: skip
    rows = [(i.status, i.notification.connector_id, shorten(i.notification.rule_name, 30),
             i.notification.kind, i.attempts,
             isoformat(i.next_attempt_at)[:19] if i.status == "pending" and i.next_attempt_at
             else "-", shorten(i.last_error, 60)) for i in [*failed, *waiting]]  # fmt: skip
    if rows:
        print()
        table(("status", "connector", "rule", "kind", "attempts", "next attempt", "error"), rows)
    return 0


def cmd_deliver(args: argparse.Namespace, app: App) -> int:
    from runner.cli.run_cmd import deliver_pending

    notes = app.notifications(app.existing_backend())
    sent, waiting = deliver_pending(notes.worker, rounds=1000)
    print(f"{sent} sent, {waiting} still pending")
    return 0


def cmd_retry(args: argparse.Namespace, app: App) -> int:
    notes = app.notifications(app.existing_backend())
    count = notes.outbox.requeue_failed(now=utcnow(), connector_id=args.connector)
    print(f"{count} notification(s) requeued")
    return 0
