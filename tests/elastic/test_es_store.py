"""Alerts, run state, executions and gaps over HTTP: exact requests, parsed answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.elastic import store as store_module
from runner.errors import BackendError
from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body, search_body

ALERTS = "/runner-alerts-default/_search"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)


def alert(alert_id: str) -> dict[str, Any]:
    return {
        "@timestamp": "2024-05-01T12:09:01.000Z",
        "kibana.alert.uuid": alert_id,
        "kibana.alert.rule.rule_id": "r1",
        "host": {"name": "mac-01"},
    }


def item(alert_id: str, status: int, error: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"_index": "runner-alerts-default", "_id": alert_id, "status": status}
    if status == 201:
        result.update({"_version": 1, "result": "created", "_seq_no": 0, "_primary_term": 1})
    if error:
        result["error"] = error
    return {"create": result}


def bulk(*items: dict[str, Any]) -> dict[str, Any]:
    errors = any(next(iter(i.values()))["status"] >= 300 for i in items)
    return {"took": 12, "errors": errors, "items": list(items)}


def create_lines(*ids: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for alert_id in ids:
        lines += [{"create": {"_index": "runner-alerts-default", "_id": alert_id}}, alert(alert_id)]
    return lines


CONFLICT = {
    "type": "version_conflict_engine_exception",
    "reason": "[b]: version conflict, document already exists (current version [1])",
}
REJECTED = {
    "type": "es_rejected_execution_exception",
    "reason": "rejected execution of coordinating operation [shard_detail=[runner-alerts-"
    "default][0][P], shard_coordinating_and_primary_bytes=0]",
}


# --- alerts ------------------------------------------------------------------------------


def test_existing_alert_ids_uses_an_ids_query(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script(
        "POST",
        ALERTS,
        Reply(200, search_body([{"_index": "runner-alerts-default", "_id": "a", "_score": 1.0}])),
    )
    assert backend.existing_alert_ids(["a", "b", "a"]) == {"a"}
    (sent,) = cluster.calls("POST", ALERTS)
    assert sent.query == {"ignore_unavailable": "true", "allow_no_indices": "true"}
    assert sent.body == {
        "size": 2,
        "track_total_hits": False,
        "_source": False,
        "query": {"ids": {"values": ["a", "b"]}},
    }


def test_existing_alert_ids_on_a_missing_alerts_index(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    body = error_body(404, "index_not_found_exception", "no such index [runner-alerts-default]")
    cluster.script("POST", ALERTS, Reply(404, body))
    assert backend.existing_alert_ids(["a"]) == set()
    assert backend.existing_alert_ids([]) == set()
    assert len(cluster.calls("POST", ALERTS)) == 1  # no request for no ids


def test_bulk_create_mixed_201_409_429_then_retried(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script(
        "POST",
        "/_bulk",
        Reply(200, bulk(item("a", 201), item("b", 409, CONFLICT), item("c", 429, REJECTED))),
        Reply(200, bulk(item("c", 201))),
    )
    outcome = backend.write_alerts([alert("a"), alert("b"), alert("c")])
    assert outcome == WriteOutcome(created=("a", "c"), duplicates=("b",))
    first, second = cluster.calls("POST", "/_bulk")
    assert first.query == {"refresh": "wait_for"}
    assert "x-ndjson" in first.headers["content-type"]
    assert first.body == create_lines("a", "b", "c")
    assert second.body == create_lines("c")  # only the rejected item is sent again


def test_bulk_item_failures_are_reported_never_counted_as_created(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    mapping = {
        "type": "document_parsing_exception",
        "reason": "[1:120] failed to parse field [host.ip] of type [ip]",
    }
    updated = {
        "index": {"_index": "runner-alerts-default", "_id": "c", "status": 200, "result": "updated"}
    }
    cluster.script(
        "POST",
        "/_bulk",
        Reply(
            200,
            {
                "took": 1,
                "errors": True,
                "items": [item("a", 400, mapping), item("b", 503, REJECTED), updated],
            },
        ),
        Reply(200, bulk(item("b", 503, REJECTED))),
        repeat_last=True,
    )
    outcome = backend.write_alerts([alert("a"), alert("b"), alert("c")])
    assert outcome.created == () and outcome.duplicates == ()
    reasons = dict(outcome.failed)
    assert reasons["a"] == (
        "document_parsing_exception: [1:120] failed to parse field [host.ip] of type [ip]"
    )
    assert reasons["c"] == "unexpected item status 200"
    assert reasons["b"].startswith("HTTP 503 es_rejected_execution_exception: rejected execution")
    assert reasons["b"].endswith("(still failing after 4 attempt(s))")
    assert len(cluster.calls("POST", "/_bulk")) == 4  # first try + max_retries (3)


def test_list_alerts_newest_first_with_filters_and_search_after(
    cluster: FakeCluster, backend: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "PAGE", 2)

    def hit(alert_id: str, ts: int) -> dict[str, Any]:
        return {
            "_index": "runner-alerts-default",
            "_id": alert_id,
            "_source": alert(alert_id),
            "sort": [ts, alert_id],
        }

    cluster.script(
        "POST",
        ALERTS,
        Reply(200, search_body([hit("c", 3), hit("b", 2)])),
        Reply(200, search_body([hit("a", 1)])),
    )
    alerts = backend.list_alerts(rule_ids=["r1"], since=T0)
    assert [a["kibana.alert.uuid"] for a in alerts] == ["c", "b", "a"]
    first, second = (r.body for r in cluster.calls("POST", ALERTS))
    query = {
        "bool": {
            "filter": [
                {"terms": {"kibana.alert.rule.rule_id": ["r1"]}},
                {"range": {"@timestamp": {"gte": "2024-05-01T12:00:00.000Z"}}},
            ]
        }
    }
    sort = [
        {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
        {"kibana.alert.uuid": {"order": "asc", "unmapped_type": "keyword"}},
    ]
    assert first == {"size": 2, "query": query, "sort": sort}
    assert second == {"size": 2, "query": query, "sort": sort, "search_after": [2, "b"]}


def test_list_alerts_limit(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    cluster.script("POST", ALERTS, Reply(200, search_body([])))
    assert backend.list_alerts(limit=5) == []
    (sent,) = cluster.calls("POST", ALERTS)
    assert sent.body["size"] == 5 and sent.body["query"] == {"match_all": {}}


# --- run state ---------------------------------------------------------------------------


def test_state_round_trip(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    state = RuleState(rule_id="r1", last_start=T1, covered_to=T1, last_status="succeeded")
    doc = {
        "rule_id": "r1",
        "last_start": "2024-05-01T12:09:00.000Z",
        "covered_to": "2024-05-01T12:09:00.000Z",
        "last_status": "succeeded",
        "last_message": "",
    }
    cluster.script(
        "PUT",
        "/runner-state/_doc/r1",
        Reply(201, {"_index": "runner-state", "_id": "r1", "result": "created"}),
    )
    cluster.script(
        "GET",
        "/runner-state/_doc/r1",
        Reply(200, {"_index": "runner-state", "_id": "r1", "found": True, "_source": doc}),
    )
    backend.save_state(state)
    assert backend.load_state("r1") == state
    (put,) = cluster.calls("PUT")
    assert put.body == doc and put.query == {}


@pytest.mark.parametrize(
    "answer",
    [
        {"_index": "runner-state", "_id": "r1", "found": False},
        error_body(404, "index_not_found_exception", "no such index [runner-state]"),
    ],
    ids=["no document", "no index"],
)
def test_state_absent(
    cluster: FakeCluster, backend: ElasticsearchBackend, answer: dict[str, Any]
) -> None:
    cluster.script("GET", "/runner-state/_doc/r1", Reply(404, answer))
    assert backend.load_state("r1") is None


# --- executions --------------------------------------------------------------------------

RECORD = ExecutionRecord(
    execution_id="e1",
    rule_id="r1",
    rule_name="Rule",
    started_at=T1,
    ended_at=T1,
    window_start=T0,
    window_end=T1,
    status="partial failure",
    message="capped",
    search_ms=12,
    candidates=101,
    alerts_created=100,
    capped=True,
    backend="elasticsearch",
    extra={"note": "x"},
)
RECORD_DOC = {
    "@timestamp": "2024-05-01T12:09:00.000Z",
    "alerts_created": 100,
    "backend": "elasticsearch",
    "candidates": 101,
    "capped": True,
    "catch_up": False,
    "duplicates": 0,
    "ended_at": "2024-05-01T12:09:00.000Z",
    "execution_id": "e1",
    "extra": {"note": "x"},
    "gap_seconds": None,
    "index_ms": 0,
    "message": "capped",
    "rule_id": "r1",
    "rule_name": "Rule",
    "search_ms": 12,
    "started_at": "2024-05-01T12:09:00.000Z",
    "status": "partial failure",
    "window_end": "2024-05-01T12:09:00.000Z",
    "window_start": "2024-05-01T12:00:00.000Z",
}


def test_record_and_list_executions(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    cluster.script(
        "PUT",
        "/runner-executions/_doc/e1",
        Reply(201, {"_index": "runner-executions", "_id": "e1", "result": "created"}),
    )
    older = {
        **RECORD_DOC,
        "execution_id": "e0",
        "started_at": "2024-05-01T12:04:00.000Z",
        "status": "succeeded",
        "message": "",
        "capped": False,
    }
    cluster.script(
        "POST",
        "/runner-executions/_search",
        Reply(
            200,
            search_body(
                [
                    {"_index": "runner-executions", "_id": "e1", "_source": RECORD_DOC},
                    {"_index": "runner-executions", "_id": "e0", "_source": older},
                ]
            ),
        ),
    )
    backend.record_execution(RECORD)
    (put,) = cluster.calls("PUT")
    assert put.query == {"refresh": "wait_for"}
    assert put.body == RECORD_DOC
    records = backend.list_executions(rule_ids=["r1"], limit=10)
    assert [r.execution_id for r in records] == ["e1", "e0"]
    assert records[0] == RECORD
    (search,) = cluster.calls("POST", "/runner-executions/_search")
    assert search.body == {
        "size": 10,
        "query": {"bool": {"filter": [{"terms": {"rule_id": ["r1"]}}]}},
        "sort": [
            {"started_at": {"order": "desc", "unmapped_type": "date"}},
            {"ended_at": {"order": "desc", "unmapped_type": "date"}},
            {"execution_id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
    }


# --- gaps --------------------------------------------------------------------------------


def test_gaps_record_extend_list_and_close(cluster: FakeCluster) -> None:
    store = cluster.enable_store()
    with ElasticsearchBackend(cluster.settings()) as backend:
        gap = Gap(rule_id="r1", start=T0, end=T1)
        backend.record_gap(gap)
        longer = Gap(rule_id="r1", start=T0, end=datetime(2024, 5, 1, 13, 0, tzinfo=UTC))
        backend.record_gap(longer)
        backend.record_gap(gap)  # a shorter report never shrinks the gap
        assert backend.open_gaps("r1") == [longer]
        middle = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
        backend.close_gap(longer, middle)
        assert backend.open_gaps() == [Gap(rule_id="r1", start=middle, end=longer.end)]
        backend.close_gap(Gap(rule_id="r1", start=middle, end=longer.end), longer.end)
        assert backend.open_gaps() == []
    assert store.docs["runner-gaps"] == {}
    puts = cluster.calls("PUT")
    assert puts[0].path == "/runner-gaps/_doc/r1%402024-05-01T12%3A00%3A00.000Z"
    assert puts[0].query == {"refresh": "wait_for"}
    assert puts[0].body == {
        "rule_id": "r1",
        "gap_start": "2024-05-01T12:00:00.000Z",
        "gap_end": "2024-05-01T12:09:00.000Z",
    }
    (search, *_) = cluster.calls("POST", "/runner-gaps/_search")
    assert search.body == {
        "size": 1000,
        "query": {"bool": {"filter": [{"term": {"rule_id": "r1"}}]}},
        "sort": [
            {"gap_start": {"order": "asc", "unmapped_type": "date"}},
            {"rule_id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
    }


def test_record_executions_is_one_bulk_of_index_actions(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    store = cluster.enable_store()
    second = replace(RECORD, execution_id="e2", status="succeeded", message="")
    backend.record_executions([RECORD, second])
    (bulk,) = cluster.calls("POST", "/_bulk")
    assert bulk.query == {"refresh": "wait_for"}
    assert bulk.body[::2] == [
        {"index": {"_index": "runner-executions", "_id": "e1"}},
        {"index": {"_index": "runner-executions", "_id": "e2"}},
    ]
    assert bulk.body[1] == RECORD_DOC
    assert set(store.docs["runner-executions"]) == {"e1", "e2"}
    backend.record_executions([RECORD])  # written again (a retried batch): replaced, no error
    assert len(store.docs["runner-executions"]) == 2
    backend.record_executions([])
    assert len(cluster.calls("POST", "/_bulk")) == 2  # nothing to write: no request


def test_record_executions_reports_items_not_written(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    refused = {"type": "mapper_parsing_exception", "reason": "failed to parse field [extra]"}
    cluster.script(
        "POST",
        "/_bulk",
        Reply(200, {"took": 1, "errors": True, "items": [
            {"index": {"_index": "runner-executions", "_id": "e1", "status": 201}},
            {"index": {"_index": "runner-executions", "_id": "e2", "status": 400,
                       "error": refused}},
        ]}),
    )  # fmt: skip
    second = replace(RECORD, execution_id="e2")
    with pytest.raises(BackendError, match=r"1 of 2 execution record\(s\) were not written "
                       r"\(first: e2: mapper_parsing_exception: failed to parse"):  # fmt: skip
        backend.record_executions([RECORD, second])
