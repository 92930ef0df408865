"""``runner demo``: realistic events around now, loaded and run through every rule."""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli.app import App, Commands
from runner.cli.events_cmd import load_files
from runner.cli.run_cmd import deliver_pending, print_alerts, print_records
from runner.errors import UsageError
from runner.timeutil import isoformat, utcnow

if TYPE_CHECKING:
    from runner.execution.model import ExecutionRecord


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo",
        help="generate realistic events around now, load them, run every rule once",
        parents=[parent],
    )
    demo.add_argument("--hosts", type=int, default=6, metavar="N", help="hosts (default 6)")
    demo.add_argument("--events", type=int, default=2000, metavar="N", help="events (default 2000)")
    demo.add_argument("--seed", type=int, default=None, help="generator seed (default: random)")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace, app: App) -> int:
    from runner.demo import EventSet, GeneratorConfig

    now = utcnow()
    seed = args.seed if args.seed is not None else int(now.timestamp())
    try:
        config = GeneratorConfig(now=now, hosts=args.hosts, events=args.events, seed=seed)
        events = EventSet(config)
    except ValueError as exc:  # the generator's own check of --hosts / --events
        raise UsageError(f"demo: {exc}") from None
    manifest = events.manifest
    print(
        f"Generated {args.events} events on {args.hosts} hosts around {isoformat(now)} "
        f"(seed {seed}): {len(manifest.expected_alerts)} true positives hidden among benign "
        f"activity and {len(manifest.near_misses)} near misses."
    )
    with tempfile.TemporaryDirectory(prefix="runner-demo-") as tmp:
        path = Path(tmp) / "demo-events.ndjson"
        with path.open("w", encoding="utf-8") as out:
            events.write_ndjson(out)
        if load_files(app, [str(path)], index=None) != 0:
            return 1
    rules = [r for r in app.rule_set().rules if r.enabled]
    notes = app.notifications()
    executor = app.executor(notifier=notes.planner if notes.active else None)
    records: list[ExecutionRecord] = []
    for rule in rules:
        records += executor.run(rule, now)
    print()
    print_records(records)
    print()
    backend = app.backend()
    alerts = backend.list_alerts(
        rule_ids=[r.rule_id for r in rules], since=now - timedelta(seconds=1)
    )
    print_alerts([a for a in alerts if "kibana.alert.building_block_type" not in a], limit=50)
    if notes.active:
        sent, waiting = deliver_pending(notes.worker)
        print(f"\nnotifications: {sent} sent, {waiting} waiting in the outbox "
              "(`runner notify status`)")  # fmt: skip
    print("\nNext: `runner alerts list`, `runner alerts export`, `runner executions`, "
          "`runner rules show emond --explain`.")  # fmt: skip
    return 1 if any(r.status == "failed" for r in records) else 0
