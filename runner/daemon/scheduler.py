"""The daemon: one APScheduler job per rule, reloads, signals, graceful shutdown.

Threads: APScheduler's own scheduling thread; a pool of ``workers`` threads that each
supervise one execution at a time (:class:`~runner.daemon.supervisor.Supervisor`), the
execution itself running in a thread of its own so a hang costs its budget, not a worker;
the optional metrics HTTP server; and the main thread, which only waits for signals, polls
the rules directory under ``--watch``, and applies reloads.

Signal handlers only set flags: the main thread acts on them between short sleeps, so no
handler ever runs while a lock is held.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from runner.backends.base import Backend
from runner.cleanup import after
from runner.daemon.budget import time_budget
from runner.daemon.execution_log import BufferedLog
from runner.daemon.leases import LeaseKeeper, Leases, leased_execute
from runner.daemon.metrics import Metrics, MetricsServer
from runner.daemon.reload import DirectoryWatcher, ReloadPlan, effective_interval, plan_reload
from runner.daemon.supervisor import Execute, Supervisor, execute_rule
from runner.errors import RunnerError, UsageError
from runner.logs import get_logger
from runner.rules.loader import RuleSet
from runner.rules.model import Rule
from runner.timeutil import format_duration, utcnow

if TYPE_CHECKING:
    from runner.notify.worker import DeliveryWorker

# Kibana's task manager, enabling rules in bulk, runs the first at once and each other one at a
# random moment within min(its interval, 5 minutes) (task_scheduling.ts,
# randomlyOffsetRunTimestamp); every later run follows at whole intervals from there.
MAX_SPREAD = timedelta(minutes=5)

# The outbox's delivery worker and the seconds between rounds when it found nothing to do.
Delivery = tuple["DeliveryWorker", float]


def spread_for(interval: timedelta) -> timedelta:
    """How far into the future a rule's first run may be put: its interval, at most 5m."""
    return min(interval, MAX_SPREAD)


def first_run(now: datetime, interval: timedelta, rng: random.Random, *, first: bool) -> datetime:
    """The first rule runs now; every other one at a uniformly random offset in its spread,
    so a thousand rules with one interval start evenly over it, never all at start.

    The executor searches from the rule's persisted "covered up to", so a later first run
    after a restart misses nothing: it only searches a longer window.
    """
    if first:
        return now
    return now + timedelta(seconds=rng.uniform(0, spread_for(interval).total_seconds()))


def interval_trigger(interval: timedelta, start: datetime) -> IntervalTrigger:
    """Runs at ``start + k * interval``: no per-run jitter, the phase is the spread."""
    return IntervalTrigger(seconds=interval.total_seconds(), start_date=start, timezone=UTC)


