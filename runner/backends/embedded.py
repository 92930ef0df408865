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
from runner.embedded.search import query_pages, search_eql, search_kql
from runner.embedded.store import Store
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
    TermsQuery,
)

if TYPE_CHECKING:
    from runner.embedded.new_terms import TermsScope


class EmbeddedBackend(EmbeddedAlertStore):
    """:class:`~runner.backends.base.Backend` on the embedded DuckDB store."""

    name = "embedded"

    def __init__(self, store: Store) -> None:
        super().__init__(store.connect)
        self.store = store

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


def _scope(terms: TermsQuery) -> TermsScope:
    from runner.embedded.new_terms import TermsScope

    return TermsScope(
        query=terms.query,
        fields=terms.fields,
        indices=terms.indices,
        filters=terms.filters,
        timestamp_override=terms.timestamp_override,
    )
