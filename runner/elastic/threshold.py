"""Threshold rules on a cluster: Kibana's ``findThresholdSignals`` requests and answers.

- With fields: a ``composite`` aggregation named ``thresholdTerms`` (one ``terms`` source per
  field, ``size`` 10,000, paged by ``after``) with ``max_timestamp`` / ``min_timestamp``, the
  optional ``cardinality_count`` + ``cardinality_check`` and the ``count_check``
  ``bucket_selector``s (``buildThresholdMultiBucketAggregation``).
- Without fields: the same metrics at the top level and the document count from
  ``hits.total`` (``buildThresholdSingleBucketAggregation``).  Kibana leaves
  ``track_total_hits`` at its default, which stops counting at 10,000; this runner asks for
  the exact count (``track_total_hits: true``) so ``threshold_result.count`` is exact.
- The signal history becomes Kibana's bucket filter (``getThresholdBucketFilters``): one
  ``must_not`` holding, per alerted group, ``timestamp <= last signal`` and a ``term`` per
  field (the value as a string, as Kibana writes it).
- The aggregatable time is the rule's timestamp, or with ``timestamp_override`` Kibana's
  ``kibana.combined_timestamp`` runtime field (override, else ``@timestamp``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runner.elastic.dsl import (
    COMBINED_SCRIPT,
    COMBINED_TIMESTAMP,
    Dsl,
    after_key,
    composite_sources,
    kql_query,
)
from runner.elastic.requests import SEARCH_PARAMS, NativeRequest, index_path
from runner.elastic.responses import composite_key
from runner.kql.fields import FieldTypes
from runner.search import (
    SignalHistoryEntry,
    ThresholdBucket,
    ThresholdPage,
    ThresholdRequest,
    TimeRange,
)
from runner.timeutil import isoformat

AGG = "thresholdTerms"


def aggregatable_timestamp(time_range: TimeRange) -> tuple[str, Dsl]:
    """The field min/max and the history range use, and the runtime mappings it needs."""
    if time_range.fallback is None or time_range.fallback == time_range.field:
        return time_range.field, {}
    script = {
        "source": COMBINED_SCRIPT,
        "params": {"primary": time_range.field, "secondary": time_range.fallback},
    }
    return COMBINED_TIMESTAMP, {COMBINED_TIMESTAMP: {"type": "date", "script": script}}


def bucket_filter(history: tuple[SignalHistoryEntry, ...], timestamp: str) -> Dsl:
    """Kibana's ``getThresholdBucketFilters``: events already counted in an alert are out."""
    filters = []
    for entry in history:
        clauses: list[Dsl] = [{"range": {timestamp: {"lte": isoformat(entry.last_signal)}}}]
        clauses += [{"term": {field: text}} for field, text in entry.term_texts()]
        filters.append({"bool": {"filter": clauses}})
    return {"bool": {"must_not": filters}}


def threshold_search(request: ThresholdRequest, fields: FieldTypes | None = None) -> NativeRequest:
    """The request for one page; the KQL compiled with ``fields``' types when given (the
    cluster's, from ``_field_caps``, as Kibana compiles it with the data view loaded)."""
    timestamp, runtime = aggregatable_timestamp(request.time_range)
    metrics: Dsl = {
        "max_timestamp": {"max": {"field": timestamp}},
        "min_timestamp": {"min": {"field": timestamp}},
    }
    if request.cardinality_field:
        metrics["cardinality_count"] = {"cardinality": {"field": request.cardinality_field}}
    query = kql_query(
        request.query,
        request.time_range,
        request.filters,
        bucket_filter(request.history, timestamp),
        fields=fields,
    )
    body: Dsl = {"size": 0, "query": query}
    if request.fields:
        composite: Dsl = {"sources": composite_sources(request.fields), "size": request.size}
        if request.after is not None:
            composite["after"] = after_key(request.fields, request.after)
        subs = dict(metrics)
        if request.cardinality_field:
            subs["cardinality_check"] = _selector(
                "cardinalityCount", "cardinality_count", request.cardinality_value
            )
        subs["count_check"] = _selector("docCount", "_count", request.value)
        body["aggregations"] = {AGG: {"composite": composite, "aggregations": subs}}
        description = "threshold: groups over the threshold (composite, paged by after_key)"
    else:
        body["track_total_hits"] = True
        body["aggregations"] = metrics
        description = "threshold: count of all matching events (no group-by fields)"
    if runtime:
        body["runtime_mappings"] = runtime
    return NativeRequest(
        method="POST",
        path=f"/{index_path(request.indices)}/_search?{SEARCH_PARAMS}",
        body=body,
        description=description,
    )


def threshold_page(body: dict[str, Any], request: ThresholdRequest) -> ThresholdPage:
    aggs = body.get("aggregations")
    aggs = aggs if isinstance(aggs, dict) else {}
    if not request.fields:
        total = (body.get("hits") or {}).get("total") or {}
        count = int(total.get("value", 0) if isinstance(total, dict) else total)
        bucket = _bucket(aggs, (), count)
        cardinality_ok = bucket.cardinality is None or (
            bucket.cardinality >= request.cardinality_value
        )
        keep = count > 0 and count >= request.value and cardinality_ok
        return ThresholdPage(buckets=(bucket,) if keep else (), after=None)
    agg = aggs.get(AGG) if isinstance(aggs.get(AGG), dict) else {}
    assert isinstance(agg, dict)
    buckets = tuple(
        _bucket(b, composite_key(b, request.fields), int(b.get("doc_count", 0)))
        for b in agg.get("buckets", [])
        if isinstance(b, dict)
    )
    after = agg.get("after_key")
    next_key = composite_key({"key": after}, request.fields) if isinstance(after, dict) else None
    return ThresholdPage(buckets=buckets, after=next_key)


def _selector(name: str, path: str, value: int) -> Dsl:
    return {
        "bucket_selector": {
            "buckets_path": {name: path},
            "script": {"source": f"params.{name} >= {int(value)}"},
        }
    }


def _bucket(metrics: dict[str, Any], key: tuple[Any, ...], count: int) -> ThresholdBucket:
    cardinality = metrics.get("cardinality_count")
    value = cardinality.get("value") if isinstance(cardinality, dict) else None
    return ThresholdBucket(
        key=key,
        count=count,
        min_time=_ms(metrics.get("min_timestamp")),
        max_time=_ms(metrics.get("max_timestamp")),
        cardinality=int(value) if isinstance(value, int | float) else None,
    )


def _ms(metric: Any) -> datetime | None:
    value = metric.get("value") if isinstance(metric, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


__all__ = ["aggregatable_timestamp", "bucket_filter", "threshold_page", "threshold_search"]
