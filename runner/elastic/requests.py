"""The native Elasticsearch requests a rule sends, as plain data.

Pure functions: no client, no I/O.  The Elasticsearch backend sends exactly these bodies, and
``runner rules show --explain`` prints them, so what an operator reads is what runs.
The shapes follow Kibana's detection engine (EQL executor and new-terms executor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.kql import to_dsl
from runner.rules.model import Rule
from runner.timeutil import isoformat

DATE_FORMAT = "strict_date_optional_time"
COMBINED_TIMESTAMP = "kibana.combined_timestamp"
COMPOSITE_PAGE_SIZE = 10_000
# Emits the override field when a document has it, else @timestamp (Kibana's fallback).
_COMBINED_SCRIPT = (
    "if (doc.containsKey(params.primary) && doc[params.primary].size() != 0) "
    "{ emit(doc[params.primary].value.millis); } "
    "else if (doc.containsKey(params.secondary) && doc[params.secondary].size() != 0) "
    "{ emit(doc[params.secondary].value.millis); }"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class NativeRequest:
    """An HTTP request to Elasticsearch: method, path (with query string) and JSON body."""

    method: str
    path: str
    body: dict[str, Any]
    description: str = ""


def index_path(indices: tuple[str, ...]) -> str:
    return ",".join(indices) if indices else "*"


def range_clause(field: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"range": {field: {"gte": isoformat(start), "lte": isoformat(end), "format": DATE_FORMAT}}}


def time_range_filter(
    start: datetime, end: datetime, *, override: str | None, fallback: str = "@timestamp"
) -> dict[str, Any]:
    """The window on ``override`` with Kibana's fallback to ``@timestamp`` when it is missing."""
    if override is None or override == fallback:
        return range_clause(fallback, start, end)
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                range_clause(override, start, end),
                {
                    "bool": {
                        "filter": [
                            range_clause(fallback, start, end),
                            {"bool": {"must_not": {"exists": {"field": override}}}},
                        ]
                    }
                },
            ],
        }
    }


def rule_filters(rule: Rule) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rule's enabled Kibana filters, split into (filter, must_not)."""
    keep = [dict(f.query) for f in rule.filters if not f.disabled and not f.negate]
    drop = [dict(f.query) for f in rule.filters if not f.disabled and f.negate]
    return keep, drop


def eql_search(rule: Rule, start: datetime, end: datetime) -> NativeRequest:
    """``POST <index>/_eql/search`` for one window (SEMANTICS §3)."""
    keep, drop = rule_filters(rule)
    bool_filter: dict[str, Any] = {
        "filter": [time_range_filter(start, end, override=rule.timestamp_override), *keep]
    }
    if drop:
        bool_filter["must_not"] = drop
    body: dict[str, Any] = {
        "query": rule.query,
        "size": rule.max_signals,
        "filter": {"bool": bool_filter},
        "timestamp_field": rule.timestamp_field,
    }
    if rule.tiebreaker_field:
        body["tiebreaker_field"] = rule.tiebreaker_field
    if rule.event_category_override:
        body["event_category_field"] = rule.event_category_override
    return NativeRequest(
        method="POST",
        path=f"/{index_path(rule.index)}/_eql/search?allow_no_indices=true",
        body=body,
        description="EQL search over the rule window",
    )


def kql_filter(rule: Rule, start: datetime, end: datetime) -> dict[str, Any]:
    """The rule's KQL (as DSL), its filters and the time range, as one bool query."""
    keep, drop = rule_filters(rule)
    clauses = [to_dsl(rule.kql), *keep, time_range_filter(start, end, override=rule.timestamp_override)]
    query: dict[str, Any] = {"bool": {"filter": clauses}}
    if drop:
        query["bool"]["must_not"] = drop
    return query


def _timestamp_runtime(rule: Rule) -> tuple[str, dict[str, Any]]:
    """The aggregatable timestamp: the override with fallback as a runtime field, as Kibana."""
    if rule.timestamp_override is None:
        return rule.timestamp_field, {}
    mapping = {
        COMBINED_TIMESTAMP: {
            "type": "date",
            "script": {
                "source": _COMBINED_SCRIPT,
                "params": {"primary": rule.timestamp_override, "secondary": "@timestamp"},
            },
        }
    }
    return COMBINED_TIMESTAMP, mapping


def new_terms_phase1(
    rule: Rule, start: datetime, end: datetime, after: dict[str, Any] | None = None
) -> NativeRequest:
    """Phase 1: the distinct term tuples in the rule window, one composite page."""
    assert rule.new_terms is not None
    composite: dict[str, Any] = {
        "sources": [{field: {"terms": {"field": field}}} for field in rule.new_terms.fields],
        "size": COMPOSITE_PAGE_SIZE,
    }
    if after is not None:
        composite["after"] = after
    return NativeRequest(
        method="POST",
        path=f"/{index_path(rule.index)}/_search?allow_no_indices=true&ignore_unavailable=true",
        body={
            "size": 0,
            "track_total_hits": False,
            "query": kql_filter(rule, start, end),
            "aggs": {"new_terms": {"composite": composite}},
        },
        description="new_terms phase 1: terms in the rule window (paged by after_key)",
    )


def new_terms_phase2(
    rule: Rule,
    window_start: datetime,
    history_start: datetime,
    end: datetime,
    terms: list[Any],
) -> NativeRequest:
    """Phase 2 (single field): which of ``terms`` were first seen after the window start."""
    assert rule.new_terms is not None
    timestamp, runtime = _timestamp_runtime(rule)
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": False,
        "query": kql_filter(rule, history_start, end),
        "aggs": {
            "new_terms": {
                "terms": {
                    "field": rule.new_terms.fields[0],
                    "size": max(len(terms), 1),
                    "include": terms,
                },
                "aggs": {
                    "first_seen": {"min": {"field": timestamp}},
                    "filtering_agg": {
                        "bucket_selector": {
                            "buckets_path": {"first_seen_value": "first_seen"},
                            "script": {
                                "params": {"start_time": int(window_start.timestamp() * 1000)},
                                "source": "params.first_seen_value > params.start_time",
                            },
                        }
                    },
                },
            }
        },
    }
    if runtime:
        body["runtime_mappings"] = runtime
    return NativeRequest(
        method="POST",
        path=f"/{index_path(rule.index)}/_search?allow_no_indices=true&ignore_unavailable=true",
        body=body,
        description="new_terms phase 2: first-seen time of each term over the history window",
    )
