"""The embedded backend: events, alerts and state in one DuckDB file.

Searches go to :mod:`runner.embedded` (EQL and KQL compiled to SQL with Elasticsearch's
semantics); alerts, state, executions and gaps to :class:`EmbeddedAlertStore`.  Every call
opens the file for its own duration only, so other ``runner`` processes can use it between.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from runner.backends.embedded_alerts import EmbeddedAlertStore
from runner.embedded.search import search_eql, search_kql
from runner.embedded.store import Store
from runner.search import (
    EqlRequest,
    EqlResult,
    FirstSeenRequest,
    Hit,
    KqlRequest,
    TermDocumentsRequest,
    TermKey,
    TermsPage,
    TermsPageRequest,
)


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

    def terms_page(self, request: TermsPageRequest) -> TermsPage:
        from runner.embedded import new_terms

        return new_terms.terms_page(self.store, request)

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        from runner.embedded import new_terms

        return new_terms.first_seen(self.store, request)

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]:
        from runner.embedded import new_terms

        return new_terms.term_documents(self.store, request)
