"""The native Elasticsearch requests the backend sends, as plain data.

Pure functions: no client, no I/O.  Each builder takes a backend-neutral request of
:mod:`runner.search`; :class:`~runner.backends.elasticsearch.ElasticsearchBackend` sends exactly
what they return.  The rule-level helpers at the end (used by ``runner rules show --explain``)
build the same neutral requests the execution core builds and go through the same builders,
so what an operator reads is what runs.  Shapes follow Kibana's detection engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.elastic.dsl import (
    after_key,
    bool_filter,
    combinations_filter,
    composite_sources,
    first_seen_selector,
    index_path,
    kql_query,
    terms_timestamp,
    time_filter,
    timestamp_sort,
)
from runner.elastic.source_fields import ALL_FIELDS
from runner.execution import rule_requests
from runner.execution.rule_requests import DEFAULT_EVENT_CATEGORY
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule
from runner.search import (
    EqlRequest,
    FirstSeenRequest,
    KqlRequest,
    TermDocumentsRequest,
    TermKey,
    TermsPageRequest,
    TermsQuery,
)
from runner.timeutil import parse_datemath

__all__ = [
    "NativeRequest",
    "close_pit_request",
    "eql_request",
    "eql_search",
    "first_seen_request",
    "index_path",
    "kql_filter",
    "kql_request",
    "new_terms_phase1",
    "new_terms_phase2",
    "new_terms_phase3",
    "open_pit_request",
    "pit_page_request",
    "query_search",
    "term_documents_request",
    "terms_page_request",
]

EQL_PARAMS = "allow_no_indices=true"
SEARCH_PARAMS = "allow_no_indices=true&ignore_unavailable=true"


@dataclass(frozen=True, kw_only=True, slots=True)
class NativeRequest:
    """An HTTP request to Elasticsearch: method, path (with query string) and JSON body."""

    method: str
    path: str
    body: dict[str, Any]
    description: str = ""


def _search(indices: Sequence[str], body: dict[str, Any], description: str) -> NativeRequest:
    return NativeRequest(
        method="POST",
        path=f"/{index_path(indices)}/_search?{SEARCH_PARAMS}",
        body=body,
        description=description,
    )


def eql_request(request: EqlRequest) -> NativeRequest:
    """``POST <index>/_eql/search`` (SEMANTICS §3): the query text unchanged, ``size``, the
    window and filters as ``filter``; optional fields only when they differ from the default
    (``result_position`` defaults to ``tail``: the most recent matches)."""
    body: dict[str, Any] = {"query": request.query.text, "size": request.size}
    body["fields"] = list(ALL_FIELDS)
    clauses = [time_filter(request.time_range)] if request.time_range else []
    clauses += [dict(f) for f in request.filters]
    if clauses:
        body["filter"] = bool_filter(clauses)
    body["timestamp_field"] = request.timestamp_field
    if request.tiebreaker_field:
        body["tiebreaker_field"] = request.tiebreaker_field
    if request.event_category_field != DEFAULT_EVENT_CATEGORY:
        body["event_category_field"] = request.event_category_field
    if request.result_position != "tail":
        body["result_position"] = request.result_position
    return NativeRequest(
        method="POST",
        path=f"/{index_path(request.indices)}/_eql/search?{EQL_PARAMS}",
        body=body,
        description="EQL search over the rule window",
    )


def kql_request(request: KqlRequest, *, fields: FieldTypes | None = None) -> NativeRequest:
    """One ``_search``: KQL as DSL + filters + window, oldest first, ``size`` documents."""
    body: dict[str, Any] = {"size": request.size}
    body["query"] = kql_query(request.query, request.time_range, request.filters, fields=fields)
    body["fields"] = list(ALL_FIELDS)
    body["sort"] = timestamp_sort(
        request.timestamp_field, request.time_range, descending=request.descending
    )
    return _search(request.indices, body, "query rule search over the rule window")


PIT_KEEP_ALIVE = "5m"


def open_pit_request(
    indices: Sequence[str],
    description: str = "open a point in time over the rule's index patterns",
) -> NativeRequest:
    """``POST <index>/_pit``: the consistent view a query rule (or indicator match, over its
    threat indices) pages through."""
    return NativeRequest(
        method="POST",
        path=f"/{index_path(indices)}/_pit?keep_alive={PIT_KEEP_ALIVE}&ignore_unavailable=true",
        body={},
        description=description,
    )


def pit_page_request(
    request: KqlRequest,
    pit_id: str,
    search_after: Sequence[Any] | None = None,
    *,
    fields: FieldTypes | None = None,
) -> NativeRequest:
    """One page as Kibana's ``searchAfterAndBulkCreate``: oldest first on the (override,
    then ``@timestamp``) timestamps, ``search_after`` the previous page's last ``sort``; the
    point in time adds its ``_shard_doc`` tiebreaker, so no document is skipped or repeated
    at a page boundary, whatever arrives meanwhile.  No ``from``: no 10,000-hit limit."""
    body: dict[str, Any] = {
        "size": request.size,
        "track_total_hits": False,
        "query": kql_query(request.query, request.time_range, request.filters, fields=fields),
        "fields": list(ALL_FIELDS),
        "sort": timestamp_sort(
            request.timestamp_field, request.time_range, descending=request.descending
        ),
        "pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
    }
    if search_after is not None:
        body["search_after"] = list(search_after)
    return NativeRequest(
        method="POST",
        path="/_search",
        body=body,
        description="query rule page in the point in time (search_after the last page)",
    )


def close_pit_request(pit_id: str) -> NativeRequest:
    return NativeRequest(
        method="DELETE", path="/_pit", body={"id": pit_id}, description="close the point in time"
    )


def terms_page_request(
    request: TermsPageRequest, *, fields: FieldTypes | None = None
) -> NativeRequest:
    """Phase 1: one ``composite`` page of the term tuples in the rule window."""
    terms = request.terms
    composite: dict[str, Any] = {"sources": composite_sources(terms.fields), "size": request.size}
    if request.after is not None:
        composite["after"] = after_key(terms.fields, request.after)
    body = {
        "size": 0,
        "track_total_hits": False,
        "query": kql_query(terms.query, request.time_range, terms.filters, fields=fields),
        "aggregations": {"new_terms": {"composite": composite}},
    }
    return _search(
        terms.indices, body, "new_terms phase 1: terms in the rule window (paged by after_key)"
    )


def _terms_agg(
    terms: TermsQuery, keys: Sequence[TermKey], after: TermKey | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One field: ``terms`` with ``include`` = the values.  Several fields: a ``composite``
    over the fields; its query is restricted to ``keys`` by the returned extra filter."""
    if len(terms.fields) == 1:
        values = [key[0] for key in keys]
        agg = {"terms": {"field": terms.fields[0], "size": max(len(values), 1), "include": values}}
        return agg, []
    composite: dict[str, Any] = {"sources": composite_sources(terms.fields), "size": len(keys)}
    if after is not None:
        composite["after"] = after_key(terms.fields, after)
    return {"composite": composite}, [combinations_filter(terms.fields, keys)]


