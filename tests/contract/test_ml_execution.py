"""Machine learning rules: anomaly records read from a cluster; unsupported on the store.

The cluster side goes through the real ``elasticsearch`` client to the loopback stand-in,
which answers ``POST /.ml-anomalies-*/_search`` from anomaly records indexed into it
(Kibana's ``buildAnomalyQuery``, evaluated by the engine-backed stand-in,
tests/elastic/engine_cluster.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.backends.embedded import EmbeddedBackend
from runner.elastic.client import ElasticClient
from runner.embedded.store import Store
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.ruletypes.machine_learning import ecs_anomaly
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body

NOW = datetime(2024, 5, 1, 12, 15, tzinfo=UTC)
RESULTS = ".ml-anomalies-shared"


def rule(tmp: Path) -> Rule:
    path = tmp / "ml.toml"
    path.write_text(
        '[rule]\nname = "Unusual Process"\nrule_id = "ml-1"\ntype = "machine_learning"\n'
        'description = "d"\nrisk_score = 21\nseverity = "low"\nfrom = "now-45m"\n'
        'interval = "15m"\nanomaly_threshold = 50\n'
        'machine_learning_job_id = ["rare_process", "rare_parent"]\n'
    )
    rule_set = load_rules([path])
    assert rule_set.errors == ()
    return rule_set.rules[0]


def record(
    doc_id: str,
    minutes_ago: float,
    score: float,
    *,
    job: str = "rare_process",
    interim: bool = False,
    kind: str = "record",
    process: str = "evil",
) -> dict[str, Any]:
    when = int((NOW - timedelta(minutes=minutes_ago)).timestamp() * 1000)
    return {
        "_index": RESULTS,
        "_id": doc_id,
        "_source": {
            "job_id": job, "result_type": kind, "is_interim": interim, "timestamp": when,
            "record_score": score, "initial_record_score": score, "bucket_span": 900,
            "by_field_name": "process.name", "by_field_value": process,
            "influencers": [
                {"influencer_field_name": "host.name", "influencer_field_values": ["ws-1"]},
                {"influencer_field_name": "process.name", "influencer_field_values": [process]},
            ],
            "host.name": ["ws-1"], "process.name": [process],
        },
    }  # fmt: skip


STARTED = {"rare_process": ("opened", "started"), "rare_parent": ("opened", "started")}


def serve_ml_jobs(cluster: FakeCluster, jobs: dict[str, tuple[str, str]]) -> None:
    """The ML job and datafeed APIs (configs and stats) for ``{job_id: (job, datafeed state)}``;
    a datafeed state of "" means the job has no datafeed."""
    configs = [
        {"job_id": j, "custom_settings": {"security_app_display_name": f"Rare {j}"}} for j in jobs
    ]
    feeds = [{"datafeed_id": f"datafeed-{j}", "job_id": j} for j, (_, f) in jobs.items() if f]
    replies = {
        "/_ml/anomaly_detectors": {"count": len(configs), "jobs": configs},
        "/_ml/anomaly_detectors/_stats": {
            "count": len(jobs), "jobs": [{"job_id": j, "state": s} for j, (s, _) in jobs.items()]
        },
        "/_ml/datafeeds": {"count": len(feeds), "datafeeds": feeds},
        "/_ml/datafeeds/_stats": {
            "count": len(feeds),
            "datafeeds": [{"datafeed_id": f"datafeed-{j}", "state": f}
                          for j, (_, f) in jobs.items() if f],
        },
    }  # fmt: skip
    for path, body in replies.items():
        cluster.script("GET", path, Reply(200, body), repeat_last=True)


def cluster_run(
    tmp: Path,
    docs: list[dict[str, Any]],
    r: Rule,
    *nows: datetime,
    jobs: dict[str, tuple[str, str]] | None = None,
    ml_forbidden: bool = False,
) -> tuple[list[Any], list[dict[str, Any]]]:
    cluster = EngineCluster(tmp / "cluster.duckdb", clock=lambda: NOW).start()
    # The results index as the ML plugin maps it (the fields the anomaly query reads).
    ElasticClient(cluster.settings()).request("PUT", f"/{RESULTS}", {"mappings": {
        "properties": {"timestamp": {"type": "date"}, "job_id": {"type": "keyword"},
                       "result_type": {"type": "keyword"}, "is_interim": {"type": "boolean"},
                       "record_score": {"type": "double"}}}})  # fmt: skip
    lines: list[dict[str, Any]] = []
    for doc in docs:
        lines += [{"index": {"_index": doc["_index"], "_id": doc["_id"]}}, doc["_source"]]
    assert not ElasticClient(cluster.settings()).request("POST", "/_bulk", lines).body["errors"]
    if ml_forbidden:
        reason = "action [cluster:monitor/xpack/ml/job/get] is unauthorized for user [runner]"
        forbidden = Reply(403, error_body(403, "security_exception", reason))
        cluster.script("GET", "^/_ml/.*$", forbidden, repeat_last=True)
    else:
        serve_ml_jobs(cluster, STARTED if jobs is None else jobs)
    try:
        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as backend:
            backend.setup()
            records = [
                rec
                for now in nows
                for rec in Executor(backend=backend, clock=lambda n=now: n).run(r, now)
            ]
            alerts = backend.list_alerts(rule_ids=[r.rule_id])
    finally:
        cluster.stop()
    assert not cluster.unexpected, [x.target for x in cluster.unexpected]
    return records, alerts


def test_anomalies_over_the_threshold_alert(tmp_path: Path) -> None:
    r = rule(tmp_path)
    docs = [
        record("hit", 10, 80.5),
        record("other-job-ok", 12, 55, job="rare_parent"),
        record("low-score", 10, 40),
        record("foreign-job", 10, 99, job="rare_dns"),
        record("interim", 10, 99, interim=True),
        record("bucket-result", 10, 99, kind="bucket"),
        record("before-window", 50, 99),
    ]
    (rec,), alerts = cluster_run(tmp_path, docs, r, NOW)
    assert (rec.status, rec.alerts_created) == ("succeeded", 2)
    by_id = {a["kibana.alert.ancestors"][0]["id"]: a for a in alerts}
    assert set(by_id) == {"hit", "other-job-ok"}
    alert = by_id["hit"]
    assert alert["host"] == {"name": ["ws-1"]} and alert["process"] == {"name": ["evil"]}
    assert "host.name" not in alert  # the dotted copies are replaced by the nested fields
    assert alert["kibana.alert.original_time"] == "2024-05-01T12:05:00.000Z"
    assert alert["record_score"] == 80.5
    assert alert["kibana.alert.rule.type"] == "machine_learning"
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.mlRule"
    params = alert["kibana.alert.rule.parameters"]
    assert params["anomaly_threshold"] == 50
    assert params["machine_learning_job_id"] == ["rare_process", "rare_parent"]
    assert (
        alert["kibana.alert.reason"]
        == ("event with process evil, by  on ws-1 created low alert Unusual Process.")
        or "evil" in alert["kibana.alert.reason"]
    )


def test_best_scores_are_kept_at_the_cap_and_windows_do_not_repeat(tmp_path: Path) -> None:
    r = replace(rule(tmp_path), max_signals=2)
    docs = [record("s60", 10, 60), record("s90", 11, 90), record("s85", 12, 85)]
    (first, second), alerts = cluster_run(tmp_path, docs, r, NOW, NOW + timedelta(minutes=15))
    assert (first.status, first.alerts_created, first.capped) == ("partial failure", 2, True)
    assert sorted(a["kibana.alert.ancestors"][0]["id"] for a in alerts) == ["s85", "s90"]
    # The next window still holds all three; as in Kibana the search takes the best
    # max_signals records only (no paging), the two already alerted: both are duplicates.
    assert (second.alerts_created, second.duplicates, second.capped) == (0, 2, True)


def test_jobs_not_started_warn_and_still_alert(tmp_path: Path) -> None:
    r = rule(tmp_path)
    jobs = {"rare_process": ("closed", "stopped"), "rare_dns": ("opened", "started")}
    (rec,), alerts = cluster_run(tmp_path, [record("hit", 10, 80)], r, NOW, jobs=jobs)
    assert (rec.status, rec.alerts_created) == ("partial failure", 1)
    # rare_parent is missing, rare_process stopped; rare_dns is not the rule's job.
    assert rec.message == (
        "ML jobs are not started\n"
        'Job ID: "rare_process". Job name: "Rare rare_process". Job status: "closed". '
        'Datafeed status: "stopped"'
    )
    assert len(alerts) == 1


def test_ml_apis_refused_warn_and_still_alert(tmp_path: Path) -> None:
    r = rule(tmp_path)
    (rec,), alerts = cluster_run(tmp_path, [record("hit", 10, 80)], r, NOW, ml_forbidden=True)
    assert (rec.status, rec.alerts_created) == ("partial failure", 1)
    assert rec.message.startswith("The state of the ML jobs could not be read:")
    assert "unauthorized" in rec.message
    assert len(alerts) == 1


def test_embedded_store_fails_the_window_with_the_reason(tmp_path: Path) -> None:
    r = rule(tmp_path)
    backend = EmbeddedBackend(Store(tmp_path / "store.duckdb"))
    (rec,) = Executor(backend=backend, clock=lambda: NOW).run(r, NOW)
    assert rec.status == "failed"
    assert "embedded store has no machine learning jobs" in rec.message
    assert backend.list_alerts(rule_ids=[r.rule_id]) == []


def test_ecs_transform_sets_influencers_as_nested_fields() -> None:
    doc = ecs_anomaly(record("x", 0, 70)["_source"])
    assert doc["host"] == {"name": ["ws-1"]}
    assert doc["process"] == {"name": ["evil"]}
    assert "host.name" not in doc and "process.name" not in doc
    assert doc["@timestamp"] == "2024-05-01T12:15:00.000Z"
