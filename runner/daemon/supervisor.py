"""One rule execution under supervision: its own thread, a time budget, a clean shutdown.

The scheduler's worker calls :meth:`Supervisor.run`, which starts the execution in a fresh
daemon thread and waits at most the budget.  An execution that overruns is abandoned (its
fence closed, see :mod:`runner.daemon.budget`), recorded as failed, and the worker moves on:
a hanging rule never holds a worker slot past its budget.  An execution that raises is
recorded as failed too; its state does not advance, so its window is searched again.

On shutdown, :meth:`Supervisor.stop` refuses new executions, waits for the running ones up
to the grace period, and records what it cut short.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from runner.backends.base import Backend
from runner.daemon.budget import AbandonedExecutionError, Fence, FencedBackend, time_budget
from runner.daemon.metrics import Metrics, rule_labels
from runner.errors import RunnerError
from runner.execution.executor import Executor
from runner.execution.model import ExecutionRecord, Status, Window
from runner.logs import get_logger
from runner.rules.model import Rule
from runner.timeutil import format_duration, isoformat, parse_datemath, utcnow

# Runs every window due for ``rule`` at ``now`` through ``backend``.
Execute = Callable[[Backend, Rule, datetime], list[ExecutionRecord]]

_SEVERITY = {"succeeded": 0, "partial failure": 1, "failed": 2}
# Longest wait for another thread's record of an abandonment (a busy store retries ~5s).
_REPORT_WAIT = 10.0


def execute_rule(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
    return Executor(backend=backend).run(rule, now)


@dataclass(kw_only=True, eq=False)
class Inflight:
    """One running execution."""

    rule: Rule
    now: datetime
    budget: timedelta
    due: datetime | None = None  # when the schedule wanted it to start
    fence: Fence = field(default_factory=Fence)
    records: list[ExecutionRecord] = field(default_factory=list)
    thread: threading.Thread | None = None
    finished: threading.Event = field(default_factory=threading.Event)  # the thread ended
    reported: threading.Event = field(default_factory=threading.Event)  # abandonment recorded

    @property
    def main_window(self) -> Window:
        return Window(start=parse_datemath(self.rule.from_, self.now), end=self.now)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSummary:
    """What one scheduled run did (one log line)."""

    rule_id: str
    status: Status
    outcome: str  # completed | abandoned | skipped | refused
    records: tuple[ExecutionRecord, ...] = ()


class Supervisor:
    def __init__(
        self,
        *,
        backend: Backend,
        interval_of: Callable[[Rule], timedelta],
        budget: timedelta | None = None,
        execute: Execute = execute_rule,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._backend = backend
        self._interval_of = interval_of
        self._budget = budget
        self._execute = execute
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._lock = threading.Lock()
        self._running: set[Inflight] = set()
        self._stuck: dict[str, Inflight] = {}  # abandoned, thread still alive
        # rule_id -> whether it had open gaps when last looked at (absent: not looked yet).
        self._gapped: dict[str, bool] = {}
        self._stopping = threading.Event()

    # -- one scheduled run ---------------------------------------------------------------
    def run(self, rule: Rule, *, due: datetime | None = None) -> RunSummary:
        """Execute ``rule`` now, waiting at most its budget.  Called on a scheduler worker;
        ``due`` is the scheduled time this run answers (its lateness is logged)."""
        if self._stopping.is_set():
            return RunSummary(rule_id=rule.rule_id, status="failed", outcome="refused")
        stuck = self._stuck_execution(rule.rule_id)
        if stuck is not None:
            return self._skip_stuck(rule, stuck)
        budget = time_budget(self._interval_of(rule), self._budget)
        job = Inflight(rule=rule, now=self._clock(), budget=budget, due=due)
        thread = threading.Thread(
            target=self._body, args=(job,), name=f"rule:{rule.stem}", daemon=True
        )
        job.thread = thread
        with self._lock:
            self._running.add(job)
        self._update_gauges()
        started = time.monotonic()
        get_logger().debug("rule_execution_started", rule=rule.name, rule_id=rule.rule_id,
                           now=isoformat(job.now), budget=format_duration(budget))  # fmt: skip
        thread.start()
        try:
            if not job.fence.done.wait(budget.total_seconds()):
                reason = f"time budget exceeded ({format_duration(budget)})"
                self.abandon(job, reason)
            job.fence.done.wait()
            if job.fence.settled == "completed":
                job.finished.wait()  # the thread is past its last write; only returning remains
            else:
                job.reported.wait(_REPORT_WAIT)  # shutdown may be writing the record now
        finally:
            with self._lock:
                self._running.discard(job)
            self._update_gauges()
        return self._summarize(job, time.monotonic() - started)

    def _body(self, job: Inflight) -> None:
        backend = FencedBackend(self._backend, job.fence)
        records: list[ExecutionRecord] | None = None
        try:
            records = self._execute(backend, job.rule, job.now)
        except AbandonedExecutionError:
            pass  # the daemon already recorded why
        except Exception as exc:  # noqa: BLE001 - a rule's bug must not take the daemon down
            records = [self._record_crash(job, backend, exc)]
        finally:
            # Results count only if the execution was not abandoned meanwhile.
            if job.fence.complete() and records is not None:
                job.records = records
            job.finished.set()

    def _record_crash(
        self, job: Inflight, backend: FencedBackend, exc: Exception
    ) -> ExecutionRecord:
        if isinstance(exc, RunnerError):
            message = str(exc)
        else:
            message = f"execution raised {type(exc).__name__}: {exc}"
            get_logger().error(
                "rule_execution_crashed", rule=job.rule.name, rule_id=job.rule.rule_id,
                exc_info=exc,
            )  # fmt: skip
        record = self._failure(job, message)
        try:
            backend.record_execution(record)
        except AbandonedExecutionError:
            pass
        except RunnerError as error:
            get_logger().error("execution_not_recorded", rule=job.rule.name, error=str(error))
        return record

    # -- abandoning ----------------------------------------------------------------------
    def abandon(self, job: Inflight, reason: str) -> bool:
        """Give up on ``job``: its later writes are refused and a failed record says why."""
        if not job.fence.abandon(reason):
            return False  # it completed first
        record = self._failure(
            job, f"{reason}; execution abandoned, the window will be searched again"
        )
        job.records = [record]
        self._write_record(record)
        with self._lock:
            if job.thread is not None and job.thread.is_alive():
                self._stuck[job.rule.rule_id] = job
        job.reported.set()
        return True

    def _stuck_execution(self, rule_id: str) -> Inflight | None:
        with self._lock:
            job = self._stuck.get(rule_id)
            if job is not None and not job.finished.is_set():
                return job
            self._stuck.pop(rule_id, None)
            return None

    def _skip_stuck(self, rule: Rule, stuck: Inflight) -> RunSummary:
        # Starting another would pile up threads behind the same hang; say so every interval.
        job = Inflight(rule=rule, now=self._clock(), budget=stuck.budget)
        message = (
            f"skipped: the execution started at {isoformat(stuck.now)} was abandoned "
            f"({stuck.fence.reason}) and is still running"
        )
        record = self._failure(job, message)
        self._write_record(record)
        return self._summarize_records(rule.rule_id, "skipped", [record], 0.0)

    def _write_record(self, record: ExecutionRecord) -> None:
        try:
            self._backend.record_execution(record)
        except RunnerError as error:
            get_logger().error("execution_not_recorded", rule=record.rule_name, error=str(error))

    def _failure(self, job: Inflight, message: str) -> ExecutionRecord:
        window = job.main_window
        return ExecutionRecord(
            execution_id=str(uuid.uuid4()),
            rule_id=job.rule.rule_id,
            rule_name=job.rule.name,
            started_at=job.now,
            ended_at=self._clock(),
            window_start=window.start,
            window_end=window.end,
            status="failed",
            message=message,
            backend=self._backend.name,
        )

    # -- shutdown ------------------------------------------------------------------------
    def stop(self, grace: timedelta, hurry: Callable[[], bool] = lambda: False) -> list[Inflight]:
        """Refuse new executions; wait up to ``grace`` (or until ``hurry()``); abandon the
        rest (returned)."""
        self._stopping.set()
        deadline = time.monotonic() + grace.total_seconds()
        while self.running() and time.monotonic() < deadline and not hurry():
            time.sleep(0.05)
        cut: list[Inflight] = []
        for job in self.running():
            reason = f"interrupted by shutdown (grace period {format_duration(grace)} elapsed)"
            if self.abandon(job, reason):
                cut.append(job)
        return cut

    def running(self) -> list[Inflight]:
        with self._lock:
            return [job for job in self._running if job.fence.settled is None]

    def stuck(self) -> list[Inflight]:
        with self._lock:
            return [job for job in self._stuck.values() if not job.finished.is_set()]

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- reporting -----------------------------------------------------------------------
    def _summarize(self, job: Inflight, seconds: float) -> RunSummary:
        outcome = job.fence.settled or "completed"
        return self._summarize_records(
            job.rule.rule_id, outcome, job.records, seconds, due=job.due, started=job.now
        )

    def _summarize_records(
        self,
        rule_id: str,
        outcome: str,
        records: list[ExecutionRecord],
        seconds: float,
        *,
        due: datetime | None = None,
        started: datetime | None = None,
    ) -> RunSummary:
        status: Status = (
            max((r.status for r in records), key=lambda s: _SEVERITY[s]) if records else "failed"
        )
        for record in records:
            self._metrics.observe(record)
        self._refresh_gaps(records)
        windows = [r for r in records if r.window_start is not None and r.gap_seconds is None]
        first, last = (windows[0], windows[-1]) if windows else (None, None)
        name = records[0].rule_name if records else rule_id
        log = get_logger().bind(rule=name, rule_id=rule_id)
        fields = {
            "status": status,
            "outcome": outcome,
            "windows": len(windows),
            "catch_up_windows": sum(1 for r in windows if r.catch_up),
            "window_from": isoformat(first.window_start) if first and first.window_start else None,
            "window_to": isoformat(last.window_end) if last and last.window_end else None,
            "candidates": sum(r.candidates for r in records),
            "alerts_created": sum(r.alerts_created for r in records),
            "duplicates": sum(r.duplicates for r in records),
            "gap_seconds": sum(r.gap_seconds or 0.0 for r in records),
            "search_ms": sum(r.search_ms for r in records),
            "index_ms": sum(r.index_ms for r in records),
            "duration_ms": int(seconds * 1000),
            # Start of the execution after its scheduled time (workers busy, machine slow).
            "scheduled_at": isoformat(due) if due is not None else None,
            "lateness_ms": (
                max(int((started - due).total_seconds() * 1000), 0)
                if due is not None and started is not None
                else None
            ),
            "message": next((r.message for r in reversed(records) if r.status != "succeeded"), ""),
        }
        (log.warning if status == "failed" else log.info)("rule_executed", **fields)
        return RunSummary(rule_id=rule_id, status=status, outcome=outcome, records=tuple(records))

    def _refresh_gaps(self, records: list[ExecutionRecord]) -> None:
        """Keep ``runner_open_gap_seconds`` current with one search per rule only when it can
        have changed: at the rule's first run here, after a run that reported a gap, and while
        gaps are open (a backfill elsewhere may close them). Only executions open gaps, so a
        rule without any costs no search per run (a round trip on Elasticsearch)."""
        if not records:
            return
        rule_id, name = records[0].rule_id, records[0].rule_name
        reported = any(r.gap_seconds for r in records)
        with self._lock:
            known_clear = self._gapped.get(rule_id) is False
        if known_clear and not reported:
            return
        try:
            gaps = self._backend.open_gaps(rule_id)
        except RunnerError:
            return  # a metric is not worth failing over; the next run refreshes it
        with self._lock:
            self._gapped[rule_id] = bool(gaps)
        self._metrics.set(
            "runner_open_gap_seconds", sum(g.seconds for g in gaps), rule_labels(rule_id, name)
        )

    def _update_gauges(self) -> None:
        self._metrics.set("runner_executions_running", float(len(self.running())))
        self._metrics.set("runner_executions_abandoned_running", float(len(self.stuck())))