def first_seen_request(
    request: FirstSeenRequest,
    keys: Sequence[TermKey] | None = None,
    *,
    after: TermKey | None = None,
    new_after: datetime | None = None,
    fields: FieldTypes | None = None,
) -> NativeRequest:
    """Phase 2: the earliest (combined) timestamp of each of ``keys`` (default: all of the
    request's) over the history range.  With one field, ``new_after`` adds Kibana's
    ``bucket_selector`` (composite aggregations take no pipeline aggregations)."""
    terms = request.terms
    keys = request.keys if keys is None else keys
    timestamp, runtime = terms_timestamp(terms, request.time_range)
    agg, restrict = _terms_agg(terms, keys, after)
    sub: dict[str, Any] = {"first_seen": {"min": {"field": timestamp}}}
    if new_after is not None and len(terms.fields) == 1:
        sub["filtering_agg"] = first_seen_selector(int(new_after.timestamp() * 1000))
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": False,
        "query": kql_query(
            terms.query, request.time_range, terms.filters, *restrict, fields=fields
        ),
        "aggregations": {"new_terms": {**agg, "aggregations": sub}},
    }
    if runtime:
        body["runtime_mappings"] = runtime
    return _search(
        terms.indices, body, "new_terms phase 2: first-seen time of each term over the history"
    )


