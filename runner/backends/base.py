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

if TYPE_CHECKING:
    from runner.notify.model import NotifyHook
from runner.search import (
    EqlRequest,
    EqlResult,
    EsqlRequest,
    EsqlResult,
    FirstSeenRequest,
    Hit,
    HitPage,
    KqlRequest,
    TermDocumentsRequest,
    TermKey,
    TermsPage,
    TermsPageRequest,
)


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

    def load_state(self, rule_id: str) -> RuleState | None: ...

    def save_state(self, state: RuleState) -> None: ...

    def record_execution(self, record: ExecutionRecord) -> None: ...

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


class Backend(EventSource, AlertStore, Protocol):
    """Both halves together; ``name`` is for logs and execution records."""

    name: str