def due_time(anchor: datetime, interval: timedelta, now: datetime) -> datetime:
    """The latest scheduled time at or before ``now`` (a coalesced run answers the latest)."""
    if now <= anchor or interval <= timedelta(0):
        return anchor
    return anchor + ((now - anchor) // interval) * interval


@dataclass(frozen=True, kw_only=True)
class DaemonOptions:
    names: tuple[str, ...] = ()  # --rule: a subset, resolved again at each reload
    interval: timedelta | None = None  # --interval: overrides every rule's interval
    workers: int = 2
    grace: timedelta = timedelta(seconds=30)
    budget: timedelta | None = None  # None: each rule's interval, clamped
    watch: bool = False
    watch_every: float = 2.0  # seconds between polls of the rules directory
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    tick: float = 0.2  # how often the main thread looks at signal flags
    # Write execution records in batches (runner.daemon.execution_log): on Elasticsearch a
    # record is otherwise a request per execution, which waits for a refresh.
    batch_records: bool = False
    # Leases (runner.daemon.leases): how long a lease lives without renewal; renewed every
    # third of it.
    lease_ttl: timedelta = timedelta(seconds=30)


class Daemon:
    def __init__(
        self,
        *,
        backend: Backend,
        load: Callable[[], RuleSet],
        watch_paths: Sequence[Path] = (),
        options: DaemonOptions | None = None,
        execute: Execute = execute_rule,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        delivery: Delivery | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.options = options or DaemonOptions()
        self.metrics = metrics or Metrics()
        self._backend = backend
        self._load = load
        self._watch_paths = tuple(watch_paths)
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.execution_log = BufferedLog(backend) if self.options.batch_records else None
        self._rules: dict[str, Rule] = {}
        self._anchors: dict[str, datetime] = {}  # rule_id -> its first scheduled run
        self.leases = leases
        self.keeper = (
            LeaseKeeper(leases, lambda: list(self.rules()), every=self.options.lease_ttl / 3,
                        metrics=self.metrics)
            if leases is not None else None
        )  # fmt: skip
        if leases is not None:
            execute = leased_execute(leases, execute, budget=self._budget_of, metrics=self.metrics,
                                     lease_ttl=self.options.lease_ttl)  # fmt: skip
        self.supervisor = Supervisor(
            backend=self.execution_log.as_backend() if self.execution_log else backend,
            interval_of=self.interval_of,
            budget=self.options.budget,
            execute=execute,
            metrics=self.metrics,
            clock=clock,
        )
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self.options.workers)},
            # coalesce + no misfire limit: however late, missed runs become one run, and its
            # catch-up windows cover the missed time.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self.server: MetricsServer | None = None
        self._stop_signal: str | None = None
        self._reload_requested = False
        self._hurry = False
        self._started = threading.Event()
        self._delivery = delivery
        self._delivery_stop = threading.Event()
        self._delivery_thread: threading.Thread | None = None

    # -- public surface ------------------------------------------------------------------
    def interval_of(self, rule: Rule) -> timedelta:
        return effective_interval(rule, self.options.interval)

    def _budget_of(self, rule: Rule) -> timedelta:
        return time_budget(self.interval_of(rule), self.options.budget)

    def rules(self) -> dict[str, Rule]:
        with self._lock:
            return dict(self._rules)

    def scheduled(self) -> dict[str, timedelta]:
        """The scheduled jobs: rule_id -> interval."""
        return {job.id: job.trigger.interval for job in self._scheduler.get_jobs()}

    def request_stop(self, why: str = "request") -> None:
        self._stop_signal = why

    def request_reload(self) -> None:
        self._reload_requested = True

    def wait_started(self, timeout: float) -> bool:
        return self._started.wait(timeout)

    def run(self, *, install_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or :meth:`request_stop`); returns the exit code."""
        # Fingerprint before loading: an edit in between triggers one reload too many, not none.
        watcher = DirectoryWatcher(self._watch_paths) if self.options.watch else None
        plan = plan_reload(
            {}, self._load(), names=self.options.names, interval=self.options.interval
        )
        if plan.unresolved:
            raise UsageError("; ".join(plan.unresolved))
        if self.options.metrics_port is not None:
            self.server = MetricsServer(
                self.metrics, host=self.options.metrics_host, port=self.options.metrics_port
            )
            try:
                self.server.start()
            except OSError as exc:
                raise RunnerError(
                    f"cannot serve metrics on {self.options.metrics_host}:"
                    f"{self.options.metrics_port}: {exc.strerror or exc}"
                ) from exc
        previous = self._install_signals() if install_signals else {}
        bridge = _bridge_scheduler_logs()

        def restore() -> None:
            logging.getLogger("apscheduler").removeHandler(bridge)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        def stop_server() -> None:
            if self.server is not None:
                self.server.stop()

        def close_log() -> None:
            if self.execution_log is not None:  # what a failed start left (logged, not raised)
                self.execution_log.close()

        def release_leases() -> None:
            if self.keeper is not None:
                self.keeper.stop()

        with after(self._stop_delivery, close_log, release_leases, restore, stop_server):
            with self._lock:
                self._rules = dict(plan.rules)
            if self.keeper is not None:  # before any job: a refused daemon schedules nothing
                self.keeper.start()
            self._apply(plan, reason="start")
            self._start_delivery()
            if self.execution_log is not None:
                self.execution_log.start()
            self._scheduler.start()
            get_logger().info(
                "daemon_started", rules=len(plan.rules), workers=self.options.workers,
                grace=format_duration(self.options.grace), backend=self._backend.name,
                interval=format_duration(self.options.interval) if self.options.interval else None,
                watch=self.options.watch,
                daemon=self.leases.name if self.leases is not None else None,
            )  # fmt: skip
            self._started.set()
            self._loop(watcher)
            return self._shutdown()

    def reload(self, reason: str) -> ReloadPlan:
        """Load the rules again and reschedule what changed."""
        try:
            loaded = self._load()
        except RunnerError as exc:  # e.g. the directory vanished: keep everything running
            get_logger().error("rules_reload_failed", reason=reason, error=str(exc))
            self.metrics.inc("runner_reloads_total", (("result", "failed"),))
            return ReloadPlan(rules=self.rules())
        plan = plan_reload(
            self.rules(), loaded, names=self.options.names, interval=self.options.interval
        )
        # A reload also re-reads the clusters' field types (KQL is compiled with them).
        refresh = getattr(self._backend, "refresh_field_types", None)
        if callable(refresh):
            refresh()
        self._apply(plan, reason=reason)
        return plan

    # -- internals -----------------------------------------------------------------------
    def _apply(self, plan: ReloadPlan, *, reason: str) -> None:
        log = get_logger()
        now = self._clock()
        with self._lock:
            self._rules = dict(plan.rules)
        for rule_id in plan.removed:
            self._scheduler.remove_job(rule_id)
            with self._lock:
                self._anchors.pop(rule_id, None)
        for position, rule_id in enumerate(plan.added):
            rule = plan.rules[rule_id]
            interval = self.interval_of(rule)
            start = first_run(now, interval, self._rng, first=position == 0 and reason == "start")
            with self._lock:
                self._anchors[rule_id] = start
            self._scheduler.add_job(
                self._fire, trigger=interval_trigger(interval, start), args=(rule_id,),
                id=rule_id, name=rule.stem, next_run_time=start,
            )  # fmt: skip
        for rule_id in plan.rescheduled:
            interval = self.interval_of(plan.rules[rule_id])
            start = first_run(now, interval, self._rng, first=False)
            with self._lock:
                self._anchors[rule_id] = start
            self._scheduler.reschedule_job(rule_id, trigger=interval_trigger(interval, start))
        kept = {error.path for error in plan.kept}
        for error in plan.errors:
            log.warning(
                "rule_not_loaded", error=error.message, path=error.path,
                previous_version_kept=error.path in kept,
            )  # fmt: skip
        for problem in plan.unresolved:
            log.warning("rule_not_found", error=problem)
        for stem in plan.disabled:
            log.warning("rule_disabled", rule=stem, detail="enabled = false: not scheduled")
        if reason != "start":
            log.info(
                "rules_reloaded", reason=reason, rules=len(plan.rules),
                added=self._stems(plan.added, plan), removed=list(plan.removed),
                changed=self._stems(plan.changed, plan),
                rescheduled=self._stems(plan.rescheduled, plan), errors=len(plan.errors),
            )  # fmt: skip
            result = "errors" if plan.errors else "ok"
            self.metrics.inc("runner_reloads_total", (("result", result),))
        if not plan.rules:
            log.warning("no_rules_scheduled", detail="no enabled rule is selected")
        self.metrics.set("runner_rules_scheduled", float(len(plan.rules)))
        self.metrics.set("runner_rule_load_errors", float(len(plan.errors)))

    @staticmethod
    def _stems(rule_ids: Sequence[str], plan: ReloadPlan) -> list[str]:
        return [plan.rules[i].stem for i in rule_ids]

    def _fire(self, rule_id: str) -> None:
        """The job function, on a scheduler worker thread."""
        with self._lock:
            rule = self._rules.get(rule_id)  # the current version, reloads included
            anchor = self._anchors.get(rule_id)
        if rule is None or self._stop_signal is not None:
            return
        if self.leases is not None and not self.leases.owns(rule_id):
            return  # another daemon runs it
        interval = self.interval_of(rule)
        if self.options.interval is not None:
            rule = replace(rule, scheduled_interval=format_duration(interval))
        due = due_time(anchor, interval, self._clock()) if anchor is not None else None
        self.supervisor.run(rule, due=due)

    def _loop(self, watcher: DirectoryWatcher | None) -> None:
        next_poll = time.monotonic() + self.options.watch_every
        while self._stop_signal is None:
            time.sleep(self.options.tick)
            if self._reload_requested:
                self._reload_requested = False
                self.reload("SIGHUP")
            elif watcher is not None and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.options.watch_every
                if watcher.changed():
                    self.reload("watch")

    def _shutdown(self) -> int:
        log = get_logger()
        running = self.supervisor.running()
        log.info(
            "daemon_stopping", signal=self._stop_signal, running=len(running),
            grace=format_duration(self.options.grace),
        )  # fmt: skip
        self._scheduler.shutdown(wait=False)  # no new runs; workers finish below
        cut = self.supervisor.stop(self.options.grace, hurry=lambda: self._hurry)
        for job in cut:
            log.warning(
                "execution_interrupted", rule=job.rule.name, rule_id=job.rule.rule_id,
                detail="cut short by shutdown; its window is searched again at the next start",
            )  # fmt: skip
        if self.execution_log is not None:  # every record, the cut ones too, before exiting
            self.execution_log.close()
        log.info("daemon_stopped", interrupted=len(cut))
        return 0

    def _start_delivery(self) -> None:
        if self._delivery is None:
            return
        self._delivery_thread = threading.Thread(
            target=self._deliver_loop, name="runner-delivery", daemon=True
        )
        self._delivery_thread.start()

    def _deliver_loop(self) -> None:
        assert self._delivery is not None
        worker, every = self._delivery
        while not self._delivery_stop.is_set():
            try:
                result = worker.run_once()
            except RunnerError as exc:  # the store or cluster is busy or down: next round
                get_logger().warning("outbox_unavailable", error=str(exc))
                self._delivery_stop.wait(every)
                continue
            if result.sent + result.retried + result.failed + result.lost == 0:
                self._delivery_stop.wait(every)

    def _stop_delivery(self) -> None:
        self._delivery_stop.set()
        if self._delivery_thread is not None:
            # A send in progress ends within its timeout; an entry cut off here stays claimed
            # until its lease expires and is delivered then.
            self._delivery_thread.join(30)

    def _install_signals(self) -> dict[int, Any]:
        def stop(signum: int, _frame: FrameType | None) -> None:
            if self._stop_signal is None:
                self._stop_signal = signal.Signals(signum).name
            else:
                self._hurry = True  # a second signal: cut running executions now

        def hup(_signum: int, _frame: FrameType | None) -> None:
            self._reload_requested = True

        previous: dict[int, Any] = {}
        for signum, handler in ((signal.SIGTERM, stop), (signal.SIGINT, stop)):
            previous[signum] = signal.signal(signum, handler)
        if hasattr(signal, "SIGHUP"):
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, hup)
        return previous


class _StructlogBridge(logging.Handler):
    """APScheduler logs through stdlib logging; send its warnings to our structured log."""

    def emit(self, record: logging.LogRecord) -> None:
        method = "error" if record.levelno >= logging.ERROR else "warning"
        getattr(get_logger("apscheduler"), method)("scheduler", detail=record.getMessage())


def _bridge_scheduler_logs() -> logging.Handler:
    handler = _StructlogBridge(level=logging.WARNING)
    logger = logging.getLogger("apscheduler")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    return handler
