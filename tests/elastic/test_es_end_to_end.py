"""The execution core against the fake cluster: the seed rule ``emond`` writes its alerts via
``_bulk``, a rerun writes none, and an unavailable cluster fails the window without losing it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.cli.main import main
from runner.elastic.client import RetryPolicy
from runner.elastic.requests import eql_search
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.rules.select import resolve_rule
from runner.timeutil import isoformat
from tests.conftest import SEED_RULES
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body

NOW = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
EQL_PATH = "/logs-endpoint.events.process*/_eql/search"


@pytest.fixture
def emond() -> Rule:
    return resolve_rule(load_rules([SEED_RULES]).rules, "emond")


def event(doc_id: str, child: str, minute: int) -> dict[str, Any]:
    when = f"2024-05-01T12:0{minute}:00.000Z"
    return {
        "_index": ".ds-logs-endpoint.events.process-default-2024.05.01-000001",
        "_id": doc_id,
        "_source": {
            "@timestamp": when,
            "event": {
                "category": ["process"],
                "type": ["start"],
                "ingested": when,
                "kind": "event",
                "action": "exec",
            },
            "host": {"name": "mac-01", "os": {"type": "macos"}},
            "process": {"name": child, "parent": {"name": "emond"}, "pid": 4242},
            "user": {"name": "root"},
        },
    }


def eql_answer(*events: dict[str, Any]) -> Reply:
    return Reply(
        200,
        {
            "is_partial": False,
            "is_running": False,
            "took": 4,
            "timed_out": False,
            "hits": {"total": {"value": len(events), "relation": "eq"}, "events": list(events)},
        },
    )


def test_emond_writes_its_alerts_and_a_rerun_writes_none(
    cluster: FakeCluster, backend: ElasticsearchBackend, emond: Rule
) -> None:
    store = cluster.enable_store()
    events = (event("ev-1", "bash", 3), event("ev-2", "curl", 5))
    cluster.script("POST", EQL_PATH, eql_answer(*events), repeat_last=True)
    executor = Executor(backend=backend, clock=lambda: NOW)

    (first,) = executor.run(emond, NOW)
    assert (first.status, first.alerts_created, first.duplicates) == ("succeeded", 2, 0)

    # The request is exactly what `runner rules show --explain` prints for the window.
    (sent,) = cluster.calls("POST", EQL_PATH)
    assert sent.query == {"allow_no_indices": "true"}
    assert sent.body == eql_search(emond, NOW - timedelta(minutes=9), NOW).body
    assert sent.body["size"] == 100 and sent.body["query"] == emond.query

    (bulk,) = cluster.calls("POST", "/_bulk")
    assert bulk.query == {"refresh": "wait_for"}
    actions, docs = bulk.body[::2], bulk.body[1::2]
    assert [a["create"]["_index"] for a in actions] == ["runner-alerts-default"] * 2
    assert [a["create"]["_id"] for a in actions] == [d["kibana.alert.uuid"] for d in docs]
    assert [d["kibana.alert.ancestors"][0]["id"] for d in docs] == ["ev-1", "ev-2"]
    assert {d["kibana.alert.rule.rule_id"] for d in docs} == {emond.rule_id}
    assert docs[0]["kibana.alert.reason"] == (
        "process event with process bash, parent process emond, by root on mac-01 created "
        "medium alert Suspicious Emond Child Process."
    )
    assert set(store.docs["runner-alerts-default"]) == {d["kibana.alert.uuid"] for d in docs}
    assert store.docs["runner-state"][emond.rule_id]["covered_to"] == "2024-05-01T12:09:00.000Z"
    (record,) = store.docs["runner-executions"].values()
    assert record["status"] == "succeeded" and record["alerts_created"] == 2

    # Five minutes later the overlapping window finds the same events: nothing new is written.
    later = NOW + timedelta(minutes=5)
    (second,) = Executor(backend=backend, clock=lambda: later).run(emond, later)
    assert (second.status, second.alerts_created, second.duplicates) == ("succeeded", 0, 2)
    assert len(cluster.calls("POST", "/_bulk")) == 1
    ids_query = cluster.calls("POST", "/runner-alerts-default/_search")[-1].body
    assert sorted(ids_query["query"]["ids"]["values"]) == sorted(
        store.docs["runner-alerts-default"]
    )
    assert len(store.docs["runner-alerts-default"]) == 2
    assert [r.status for r in backend.list_executions(rule_ids=[emond.rule_id])] == [
        "succeeded",
        "succeeded",
    ]


def test_unavailable_cluster_fails_the_window_and_keeps_it(
    cluster: FakeCluster, emond: Rule
) -> None:
    store = cluster.enable_store()
    busy = error_body(503, "search_phase_execution_exception", "all shards failed")
    cluster.script("POST", EQL_PATH, Reply(503, busy), repeat_last=True)
    retry = RetryPolicy(max_retries=2, budget=5.0, base=0.01)
    with ElasticsearchBackend(cluster.settings(), retry=retry) as backend:
        (record,) = Executor(backend=backend, clock=lambda: NOW).run(emond, NOW)
    assert record.status == "failed"
    assert record.message.startswith(
        f"Elasticsearch is overloaded or unavailable (HTTP 503 to POST {EQL_PATH}: "
        "search_phase_execution_exception: all shards failed) (gave up after 3 attempt(s)"
    )
    assert len(cluster.calls("POST", EQL_PATH)) == 3
    assert "runner-alerts-default" not in store.docs  # nothing written
    state = store.docs["runner-state"][emond.rule_id]
    # Not advanced past the failed window's start: the next run searches it again.
    assert state["covered_to"] == isoformat(NOW - timedelta(minutes=9))
    assert state["last_status"] == "failed"


def test_rejected_query_fails_with_elasticsearchs_reason(
    cluster: FakeCluster, backend: ElasticsearchBackend, emond: Rule
) -> None:
    cluster.enable_store()
    reason = "Found 1 problem\nline 2:2: Unknown column [host.os.type]"
    cluster.script("POST", EQL_PATH, Reply(400, error_body(400, "verification_exception", reason)))
    (record,) = Executor(backend=backend, clock=lambda: NOW).run(emond, NOW)
    assert record.status == "failed"
    assert record.message.endswith(
        "(HTTP 400: verification_exception: Found 1 problem line 2:2: Unknown column "
        "[host.os.type])"
    )


def test_bulk_failure_fails_the_window(cluster: FakeCluster, emond: Rule) -> None:
    store = cluster.enable_store()
    cluster.script("POST", EQL_PATH, eql_answer(event("ev-1", "bash", 3)))
    rejected = {"type": "es_rejected_execution_exception", "reason": "rejected execution"}

    def always_429(request: Any) -> Reply:
        alert_id = request.body[0]["create"]["_id"]
        item = {
            "create": {
                "_index": "runner-alerts-default",
                "_id": alert_id,
                "status": 429,
                "error": rejected,
            }
        }
        return Reply(200, {"took": 1, "errors": True, "items": [item]})

    cluster.script("POST", "/_bulk", always_429, repeat_last=True)
    with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as backend:
        (record,) = Executor(backend=backend, clock=lambda: NOW).run(emond, NOW)
    assert record.status == "failed" and record.alerts_created == 0
    assert "1 alert(s) could not be written" in record.message
    assert "es_rejected_execution_exception" in record.message
    state = store.docs["runner-state"][emond.rule_id]
    assert state["covered_to"] == isoformat(NOW - timedelta(minutes=9))  # window not covered


def test_cli_once_against_the_fake_cluster(
    cluster: FakeCluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runner --es URL once --rule emond` writes the alerts; a rerun writes none."""
    store = cluster.enable_store()
    cluster.script("POST", EQL_PATH, eql_answer(event("ev-1", "bash", 3)), repeat_last=True)
    monkeypatch.delenv("RUNNER_ES_URL", raising=False)
    args = [
        "--log-format",
        "json",
        "--rules",
        str(SEED_RULES),
        "--es",
        cluster.url,
        "once",
        "--rule",
        "emond",
        "--json",
    ]
    assert main([*args, "--now", "2024-05-01T12:09:00Z"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["status"], first["alerts_created"]) == ("succeeded", 1)
    assert main([*args, "--now", "2024-05-01T12:14:00Z"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["status"], second["alerts_created"], second["duplicates"]) == ("succeeded", 0, 1)
    assert len(store.docs["runner-alerts-default"]) == 1
    assert len(cluster.calls("POST", "/_bulk")) == 1


def test_alert_overrides_shape_the_alerts_written_to_the_cluster(
    cluster: FakeCluster, backend: ElasticsearchBackend, emond: Rule
) -> None:
    from dataclasses import replace

    from runner.rules.overrides import AlertOverrides, SeverityMapping

    rule = replace(
        emond,
        overrides=AlertOverrides(
            rule_name_override="process.name",
            severity_mapping=(
                SeverityMapping(field="process.name", value="curl", severity="critical"),
            ),
        ),
    )
    cluster.enable_store()
    cluster.script("POST", EQL_PATH, eql_answer(event("ev-1", "bash", 3), event("ev-2", "curl", 5)))
    Executor(backend=backend, clock=lambda: NOW).run(rule, NOW)
    (bulk,) = cluster.calls("POST", "/_bulk")
    docs = {d["kibana.alert.ancestors"][0]["id"]: d for d in bulk.body[1::2]}
    assert docs["ev-2"]["kibana.alert.severity"] == "critical"
    assert docs["ev-1"]["kibana.alert.severity"] == "medium"
    assert [docs[i]["kibana.alert.rule.name"] for i in ("ev-1", "ev-2")] == ["bash", "curl"]
