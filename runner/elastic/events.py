"""The :class:`~runner.backends.base.EventSource` half against Elasticsearch.

EQL goes to ``_eql/search``; KQL and the three new-terms phases to ``_search`` (SEMANTICS §3,
§4).  An incomplete ``_search`` answer (failed shards, timeout) raises
:class:`PartialResults`: a missing shard could hide a term's history and fabricate a "new"
term, so the window fails and is searched again.  EQL partial results are returned as
``EqlResult(is_partial=True)`` instead, as Kibana reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from runner.elastic.client import ElasticClient
from runner.elastic.errors import api_error, is_too_many_clauses
from runner.elastic.field_caps import FieldCapsCache
from runner.elastic.paging import pit_pages
from runner.elastic.requests import (
    NativeRequest,
    eql_request,
    first_seen_request,
    kql_request,
    term_documents_request,
    terms_page_request,
)
from runner.elastic.responses import (
    KeyMatcher,
    agg_page,
    composite_key,
    eql_result,
    first_seen,
    partial_reason,
    search_hits,
    top_hit,
)
from runner.errors import BackendUnavailable, QueryRejected
from runner.kql.ast import Query as KqlQuery
from runner.kql.fields import FieldTypes
from runner.logs import get_logger
from runner.search import (
    EqlRequest,
    EqlResult,
    FirstSeenRequest,
    Hit,
    HitPage,
    KqlRequest,
    TermDocumentsRequest,
    TermKey,
    TermsPage,
    TermsPageRequest,
)

T = TypeVar("T")
MAX_COMBINATIONS = 500  # per restricted composite request (a bool.should per combination)
Build = Callable[[Sequence[TermKey], TermKey | None], NativeRequest]


class PartialResults(BackendUnavailable):
    """Some shards failed or timed out, so an aggregation or search answer is incomplete."""


class TooManyClauses(Exception):
    """The restricted composite had more clauses than the cluster allows: halve the batch."""


class ElasticEventSource:
    def __init__(self, client: ElasticClient, *, max_combinations: int = MAX_COMBINATIONS) -> None:
        self._client = client
        self.batch_size = max_combinations  # halved for good on "too many clauses"
        self.field_caps = FieldCapsCache(client)

    def field_types(self, indices: Sequence[str], query: KqlQuery) -> FieldTypes:
        """The types of the fields ``query`` names, on ``indices`` (cached)."""
        return self.field_caps.types(indices, query)

    def search_eql(self, request: EqlRequest) -> EqlResult:
        result = eql_result(self._client.send(eql_request(request)).body)
        if result.is_partial:
            get_logger().warning("eql_partial_results", reason=result.partial_reason)
        return result

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        types = self.field_types(request.indices, request.query)
        return search_hits(self._search(kql_request(request, fields=types)))

    def query_pages(self, request: KqlRequest) -> Generator[HitPage, None, None]:
        types = self.field_types(request.indices, request.query)
        return pit_pages(
            self._client, lambda native: self._search(native, partial=True), request, types
        )

    def terms_page(self, request: TermsPageRequest) -> TermsPage:
        fields = request.terms.fields
        types = self.field_types(request.terms.indices, request.terms.query)
        # Phase 1 may be partial: a term it returns is in the window whatever other shards
        # hold.  Phases 2 and 3 may not: a missing shard could hide a term's history and make
        # an old term look new, so an incomplete history fails the window (searched again).
        body = self._search(terms_page_request(request, fields=types), partial=True)
        page = agg_page(body)
        keys = tuple(composite_key(b, fields) for b in page.buckets)
        more = page.after is not None and len(page.buckets) >= request.size
        after = composite_key({"key": page.after}, fields) if more else None
        return TermsPage(keys=keys, after=after, partial_reason=partial_reason(body))

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        # Kibana's bucket_selector needs the window start: used once the request carries it
        # (FirstSeenRequest has no such field yet; keys absent from the answer are not new).
        new_after: datetime | None = getattr(request, "new_after", None) or getattr(
            request, "window_start", None
        )
        types = self.field_types(request.terms.indices, request.terms.query)
        if len(request.terms.fields) == 1:
            native = first_seen_request(request, new_after=new_after, fields=types)
            return self._by_key(self._search(native), request.keys, request, first_seen)
        return self._restricted(
            request.keys,
            lambda batch, after: first_seen_request(request, batch, after=after, fields=types),
            request.terms.fields,
            first_seen,
        )

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]:
        types = self.field_types(request.terms.indices, request.terms.query)
        if len(request.terms.fields) == 1:
            body = self._search(term_documents_request(request, fields=types))
            return self._by_key(body, request.keys, request, top_hit)
        return self._restricted(
            request.keys,
            lambda batch, after: term_documents_request(request, batch, after=after, fields=types),
            request.terms.fields,
            top_hit,
        )

    def search(self, request: NativeRequest) -> dict[str, Any]:
        """Any ``_search``: the answer body; an error or an incomplete answer raises."""
        return self._search(request)

    # --- helpers -------------------------------------------------------------------------

    def _search(
        self, request: NativeRequest, *, clauses: bool = False, partial: bool = False
    ) -> dict[str, Any]:
        """The answer body; raises on an incomplete answer unless ``partial`` (or
        TooManyClauses if asked)."""
        response = self._client.send(request, allow=(400, 500) if clauses else ())
        target = f"{request.method} {request.path.split('?', 1)[0]}"
        if response.status >= 400:
            if is_too_many_clauses(response.body):
                raise TooManyClauses()
            raise api_error(response.status, response.body, target=target)
        body: dict[str, Any] = response.body if isinstance(response.body, dict) else {}
        reason = partial_reason(body)
        if reason is not None and not partial:
            if clauses and is_too_many_clauses(body.get("_shards")):
                raise TooManyClauses()
            raise PartialResults(
                f"incomplete answer to {target}: {reason}; the window will be searched again"
            )
        return body

    @staticmethod
    def _by_key(
        body: Mapping[str, Any],
        keys: Sequence[TermKey],
        request: FirstSeenRequest | TermDocumentsRequest,
        value: Callable[[Mapping[str, Any]], T | None],
    ) -> dict[TermKey, T]:
        matcher, fields = KeyMatcher(keys), request.terms.fields
        found: dict[TermKey, T] = {}
        for bucket in agg_page(body).buckets:
            key, item = matcher.bucket(bucket, fields), value(bucket)
            if key is not None and item is not None:
                found[key] = item
        return found

    def _restricted(
        self,
        keys: Sequence[TermKey],
        build: Build,
        fields: Sequence[str],
        value: Callable[[Mapping[str, Any]], T | None],
    ) -> dict[TermKey, T]:
        """Several fields: composite requests restricted to at most ``batch_size``
        combinations each; the batch is halved when the cluster finds too many clauses."""
        found: dict[TermKey, T] = {}
        start = 0
        while start < len(keys):
            batch = keys[start : start + self.batch_size]
            try:
                self._collect(batch, build, fields, value, found)
            except TooManyClauses:
                if len(batch) == 1:
                    raise QueryRejected(
                        "Elasticsearch refused even one term combination: too many clauses "
                        "(raise indices.query.bool.max_clause_count)"
                    ) from None
                self.batch_size = max(1, len(batch) // 2)
                get_logger().warning("new_terms_batch_halved", batch_size=self.batch_size)
                continue
            start += len(batch)
        return found

    def _collect(
        self,
        batch: Sequence[TermKey],
        build: Build,
        fields: Sequence[str],
        value: Callable[[Mapping[str, Any]], T | None],
        found: dict[TermKey, T],
    ) -> None:
        """Pages one batch's composite until every wanted key was seen or no page is left
        (array fields can add combinations that were not asked for: they are skipped)."""
        matcher, wanted = KeyMatcher(batch), set(batch)
        after: TermKey | None = None
        while True:
            page = agg_page(self._search(build(batch, after), clauses=True))
            for bucket in page.buckets:
                key, item = matcher.bucket(bucket, fields), value(bucket)
                if key is not None and item is not None:
                    found[key] = item
                    wanted.discard(key)
            if not wanted or page.after is None or len(page.buckets) < len(batch):
                return
            after = composite_key({"key": page.after}, fields)
