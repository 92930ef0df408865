"""Query-DSL pieces the Elasticsearch requests share: time ranges, filters, term combinations.

Pure functions over the backend-neutral values of :mod:`runner.search`; no client, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from runner.kql import to_dsl
from runner.kql.ast import Query as KqlQuery
from runner.kql.fields import FieldTypes
from runner.search import TermKey, TermsQuery, TimeRange
from runner.timeutil import isoformat

Dsl = dict[str, Any]

DATE_FORMAT = "strict_date_optional_time"
COMBINED_TIMESTAMP = "kibana.combined_timestamp"
# Emits the override field when a document has it, else @timestamp (Kibana's fallback).
COMBINED_SCRIPT = (
    "if (doc.containsKey(params.primary) && doc[params.primary].size() != 0) "
    "{ emit(doc[params.primary].value.millis); } "
    "else if (doc.containsKey(params.secondary) && doc[params.secondary].size() != 0) "
    "{ emit(doc[params.secondary].value.millis); }"
)
# Index names may hold wildcards, commas (several patterns) and ``:`` (cross-cluster search).
_INDEX_SAFE = ",*:"


def index_path(indices: Sequence[str]) -> str:
    """The ``<target>`` path segment: comma-joined patterns, ``*`` when none."""
    return ",".join(quote(index, safe=_INDEX_SAFE) for index in indices) if indices else "*"


def doc_path(index: str, doc_id: str) -> str:
    return f"/{quote(index, safe='')}/_doc/{quote(doc_id, safe='')}"


def range_clause(field: str, time_range: TimeRange) -> Dsl:
    bounds: Dsl = {}
    if time_range.start is not None:
        bounds["gte"] = isoformat(time_range.start)
    if time_range.end is not None:
        bounds["lte"] = isoformat(time_range.end)
    bounds["format"] = DATE_FORMAT
    return {"range": {field: bounds}}


def time_filter(time_range: TimeRange) -> Dsl:
    """The range on ``field``, or with a fallback Kibana's ``timestamp_override`` form:
    ``(field in range) OR (field missing AND fallback in range)``."""
    field, fallback = time_range.field, time_range.fallback
    if fallback is None or fallback == field:
        return range_clause(field, time_range)
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                range_clause(field, time_range),
                {
                    "bool": {
                        "filter": [
                            range_clause(fallback, time_range),
                            {"bool": {"must_not": {"exists": {"field": field}}}},
                        ]
                    }
                },
            ],
        }
    }


def bool_filter(clauses: Iterable[Mapping[str, Any]]) -> Dsl:
    return {"bool": {"filter": [dict(clause) for clause in clauses]}}


def kql_query(
    query: KqlQuery,
    time_range: TimeRange | None,
    filters: Sequence[Mapping[str, Any]] = (),
    *extra: Mapping[str, Any],
    fields: FieldTypes | None = None,
) -> Dsl:
    """The KQL (as Kibana compiles it, with ``fields``' types when given), the rule filters,
    the time range, then ``extra``."""
    clauses: list[Mapping[str, Any]] = [to_dsl(query, fields), *filters]
    if time_range is not None:
        clauses.append(time_filter(time_range))
    return bool_filter([*clauses, *extra])


def timestamp_sort(
    timestamp_field: str, time_range: TimeRange | None, *, descending: bool = False
) -> list[Dsl]:
    """Oldest (or newest) first on the timestamp, then on the fallback for documents lacking
    it."""
    fields = [timestamp_field]
    if time_range is not None and time_range.fallback and time_range.fallback not in fields:
        fields.append(time_range.fallback)
    order = "desc" if descending else "asc"
    return [{field: {"order": order, "unmapped_type": "date"}} for field in fields]


def terms_timestamp(terms: TermsQuery, time_range: TimeRange) -> tuple[str, Dsl]:
    """The aggregatable time of a new-terms document and the runtime mappings it needs:
    with an override, a runtime date emitting the override else ``@timestamp`` (as Kibana)."""
    if terms.timestamp_override is None:
        return time_range.field, {}
    runtime = {
        COMBINED_TIMESTAMP: {
            "type": "date",
            "script": {
                "source": COMBINED_SCRIPT,
                "params": {"primary": terms.timestamp_override, "secondary": "@timestamp"},
            },
        }
    }
    return COMBINED_TIMESTAMP, runtime


def composite_sources(fields: Sequence[str]) -> list[Dsl]:
    return [{field: {"terms": {"field": field}}} for field in fields]


def after_key(fields: Sequence[str], key: TermKey) -> Dsl:
    return dict(zip(fields, key, strict=True))


def combinations_filter(fields: Sequence[str], keys: Sequence[TermKey]) -> Dsl:
    """Documents carrying any one of ``keys`` (a ``bool.should`` of per-combination terms)."""
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                {"bool": {"filter": [{"term": {f: v}} for f, v in zip(fields, key, strict=True)]}}
                for key in keys
            ],
        }
    }


def first_seen_selector(new_after_ms: int) -> Dsl:
    """Kibana's ``bucket_selector``: keep terms first seen strictly after the window start."""
    return {
        "bucket_selector": {
            "buckets_path": {"first_seen_value": "first_seen"},
            "script": {
                "params": {"start_time": new_after_ms},
                "source": "params.first_seen_value > params.start_time",
            },
        }
    }
