"""The per-execution time budget, and the fence that makes an abandoned execution harmless.

Python cannot kill a thread.  So each execution runs in its own thread, against a
:class:`FencedBackend`: when the execution overruns its budget (or the daemon shuts down
before it ends) the daemon *closes the fence* and moves on.  From then on every write the
abandoned thread attempts (alerts, execution records, run state, gaps) raises
:class:`AbandonedExecutionError`, so it can never advance the rule's state behind the daemon's
back; its window is searched again by the next execution (dedupe drops anything it had
already written).

Writes and the fence share one lock, and the run-state write (the executor's last act)
settles the fence atomically: an execution either completed or was abandoned, never both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from runner.backends.base import Backend
from runner.errors import RunnerError
from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from runner.lists.model import ValueList, ValueListInfo
from runner.notify.model import NotifyHook
from runner.search import (
    AnomalyRequest,
    AnomalyResult,
    EqlRequest,
    EqlResult,
    EsqlRequest,
    EsqlResult,
    FirstSeenRequest,
    Hit,
    HitPage,
    IndicatorRequest,
    KqlRequest,
    MlJobState,
    TermDocumentsRequest,
    TermKey,
    TermsPage,
    TermsPageRequest,
    ThresholdPage,
    ThresholdRequest,
)

T = TypeVar("T")

# An execution longer than its interval is late for its next run; but short drill intervals
# (1s) must not abandon ordinary executions, and long intervals must not hide a hang for hours.
MIN_BUDGET = timedelta(seconds=10)
MAX_BUDGET = timedelta(minutes=10)
# How long closing the fence waits for a write already in progress to end.
CLOSE_WAIT = 2.0

Settlement = Literal["completed", "abandoned"]


def time_budget(interval: timedelta, override: timedelta | None = None) -> timedelta:
    """The rule's interval, clamped to [MIN_BUDGET, MAX_BUDGET]; ``override`` wins."""
    if override is not None:
        return override
    return min(max(interval, MIN_BUDGET), MAX_BUDGET)


class AbandonedExecutionError(RunnerError):
    """A write from an execution the daemon has given up on (over budget, or shutdown)."""


class Fence:
    """Decides, exactly once, whether an execution completed or was abandoned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settled: Settlement | None = None
        self._reason = ""
        self.done = threading.Event()  # set once settled either way

    @property
    def settled(self) -> Settlement | None:
        return self._settled

    @property
    def reason(self) -> str:
        return self._reason

    def guard(self, write: Callable[[], T], *, final: bool = False) -> T:
        """Run ``write`` unless abandoned; ``final`` settles the execution as completed."""
        with self._lock:
            if self._settled == "abandoned":
                raise AbandonedExecutionError(
                    f"execution abandoned ({self._reason}); write discarded"
                )
            result = write()
            if final:
                self._settle("completed")
            return result

    def complete(self) -> bool:
        """Settle as completed (an execution that never saved state); False if abandoned."""
        with self._lock:
            if self._settled is None:
                self._settle("completed")
            return self._settled == "completed"

    def abandon(self, reason: str, wait: float = CLOSE_WAIT) -> bool:
        """Settle as abandoned; False when the execution completed first.

        A write in progress is waited for at most ``wait`` seconds: a write stuck in the
        backend cannot be stopped, but every later one is refused.
        """
        acquired = self._lock.acquire(timeout=wait)
        try:
            if self._settled is not None:
                return self._settled == "abandoned"
            self._reason = reason
            self._settle("abandoned")
            return True
        finally:
            if acquired:
                self._lock.release()

    def _settle(self, how: Settlement) -> None:
        self._settled = how
        self.done.set()


class FencedBackend:
    """A :class:`Backend` whose writes go through a :class:`Fence`; reads pass through."""

    def __init__(self, backend: Backend, fence: Fence) -> None:
        self._backend = backend
        self._fence = fence
        self.name = backend.name

    # Reads: an abandoned execution may go on searching, it just cannot write the results.
    def search_eql(self, request: EqlRequest) -> EqlResult:
        return self._backend.search_eql(request)

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        return self._backend.search_kql(request)

    def query_pages(self, request: KqlRequest) -> Generator[HitPage, None, None]:
        return self._backend.query_pages(request)

    def terms_page(self, request: TermsPageRequest) -> TermsPage:
        return self._backend.terms_page(request)

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        return self._backend.first_seen(request)

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]:
        return self._backend.term_documents(request)

    def search_esql(self, request: EsqlRequest) -> EsqlResult:
        return self._backend.search_esql(request)

    def documents_by_id(self, indices: Sequence[str], ids: Sequence[str]) -> Mapping[str, Hit]:
        return self._backend.documents_by_id(indices, ids)

    def threshold_buckets(self, request: ThresholdRequest) -> ThresholdPage:
        return self._backend.threshold_buckets(request)

    def search_anomalies(self, request: AnomalyRequest) -> AnomalyResult:
        return self._backend.search_anomalies(request)

    def ml_jobs(self, job_ids: Sequence[str]) -> tuple[MlJobState, ...]:
        return self._backend.ml_jobs(job_ids)

    def indicator_pages(self, request: IndicatorRequest) -> Generator[tuple[Hit, ...], None, None]:
        return self._backend.indicator_pages(request)

    def existing_alert_ids(self, ids: Sequence[str]) -> set[str]:
        return self._backend.existing_alert_ids(ids)

    def suppression_alerts(
        self,
        rule_id: str,
        *,
        started_since: datetime | None = None,
        ended_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        return self._backend.suppression_alerts(
            rule_id, started_since=started_since, ended_since=ended_since
        )

    def update_alerts(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        self._fence.guard(lambda: self._backend.update_alerts(updates))

    def load_state(self, rule_id: str) -> RuleState | None:
        return self._backend.load_state(rule_id)

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]:
        return self._backend.open_gaps(rule_id)

    def list_alerts(
        self,
        *,
        rule_ids: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        return self._backend.list_alerts(rule_ids=rule_ids, since=since, limit=limit)

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        return self._backend.list_executions(rule_ids=rule_ids, limit=limit)

    def get_list(self, list_id: str) -> ValueList | None:
        return self._backend.get_list(list_id)

    def list_lists(self) -> list[ValueListInfo]:
        return self._backend.list_lists()

    # Writes.
    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        self._fence.guard(lambda: self._backend.put_list(info, values))

    def delete_list(self, list_id: str) -> bool:
        return self._fence.guard(lambda: self._backend.delete_list(list_id))

    def write_alerts(
        self, alerts: Sequence[Mapping[str, Any]], notify: NotifyHook | None = None
    ) -> WriteOutcome:
        return self._fence.guard(lambda: self._backend.write_alerts(alerts, notify))

    def save_state(self, state: RuleState) -> None:
        # The executor saves state last: this is the moment the execution completes.
        self._fence.guard(lambda: self._backend.save_state(state), final=True)

    def record_execution(self, record: ExecutionRecord) -> None:
        self._fence.guard(lambda: self._backend.record_execution(record))

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        self._fence.guard(lambda: self._backend.record_executions(records))

    def record_gap(self, gap: Gap) -> None:
        self._fence.guard(lambda: self._backend.record_gap(gap))

    def close_gap(self, gap: Gap, covered_to: datetime) -> None:
        self._fence.guard(lambda: self._backend.close_gap(gap, covered_to))
