"""The backend interface: the few primitives the execution core needs.

Two implementations, one module each: :mod:`runner.backends.embedded` (DuckDB file) and
:mod:`runner.backends.elasticsearch`.  The execution core (windows, catch-up, dedupe, cap,
alert building) is written once above this, and one contract test suite runs against both.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from runner.lists.model import ValueListStore
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

if TYPE_CHECKING:
    from runner.notify.model import NotifyHook


class EventSource(Protocol):
    """Searching source events."""

    def search_eql(self, request: EqlRequest) -> EqlResult: ...

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        """Matching documents, oldest first, at most ``request.size``."""
        ...

    def query_pages(self, request: KqlRequest) -> Generator[HitPage, None, None]:
        """Every matching document, oldest first, in pages of ``request.size``, over one
        consistent view: documents that arrive while paging neither appear nor shift the
        pages (a point in time on a cluster).  Close the iterator to stop early."""
        ...

    def terms_page(self, request: TermsPageRequest) -> TermsPage: ...

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        """Keys absent from the answer did not occur in the range."""
        ...

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]: ...

    def search_esql(self, request: EsqlRequest) -> EsqlResult:
        """``POST /_query``: the ES|QL answer's columns and rows."""
        ...

    def documents_by_id(self, indices: Sequence[str], ids: Sequence[str]) -> Mapping[str, Hit]:
        """Source documents by ``_id`` in ``indices`` (ES|QL alerts merge their rows into
        them, as Kibana's ``fetchSourceDocuments``); absent ids are left out."""
        ...

    def threshold_buckets(self, request: ThresholdRequest) -> ThresholdPage:
        """One page of threshold groups at or over the threshold, in composite order."""
        ...

    def indicator_pages(self, request: IndicatorRequest) -> Generator[tuple[Hit, ...], None, None]:
        """Pages of indicator documents, in a stable order; close the iterator when done
        (on a cluster it holds a point in time)."""
        ...

    def search_anomalies(self, request: AnomalyRequest) -> AnomalyResult:
        """Machine learning anomaly records (a cluster's; the embedded store has none)."""
        ...

    def ml_jobs(self, job_ids: Sequence[str]) -> tuple[MlJobState, ...]:
        """The state of these machine learning jobs and their datafeeds (unknown ids are
        left out)."""
        ...


class AlertStore(Protocol):
    """Alerts, run state, execution records and gaps."""

    def existing_alert_ids(self, ids: Sequence[str]) -> set[str]: ...

    def write_alerts(
        self, alerts: Sequence[Mapping[str, Any]], notify: NotifyHook | None = None
    ) -> WriteOutcome:
        """Insert-if-absent by ``kibana.alert.uuid``; a present id is a duplicate, not an error.

        ``notify`` gets the ids about to be created and returns the notifications to queue in
        the outbox in the same step (one transaction; one ``_bulk`` request on a cluster)."""
        ...

    def suppression_alerts(
        self,
        rule_id: str,
        *,
        started_since: datetime | None = None,
        ended_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Open (not closed) alerts of the rule carrying ``kibana.alert.instance.id``, with
        ``kibana.alert.start >= started_since`` and ``kibana.alert.suppression.end >=
        ended_since`` when given; newest ``kibana.alert.start`` first."""
        ...

    def update_alerts(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Set the given fields of existing alerts (a partial update, by alert id)."""
        ...

    def load_state(self, rule_id: str) -> RuleState | None: ...

    def save_state(self, state: RuleState) -> None: ...

    def record_execution(self, record: ExecutionRecord) -> None: ...

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        """Several records in one write (one ``_bulk`` on Elasticsearch): the daemon's
        batched execution log."""
        ...

    def record_gap(self, gap: Gap) -> None: ...

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]: ...

    def close_gap(self, gap: Gap, covered_to: datetime) -> None:
        """Mark ``[gap.start, covered_to]`` as filled (a backfill ran over it)."""
        ...

    def list_alerts(
        self,
        *,
        rule_ids: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        ...

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        """Newest first."""
        ...


class Backend(EventSource, AlertStore, ValueListStore, Protocol):
    """Events, alerts and value lists together; ``name`` is for logs and execution records."""

    name: str
