"""Machine learning anomalies on a cluster, as Kibana's ``findMlSignals`` reads them.

``POST /.ml-anomalies-*/_search`` (the ML results indices) with Kibana's ``buildAnomalyQuery``:
``result_type:record``, not interim, ``timestamp`` in the window (epoch ms), ``record_score``
at least the rule's ``anomaly_threshold``, ``job_id`` one of the rule's jobs; ``size``
``max_signals``, best score first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.elastic.client import ElasticClient
from runner.elastic.requests import NativeRequest
from runner.search import AnomalyRequest, MlJobState

RESULTS_INDEX = ".ml-anomalies-*"

__all__ = ["RESULTS_INDEX", "anomaly_search", "ml_jobs", "total_hits"]


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


def ml_jobs(client: ElasticClient, job_ids: Sequence[str]) -> tuple[MlJobState, ...]:
    """Kibana's ``jobsSummary`` for these jobs: each job's state and its datafeed's, from the
    job and datafeed configuration and statistics APIs (all jobs are listed and the wanted
    ones kept, so an unknown id is left out rather than a 404)."""
    params = "?allow_no_match=true"
    jobs = client.request("GET", f"/_ml/anomaly_detectors{params}").body.get("jobs") or []
    job_stats = client.request("GET", f"/_ml/anomaly_detectors/_stats{params}").body
    feeds = client.request("GET", f"/_ml/datafeeds{params}").body.get("datafeeds") or []
    feed_stats = client.request("GET", f"/_ml/datafeeds/_stats{params}").body
    job_state = {j.get("job_id"): j.get("state", "") for j in job_stats.get("jobs") or []}
    feed_state = {
        f.get("datafeed_id"): f.get("state", "") for f in feed_stats.get("datafeeds") or []
    }
    feed_of = {f.get("job_id"): f.get("datafeed_id") for f in feeds}
    found = []
    for job in jobs:
        job_id = job.get("job_id")
        if job_id not in job_ids:
            continue
        settings = job.get("custom_settings") or {}
        found.append(
            MlJobState(
                job_id=str(job_id),
                name=str(settings.get("security_app_display_name") or job_id),
                job_state=str(job_state.get(job_id, "")),
                datafeed_state=str(feed_state.get(feed_of.get(job_id), "")),
            )
        )
    return tuple(found)


def total_hits(body: dict[str, Any]) -> int:
    total = (body.get("hits") or {}).get("total")
    if isinstance(total, dict):
        return int(total.get("value", 0))
    return int(total or 0)
