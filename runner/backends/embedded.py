"""The embedded backend: events, alerts and state in one DuckDB file.

Searches go to :mod:`runner.embedded` (EQL and KQL compiled to SQL with Elasticsearch's
semantics); alerts, state, executions and gaps to :class:`EmbeddedAlertStore`.  Every call
opens the file for its own duration only, so other ``runner`` processes can use it between.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from runner.backends.embedded_alerts import EmbeddedAlertStore
from runner.embedded.alert_index import AlertIndexMirror
from runner.embedded.search import query_pages, search_eql, search_kql
from runner.embedded.store import Store
from runner.lists.embedded import EmbeddedLists
from runner.lists.model import ValueList, ValueListInfo
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
    TermsQuery,
    ThresholdPage,
    ThresholdRequest,
)

if TYPE_CHECKING:
    from runner.embedded.new_terms import TermsScope


class EmbeddedBackend(EmbeddedAlertStore):
    """:class:`~runner.backends.base.Backend` on the embedded DuckDB store."""

    name = "embedded"

    def __init__(self, store: Store) -> None:
        super().__init__(store.connect, AlertIndexMirror(store).mirror_pending)
        self.store = store
        self._lists = EmbeddedLists(store.connect)

    # Value lists live in the same file.
    def get_list(self, list_id: str) -> ValueList | None:
        return self._lists.get_list(list_id)

    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        self._lists.put_list(info, values)

    def list_lists(self) -> list[ValueListInfo]:
        return self._lists.list_lists()

    def delete_list(self, list_id: str) -> bool:
        return self._lists.delete_list(list_id)

    def search_eql(self, request: EqlRequest) -> EqlResult:
        return search_eql(self.store, request)

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        return search_kql(self.store, request)

    def query_pages(self, request: KqlRequest) -> Generator[HitPage, None, None]:
        return query_pages(self.store, request)

    def search_esql(self, request: EsqlRequest) -> EsqlResult:
        from runner.embedded.esql_search import search_esql

        return search_esql(self.store, request)

    def documents_by_id(self, indices: Sequence[str], ids: Sequence[str]) -> Mapping[str, Hit]:
        from runner.embedded.esql_search import documents_by_id

        return documents_by_id(self.store, indices, ids)

    def terms_page(self, request: TermsPageRequest) -> TermsPage:
        from runner.embedded import new_terms

        page = new_terms.term_page(
            self.store,
            _scope(request.terms),
            request.time_range,
            after=request.after,
            size=request.size,
        )
        return TermsPage(keys=page.terms, after=page.after)

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        from runner.embedded import new_terms

        return new_terms.first_seen(
            self.store, _scope(request.terms), request.keys, request.time_range
        )

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]:
        from runner.embedded import new_terms

        return new_terms.oldest_documents(
            self.store, _scope(request.terms), request.keys, request.time_range
        )

    def threshold_buckets(self, request: ThresholdRequest) -> ThresholdPage:
        from runner.embedded.threshold import threshold_page

        return threshold_page(self.store, request)

    def indicator_pages(self, request: IndicatorRequest) -> Generator[tuple[Hit, ...], None, None]:
        from runner.embedded.indicators import indicator_pages

        return indicator_pages(self.store, request)

    def search_anomalies(self, request: AnomalyRequest) -> AnomalyResult:
        from runner.errors import UnsupportedOnStore
        from runner.rules.model import ML_EMBEDDED_REASON

        raise UnsupportedOnStore(ML_EMBEDDED_REASON)

    def ml_jobs(self, job_ids: Sequence[str]) -> tuple[MlJobState, ...]:
        from runner.errors import UnsupportedOnStore
        from runner.rules.model import ML_EMBEDDED_REASON

        raise UnsupportedOnStore(ML_EMBEDDED_REASON)


def _scope(terms: TermsQuery) -> TermsScope:
    from runner.embedded.new_terms import TermsScope

    return TermsScope(
        query=terms.query,
        fields=terms.fields,
        indices=terms.indices,
        filters=terms.filters,
        timestamp_override=terms.timestamp_override,
    )
