"""``runner daemon``, ``runner status`` and ``runner backfill``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from runner.cli.app import App, Commands
from runner.cli.output import ProgressBar, shorten, table
from runner.errors import UsageError
from runner.timeutil import format_duration, isoformat, parse_duration, parse_time, utcnow

# The daemon, the backfill and the backends are imported by the handlers that use them.
if TYPE_CHECKING:
    from runner.backends.base import Backend
    from runner.daemon.backfill import BackfillProgress, BackfillResult
    from runner.daemon.status import RuleStatus
    from runner.execution.model import ExecutionRecord
    from runner.rules.loader import RuleSet
    from runner.rules.model import Rule


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    daemon = commands.add_parser(
        "daemon",
        help="run the enabled rules on their schedule until stopped",
        description="Run every enabled rule at its interval until SIGTERM/SIGINT. SIGHUP "
        "reloads the rules directory. Restarts resume from the persisted run state.",
        parents=[parent],
    )
    daemon.add_argument(
        "--rule",
        action="append",
        metavar="NAME",
        help="run only this rule (repeatable): file stem, rule_id or part of the name",
    )
    daemon.add_argument(
        "--interval",
        metavar="DURATION",
        help="run every rule at this interval instead of its own (drills, tests)",
    )
    daemon.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="executions in parallel (default: daemon.workers setting, 2)",
    )
    daemon.add_argument(
        "--grace",
        metavar="DURATION",
        help="on SIGTERM/SIGINT, how long running executions may finish "
        "(default: daemon.grace setting, 30s)",
    )
    daemon.add_argument(
        "--budget",
        metavar="DURATION",
        help="time budget of one execution (default: the rule's interval, "
        "at least 10s, at most 10m)",
    )
    daemon.add_argument(
        "--watch",
        action="store_true",
        help="also reload when a rule file changes (polls the rules directory)",
    )
    daemon.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port, logged)",
    )
    daemon.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address the metrics server binds (default 127.0.0.1)",
    )
    daemon.set_defaults(func=cmd_daemon, default_log_level="info")

    status = commands.add_parser(
        "status",
        help="per rule: last execution, next run, alerts in 24h, open gaps",
        parents=[parent],
    )
    status.add_argument("--rule", action="append", metavar="NAME")
    status.add_argument("--json", action="store_true", help="one JSON object per rule")
    status.set_defaults(func=cmd_status)

    backfill = commands.add_parser(
        "backfill",
        help="run a rule over a past time range (fills reported gaps)",
        description="Search a past range in windows of the rule's own length, oldest first. "
        "Safe beside a running daemon: alerts already written are not written again.",
        parents=[parent],
    )
    backfill.add_argument(
        "--rule", action="append", metavar="NAME", help="rule to backfill (repeatable)"
    )
    backfill.add_argument(
        "--from", dest="from_", metavar="TIME", help="range start: ISO 8601 or date math (now-2d)"
    )
    backfill.add_argument("--to", metavar="TIME", help="range end (default: now)")
    backfill.add_argument(
        "--gaps",
        action="store_true",
        help="backfill every open gap (of the --rule rules, or of all rules)",
    )
    backfill.add_argument("--json", action="store_true", help="one JSON summary per range")
    backfill.set_defaults(func=cmd_backfill)  # fmt: skip


def _duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    value = parse_duration(text)
    if value <= timedelta(0):
        raise UsageError(f"{option} must be positive, got {text!r}")
    return value


# -- daemon -------------------------------------------------------------------------------
def cmd_daemon(args: argparse.Namespace, app: App) -> int:
    from runner.daemon.scheduler import Daemon, DaemonOptions
    from runner.rules.loader import load_rules

    settings = app.settings
    workers = args.workers if args.workers is not None else settings.workers
    if not 1 <= workers <= 64:
        raise UsageError(f"--workers must be between 1 and 64, got {workers}")
    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"--metrics-port must be between 0 and 65535, got {port}")
    options = DaemonOptions(
        names=tuple(args.rule or ()),
        interval=_duration(args.interval, "--interval"),
        workers=workers,
        grace=_duration(args.grace, "--grace") or settings.grace,
        budget=_duration(args.budget, "--budget"),
        watch=args.watch,
        metrics_host=args.metrics_host,
        metrics_port=port,
        batch_records=settings.elasticsearch.configured,
        lease_ttl=settings.lease_ttl,
    )
    from runner.daemon.metrics import Metrics
    from runner.exceptions.live import LiveExceptions
    from runner.execution.executor import Executor
    from runner.notify.service import folders, load_config

    rules_dir = app.rules_dir()
    backend = app.backend()
    leases = app.leases()
    metrics = Metrics(labels=(("daemon", leases.name),))
    notes = app.notifications(backend, metrics)
    started = [False]
    exceptions = LiveExceptions(app.exceptions_dir())

    def load() -> RuleSet:
        # A vanished directory (a deploy swapping it) must not read as "every rule removed".
        if not rules_dir.exists():
            raise UsageError(f"rules directory not found: {rules_dir}")
        rules = load_rules([rules_dir])
        exceptions.reload()  # exception lists change with the rules (SIGHUP, --watch)
        if started[0]:  # a reload (SIGHUP, --watch): connectors and actions too
            notes.replace_config(load_config(app.settings, rules_dir, notes.types))
        started[0] = True
        return rules

    def execute(target: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        # Rules without actions get no notify hook (see Executor._notify_hook).
        return Executor(
            backend=target, notifier=notes.planner, exceptions=exceptions, value_lists=target
        ).run(rule, now)

    daemon = Daemon(
        backend=backend,
        load=load,
        watch_paths=[rules_dir, exceptions.directory, *folders(app.settings, rules_dir)],
        options=options,
        execute=execute,
        metrics=metrics,
        delivery=(notes.worker, app.settings.notify.interval.total_seconds()),
        leases=leases,
    )
    code = daemon.run()
    if daemon.supervisor.stuck():
        # Abandoned executions may sit inside a native search call; letting the interpreter
        # tear down under them can crash. Their writes are fenced off, so leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


# -- status -------------------------------------------------------------------------------
@contextmanager
def _status_backend(app: App) -> Iterator[Backend]:
    """Before any store exists every rule simply has not run: read an empty throwaway store
    rather than creating the file."""
    from runner.backends.embedded import EmbeddedBackend
    from runner.embedded.store import Store

    if app.settings.elasticsearch.configured or app.settings.store.exists():
        yield app.backend()
        return
    with tempfile.TemporaryDirectory(prefix="runner-status-") as tmp:
        yield EmbeddedBackend(Store(Path(tmp) / "empty.duckdb"))


def cmd_status(args: argparse.Namespace, app: App) -> int:
    from runner.daemon.status import collect_status

    rules = app.select(args.rule) if args.rule else list(app.rule_set().rules)
    now = utcnow()
    with _status_backend(app) as backend:
        owners = app.leases(name="status").owners([rule.rule_id for rule in rules])
        statuses = collect_status(sorted(rules, key=lambda r: r.stem), backend, now, owners=owners)
        counts = app.notifications(backend).outbox.counts()
    if args.json:
        for item in statuses:
            print(json.dumps(item.as_json()))
        return 0
    print_status(statuses, now, sys.stdout)
    if counts.pending or counts.failed or counts.sent:
        print(f"\nnotifications: {counts.pending} pending ({counts.retrying} retrying), "
              f"{counts.failed} failed, {counts.sent} sent")  # fmt: skip
        if counts.last_error:
            print(f"  last delivery error ({counts.last_error_connector}): "
                  f"{shorten(counts.last_error, 100)}")  # fmt: skip
        if counts.failed:
            print("  `runner notify status` lists them; `runner notify retry` requeues them")
    return 0


def print_status(statuses: list[RuleStatus], now: Any, out: TextIO) -> None:
    from runner.daemon.status import backfill_command

    rows = []
    for s in statuses:
        last = s.last
        next_run = _clock(s.next_run) if s.next_run else "-"
        if s.overdue(now):
            next_run += " (overdue)"
        rows.append((
            s.stem, "yes" if s.enabled else "no", format_duration(s.interval),
            _clock(last.started_at) if last else "never", last.status if last else "-",
            next_run, s.owner or "-", s.alerts_24h,
            f"{len(s.gaps)} ({format_duration(timedelta(seconds=round(s.gap_seconds)))})"
            if s.gaps else "-",
            shorten(last.message, 60) if last else "",
        ))  # fmt: skip
    table(("rule", "enabled", "interval", "last run", "status", "next run", "owner", "alerts 24h",
           "gaps", "message"), rows, out=out, empty="no rules loaded")  # fmt: skip
    for s in statuses:
        if s.overlaps:
            out.write(f"\n{s.stem}: {s.overlaps} window(s) executed by two processes (overlaps; "
                      "deterministic alert ids kept the alerts identical)\n")  # fmt: skip
    gapped = [(s, g) for s in statuses for g in s.gaps]
    if gapped:
        out.write("\nopen gaps (time not searched; backfill to search it):\n")
        for s, gap in gapped:
            out.write(f"  {s.stem}: {isoformat(gap.start)} .. {isoformat(gap.end)}\n")
            out.write(f"    {backfill_command(s, gap)}\n")


def _clock(value: Any) -> str:
    return isoformat(value)[:19].replace("T", " ") if value is not None else "-"


# -- backfill -----------------------------------------------------------------------------
def cmd_backfill(args: argparse.Namespace, app: App) -> int:
    from runner.daemon.backfill import gap_ranges, run_backfill
    from runner.daemon.leases import default_daemon_name
    from runner.exceptions.stage import ExceptionCatalog

    now = utcnow()
    backend = app.backend()
    leases = app.leases(name=f"backfill:{default_daemon_name()}")
    if args.gaps:
        if args.from_ or args.to:
            raise UsageError("--gaps takes the ranges from the open gaps: drop --from/--to")
        rules = app.select(args.rule, all_rules=True)
        jobs = [(rule, start, end) for rule in rules for start, end in gap_ranges(backend, rule)]
        if not jobs:
            print("no open gaps")
            return 0
    else:
        if not args.rule or not args.from_:
            raise UsageError("backfill needs --rule NAME and --from TIME (or --gaps)")
        start = parse_time(args.from_, now)
        end = parse_time(args.to, now) if args.to else now
        if end > now:
            raise UsageError(f"--to {isoformat(end)} is in the future")
        jobs = [(rule, start, end) for rule in app.select(args.rule)]
    results: list[BackfillResult] = []
    for rule, start, end in jobs:
        bar = ProgressBar(rule.stem) if not args.json else None

        def progress(update: BackfillProgress, bar: ProgressBar | None = bar) -> None:
            if bar is not None:
                bar.update(
                    update.done / max(update.total, 1),
                    f"{update.done}/{update.total} windows, {update.alerts_created} alert(s)",
                )

        try:
            result = run_backfill(
                rule,
                start,
                end,
                backend=backend,
                progress=progress,
                exceptions=ExceptionCatalog.from_set(app.exception_set()),
                leases=leases,
            )
        finally:
            if bar is not None:
                bar.close()
        results.append(result)
        if args.json:
            print(json.dumps(_result_json(result)))
        else:
            _print_result(result)
        if result.interrupted:
            return 130
    return 1 if any(r.failed for r in results) else 0


def _print_result(result: BackfillResult) -> None:
    ok = len(result.records) - len(result.failed)
    print(
        f"{result.rule.stem}: {isoformat(result.start)} .. {isoformat(result.end)}: "
        f"{len(result.records)}/{result.planned} window(s), {ok} succeeded, "
        f"{len(result.failed)} failed; {result.alerts_created} alert(s) created, "
        f"{result.duplicates} duplicate(s) skipped"
        + (f", {result.capped} window(s) hit max_signals" if result.capped else "")
    )
    for gap in result.gaps_closed:
        print(f"  gap filled: {isoformat(gap.start)} .. {isoformat(gap.end)}")
    for gap in result.gaps_open:
        print(f"  gap still open: {isoformat(gap.start)} .. {isoformat(gap.end)}")
    for record in result.failed[:3]:
        print(f"  failed {_clock(record.window_start)}..{_clock(record.window_end)}: "
              f"{shorten(record.message, 100)}")  # fmt: skip
    if result.interrupted:
        print("  interrupted: the rest of the range was not searched")


def _result_json(result: BackfillResult) -> dict[str, Any]:
    def gaps(items: tuple[Any, ...]) -> list[dict[str, str]]:
        return [{"from": isoformat(g.start), "to": isoformat(g.end)} for g in items]

    return {
        "rule_id": result.rule.rule_id,
        "rule_name": result.rule.name,
        "from": isoformat(result.start),
        "to": isoformat(result.end),
        "windows": len(result.records),
        "planned": result.planned,
        "failed": len(result.failed),
        "alerts_created": result.alerts_created,
        "duplicates": result.duplicates,
        "covered_to": isoformat(result.covered_to) if result.covered_to else None,
        "gaps_closed": gaps(result.gaps_closed),
        "gaps_open": gaps(result.gaps_open),
        "interrupted": result.interrupted,
    }
