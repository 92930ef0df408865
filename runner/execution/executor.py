"""Run one rule: plan windows, search each, dedupe, cap, write, record, advance state.

Written once above :class:`~runner.backends.base.Backend`, so the embedded store and
Elasticsearch execute rules identically.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.backends.base import Backend
from runner.errors import BackendError, QueryError, RunnerError, StoreError
from runner.exceptions.stage import NO_EXCEPTIONS, AppliedExceptions, RuleExceptions, prepare
from runner.execution.candidates import AlertStamp, Candidate, CandidateBatch
from runner.execution.model import (
    MAX_SIGNALS_WARNING,
    ExecutionRecord,
    Gap,
    RuleState,
    Status,
    Window,
)
from runner.execution.windows import plan_windows
from runner.lists.model import ValueListSource
from runner.logs import get_logger
from runner.rules.model import Rule
from runner.suppression.stage import write_suppressed
from runner.timeutil import format_duration, isoformat, utcnow

if TYPE_CHECKING:
    from runner.notify.model import Notification, NotifyHook
    from runner.notify.planner import Planner

_SEVERITY = {"succeeded": 0, "partial failure": 1, "failed": 2}


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowOutcome:
    record: ExecutionRecord
    advanced: bool  # the window counts as covered


@dataclass(kw_only=True)
class Executor:
    backend: Backend
    clock: Callable[[], datetime] = field(default=utcnow)
    notifier: Planner | None = None  # queues the rule actions' notifications with the alerts
    # The exceptions stage: which lists each rule uses, and where `list` entries find values.
    exceptions: RuleExceptions | None = None
    value_lists: ValueListSource | None = None

    def run(
        self, rule: Rule, now: datetime | None = None, *, manual: bool = False
    ) -> list[ExecutionRecord]:
        """Every window due at ``now`` (default: the clock), oldest first.

        ``manual`` marks a replay at a chosen time: its alerts carry that time as
        ``kibana.alert.intended_timestamp`` (their ``@timestamp`` is always the wall clock)."""
        now = now or self.clock()
        state = self.backend.load_state(rule.rule_id)
        plan = plan_windows(rule, now, state)
        records: list[ExecutionRecord] = []
        if plan.gap is not None:
            records.append(self._report_gap(rule, plan.gap, now))
        # Before its first window nothing is owed: a failed first window is then caught up.
        covered_to = state.covered_to if state and state.covered_to else plan.windows[0].start
        for window in plan.windows:
            outcome = self.run_window(rule, window, now, manual=manual)
            records.append(outcome.record)
            if not outcome.advanced:
                break  # later windows would move covered_to past the failed one
            covered_to = max(covered_to, window.end)
        worst = max(records, key=lambda r: _SEVERITY[r.status])
        self.backend.save_state(
            RuleState(
                rule_id=rule.rule_id,
                last_start=now,
                covered_to=covered_to,
                last_status=worst.status,
                last_message=worst.message,
            )
        )
        return records

    def run_window(
        self, rule: Rule, window: Window, now: datetime, *, manual: bool = True
    ) -> WindowOutcome:
        """Search one window and write its alerts; records the execution.  A window run on
        its own (a backfill) is a manual run standing in for ``now``."""
        started = self.clock()
        stamp = AlertStamp(
            created=started, intended=now if manual else None, execution_id=str(uuid.uuid4())
        )
        log = get_logger().bind(rule=rule.name, rule_id=rule.rule_id)
        t0 = time.perf_counter()
        duplicates = 0

        try:
            applied = self._exceptions(rule, now)
        except (BackendError, StoreError) as exc:
            return self._finish(
                rule, window, started, t0, status="failed",
                message=f"reading value lists: {exc}", execution_id=stamp.execution_id,
            )  # fmt: skip

        def fresh(found: list[Candidate]) -> list[Candidate]:
            nonlocal duplicates
            if applied.post_items:
                found = [c for c in found if not _post_excluded(c, applied)]
            existing = self.backend.existing_alert_ids([c.id for c in found])
            duplicates += sum(1 for c in found if c.id in existing)
            return [c for c in found if c.id not in existing]

        try:
            batch = self._candidates(applied.apply(rule), window, stamp, fresh)
        except (BackendError, StoreError, QueryError) as exc:
            return self._finish(
                rule,
                window,
                started,
                t0,
                status="failed",
                message=str(exc),
                execution_id=stamp.execution_id,
            )
        search_ms = _ms_since(t0)
        if rule.alert_suppression is not None:
            return self._finish_suppressed(
                rule, window, now, started, t0, stamp, batch, applied, search_ms, duplicates
            )
        capped = batch.more or len(batch.candidates) > rule.max_signals
        chosen = batch.candidates[: rule.max_signals]
        t1 = time.perf_counter()
        documents = [d for c in chosen for d in c.documents]
        if not documents and self.notifier is not None:
            try:
                self.notifier.plan_idle(rule, now=self.clock())
            except RunnerError as exc:  # the outbox is unreachable: the next run tries again
                log.warning("notification_not_queued", error=str(exc))
        try:
            outcome = self.backend.write_alerts(documents, self._notify_hook(rule, documents))
        except RunnerError as exc:
            return self._finish(
                rule, window, started, t0, status="failed", message=f"writing alerts: {exc}",
                execution_id=stamp.execution_id,
                search_ms=search_ms, index_ms=_ms_since(t1), candidates=len(chosen) + duplicates,
                duplicates=duplicates,
            )  # fmt: skip
        created_ids = set(outcome.created)
        created = sum(1 for c in chosen if c.id in created_ids)
        duplicates += sum(1 for c in chosen if c.id in set(outcome.duplicates))
        warnings = [*_unprocessed(applied, batch), *([MAX_SIGNALS_WARNING] if capped else [])]
        if batch.partial_reason:
            warnings.append(f"Partial results: {batch.partial_reason}")
        warnings += _exception_warnings(applied)
        warnings += batch.warnings
        status: Status = "partial failure" if warnings else "succeeded"
        message = " ".join(warnings)
        if outcome.failed:
            status = "failed"
            first_id, reason = outcome.failed[0]
            message = (
                f"{len(outcome.failed)} alert(s) could not be written (first: {first_id}: "
                f"{reason}); the window will be searched again"
            )
        record_kwargs: dict[str, Any] = {
            "search_ms": search_ms,
            "index_ms": _ms_since(t1),
            "candidates": len(batch.candidates) + duplicates,
            "alerts_created": created,
            "duplicates": duplicates,
            "capped": capped,
        }
        # Partial results: what came back is written (dedupe makes a second look safe), but
        # the window is not covered, so the next execution searches it again.
        result = self._finish(rule, window, started, t0, status=status, message=message,
                              execution_id=stamp.execution_id,
                              advance=not batch.partial_reason,
                              **record_kwargs)  # fmt: skip
        # Debug: the daemon logs one info line per execution; `once` prints a summary.
        log.debug(
            "rule_window_executed",
            status=status,
            window_from=isoformat(window.start),
            window_to=isoformat(window.end),
            **record_kwargs,
        )
        return result

    def _notify_hook(self, rule: Rule, documents: list[dict[str, Any]]) -> NotifyHook | None:
        notifier = self.notifier
        if notifier is None or not notifier.config.actions_for(rule.rule_id):
            return None

        def hook(created_ids: Sequence[str]) -> Sequence[Notification]:
            created = set(created_ids)
            fresh = [d for d in documents if d.get("kibana.alert.uuid") in created]
            return notifier.plan(rule, fresh, now=self.clock())

        return hook

    def _finish_suppressed(
        self,
        rule: Rule,
        window: Window,
        now: datetime,
        started: datetime,
        t0: float,
        stamp: AlertStamp,
        batch: CandidateBatch,
        applied: AppliedExceptions,
        search_ms: int,
        duplicates: int,
    ) -> WindowOutcome:
        """Write through the suppression stage: one alert per group, created or updated."""
        t1 = time.perf_counter()
        try:
            written = write_suppressed(
                self.backend, rule, batch.candidates, window=window, now=now,
                execution_id=stamp.execution_id or "",
                hook_for=lambda documents: self._notify_hook(rule, documents),
            )  # fmt: skip
        except RunnerError as exc:
            return self._finish(
                rule, window, started, t0, status="failed", message=f"writing alerts: {exc}",
                execution_id=stamp.execution_id, search_ms=search_ms, index_ms=_ms_since(t1),
                candidates=len(batch.candidates) + duplicates, duplicates=duplicates,
            )  # fmt: skip
        warnings = [*_unprocessed(applied, batch), *(w for w in (written.warning,) if w)]
        if batch.partial_reason:
            warnings.append(f"Partial results: {batch.partial_reason}")
        warnings += _exception_warnings(applied)
        status: Status = "partial failure" if warnings else "succeeded"
        message = " ".join(warnings)
        if written.failed:
            status = "failed"
            first_id, reason = written.failed[0]
            message = (
                f"{len(written.failed)} alert(s) could not be written (first: {first_id}: "
                f"{reason}); the window will be searched again"
            )
        return self._finish(
            rule, window, started, t0, status=status, message=message,
            execution_id=stamp.execution_id, search_ms=search_ms, index_ms=_ms_since(t1),
            candidates=len(batch.candidates) + duplicates, alerts_created=written.created,
            duplicates=duplicates + written.duplicates, capped=written.truncated,
            suppressed=written.suppressed, updated=written.updated,
        )  # fmt: skip

    def _exceptions(self, rule: Rule, now: datetime) -> AppliedExceptions:
        """Items active at the execution's (logical) time, checked at every execution."""
        if self.exceptions is None:
            return NO_EXCEPTIONS
        from runner.ruletypes import kind_of  # the rule types import this package

        lists = self.exceptions.lists_for(rule)
        applied = prepare(lists, now, self.value_lists) if lists else NO_EXCEPTIONS
        if not getattr(kind_of(rule), "post_filters_value_lists", True):
            applied = applied.without_post_filter()
        return applied

    def _candidates(
        self,
        rule: Rule,
        window: Window,
        stamp: AlertStamp,
        fresh: Callable[[list[Candidate]], list[Candidate]],
    ) -> CandidateBatch:
        from runner.ruletypes import kind_of  # the rule types import this package

        return kind_of(rule).candidates(self.backend, rule, window, stamp, fresh)

    def _finish(
        self,
        rule: Rule,
        window: Window,
        started: datetime,
        t0: float,
        *,
        status: Status,
        message: str,
        execution_id: str | None = None,
        advance: bool = True,
        **metrics: Any,
    ) -> WindowOutcome:
        metrics.setdefault("search_ms", _ms_since(t0))
        extra: dict[str, Any] = {"interval": rule.scheduled_interval or rule.interval}
        for key in ("suppressed", "updated"):  # suppression counts (not record columns)
            if key in metrics:
                extra[key] = metrics.pop(key)
        record = ExecutionRecord(
            execution_id=execution_id or str(uuid.uuid4()),
            rule_id=rule.rule_id,
            rule_name=rule.name,
            started_at=started,
            ended_at=self.clock(),
            window_start=window.start,
            window_end=window.end,
            status=status,
            message=message,
            catch_up=window.catch_up,
            backend=self.backend.name,
            extra=extra,  # the interval is for `runner status`
            **metrics,
        )
        if status == "failed":
            get_logger().error(
                "rule_window_failed", rule=rule.name, rule_id=rule.rule_id, error=message
            )
        self.backend.record_execution(record)
        return WindowOutcome(record=record, advanced=advance and status != "failed")

    def _report_gap(self, rule: Rule, gap: Gap, now: datetime) -> ExecutionRecord:
        self.backend.record_gap(gap)
        message = (
            f"{format_duration(gap.end - gap.start)} ({int(gap.seconds * 1000)}ms) were not "
            f"queried between this rule execution and the last execution, so signals may have "
            f"been missed: {isoformat(gap.start)} to {isoformat(gap.end)}. Run `runner backfill "
            f"--rule {rule.stem} --from {isoformat(gap.start)} --to {isoformat(gap.end)}` "
            "to search it."
        )
        record = ExecutionRecord(
            execution_id=str(uuid.uuid4()),
            rule_id=rule.rule_id,
            rule_name=rule.name,
            started_at=now,
            ended_at=now,
            window_start=gap.start,
            window_end=gap.end,
            status="failed",
            message=message,
            gap_seconds=gap.seconds,
            backend=self.backend.name,
            extra={"interval": rule.scheduled_interval or rule.interval},
        )
        get_logger().error("rule_gap", rule=rule.name, rule_id=rule.rule_id, error=message)
        self.backend.record_execution(record)
        return record


def _exception_warnings(applied: AppliedExceptions) -> list[str]:
    """Kibana's getUnprocessedExceptionsWarnings, with where and why."""
    if not applied.problems:
        return []
    listed = "; ".join(str(p) for p in applied.problems)
    return [f"The following exceptions won't be applied to rule execution: {listed}"]


def _unprocessed(applied: AppliedExceptions, batch: CandidateBatch) -> list[str]:
    """Kibana's ES|QL executor pushes its unprocessed-exceptions warning before each request,
    ahead of the max-signals warning."""
    warning = applied.unprocessed_warning()
    return [warning] * batch.requests if warning else []


def _post_excluded(candidate: Candidate, applied: AppliedExceptions) -> bool:
    """Large value lists are checked on single-event alerts after the search (Kibana's
    filterEventsAgainstList); sequences are not filtered there."""
    single = len(candidate.documents) == 1 and len(candidate.sources) == 1
    return single and applied.excludes(candidate.sources[0])


def _ms_since(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)
