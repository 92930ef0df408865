"""Machine learning anomalies on a cluster, as Kibana's ``findMlSignals`` reads them.

``POST /.ml-anomalies-*/_search`` (the ML results indices) with Kibana's ``buildAnomalyQuery``:
``result_type:record``, not interim, ``timestamp`` in the window (epoch ms), ``record_score``
at least the rule's ``anomaly_threshold``, ``job_id`` one of the rule's jobs; ``size``
``max_signals``, best score first.
"""

from __future__ import annotations

from typing import Any

from runner.elastic.requests import NativeRequest
from runner.search import AnomalyRequest

RESULTS_INDEX = ".ml-anomalies-*"

__all__ = ["RESULTS_INDEX", "anomaly_search", "total_hits"]


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def anomaly_search(request: AnomalyRequest) -> NativeRequest:
    criteria: list[dict[str, Any]] = [
        {"range": {"timestamp": {"gte": _ms(request.start), "lte": _ms(request.end),
                                 "format": "epoch_millis"}}},
        {"range": {"record_score": {"gte": request.threshold}}},
    ]  # fmt: skip
    jobs = request.job_ids
    if jobs and jobs != ("*",):
        query = " OR ".join(f"job_id:{job}" for job in jobs)
        criteria.append({"query_string": {"analyze_wildcard": False, "query": query}})
    body = {
        "size": request.size,
        "query": {
            "bool": {
                "filter": [
                    {"query_string": {"query": "result_type:record", "analyze_wildcard": False}},
                    {"term": {"is_interim": False}},
                    {"bool": {"must": criteria}},
                ]
            }
        },
        "fields": [{"field": "*", "include_unmapped": True}],
        "sort": [{"record_score": {"order": "desc"}}],
    }
    return NativeRequest(
        method="POST",
        path=f"/{RESULTS_INDEX}/_search",
        body=body,
        description="machine learning: anomaly records of the rule's jobs over the threshold",
    )


def total_hits(body: dict[str, Any]) -> int:
    total = (body.get("hits") or {}).get("total")
    if isinstance(total, dict):
        return int(total.get("value", 0))
    return int(total or 0)