def term_documents_request(
    request: TermDocumentsRequest,
    keys: Sequence[TermKey] | None = None,
    *,
    after: TermKey | None = None,
    fields: FieldTypes | None = None,
) -> NativeRequest:
    """Phase 3: the oldest document of each of ``keys`` in the rule window (``top_hits``)."""
    terms = request.terms
    keys = request.keys if keys is None else keys
    timestamp, runtime = terms_timestamp(terms, request.time_range)
    agg, restrict = _terms_agg(terms, keys, after)
    top = {"top_hits": {"size": 1, "sort": [{timestamp: {"order": "asc"}}]}}
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": False,
        "query": kql_query(
            terms.query, request.time_range, terms.filters, *restrict, fields=fields
        ),
        "aggregations": {"new_terms": {**agg, "aggregations": {"docs": top}}},
    }
    if runtime:
        body["runtime_mappings"] = runtime
    return _search(terms.indices, body, "new_terms phase 3: the oldest document of each new term")


# --- Rule-level helpers (``runner rules show --explain``) ----------------------------------
# They mirror how runner.execution.candidates turns a rule and a window into neutral requests.


def _rule_keys(rule: Rule, terms: Sequence[Any]) -> tuple[TermKey, ...]:
    width = len(rule.new_terms.fields) if rule.new_terms else 1
    return tuple(t if isinstance(t, tuple) else (t,) * width for t in terms)


def eql_search(rule: Rule, start: datetime, end: datetime) -> NativeRequest:
    """The ``_eql/search`` of an EQL rule for the window ``[start, end]``."""
    return eql_request(rule_requests.eql_request(rule, start, end))


def query_search(
    rule: Rule, start: datetime, end: datetime, fields: FieldTypes | None = None
) -> list[NativeRequest]:
    """A query rule's point in time and its first page for the window."""
    request = rule_requests.kql_request(rule, start, end)
    return [
        open_pit_request(request.indices),
        pit_page_request(request, "<id from the point in time>", fields=fields),
    ]


def kql_filter(rule: Rule, start: datetime, end: datetime) -> dict[str, Any]:
    """The rule's KQL (as DSL), its filters and the time range, as one bool query."""
    return kql_query(
        rule.kql, rule_requests.rule_range(rule, start, end), rule_requests.rule_filters(rule)
    )


def new_terms_phase1(
    rule: Rule,
    start: datetime,
    end: datetime,
    after: TermKey | None = None,
    fields: FieldTypes | None = None,
) -> NativeRequest:
    return terms_page_request(
        TermsPageRequest(
            terms=rule_requests.terms_query(rule),
            time_range=rule_requests.rule_range(rule, start, end),
            after=after,
        ),
        fields=fields,
    )


def new_terms_phase2(
    rule: Rule,
    window_start: datetime,
    history_start: datetime,
    end: datetime,
    terms: Sequence[Any],
    fields: FieldTypes | None = None,
) -> NativeRequest:
    """Phase 2 for ``terms`` (values, or tuples for several fields)."""
    request = FirstSeenRequest(
        terms=rule_requests.terms_query(rule),
        time_range=rule_requests.rule_range(rule, history_start, end),
        keys=_rule_keys(rule, terms),
    )
    return first_seen_request(request, new_after=window_start, fields=fields)


def new_terms_phase3(
    rule: Rule,
    start: datetime,
    end: datetime,
    terms: Sequence[Any],
    fields: FieldTypes | None = None,
) -> NativeRequest:
    request = TermDocumentsRequest(
        terms=rule_requests.terms_query(rule),
        time_range=rule_requests.rule_range(rule, start, end),
        keys=_rule_keys(rule, terms),
    )
    return term_documents_request(request, fields=fields)


def explain(rule: Rule, end: datetime, fields: FieldTypes | None = None) -> list[NativeRequest]:
    """Every request one window ending at ``end`` starts with (phases 2 and 3 of new_terms
    shown with a placeholder term); KQL compiled with ``fields``' types when given."""
    start = parse_datemath(rule.from_, end)
    if rule.type == "eql":
        return [eql_search(rule, start, end)]
    if rule.type == "new_terms":
        assert rule.new_terms is not None
        history = parse_datemath(rule.new_terms.history_window_start, end)
        placeholder = ["<terms from phase 1>"]
        return [
            new_terms_phase1(rule, start, end, fields=fields),
            new_terms_phase2(rule, start, history, end, placeholder, fields=fields),
            new_terms_phase3(rule, start, end, placeholder, fields=fields),
        ]
    return query_search(rule, start, end, fields)
