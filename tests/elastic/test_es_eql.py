"""EQL over HTTP: the exact ``_eql/search`` request and how each answer is returned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.backends.base import Backend
from runner.backends.elasticsearch import ElasticsearchBackend
from runner.eql import parse_eql
from runner.errors import IndexNotFound, QueryRejected
from runner.search import EqlRequest, Hit, MissingEvent, SequenceMatch, TimeRange
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
END = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
EQL_PATH = "/logs-endpoint.events.process*/_eql/search"
QUERY = 'process where process.parent.name : "emond" and process.name : ("bash", "sh")'


def _is_backend(backend: ElasticsearchBackend) -> Backend:
    return backend  # mypy checks that ElasticsearchBackend satisfies the Backend protocol


def eql_body(events: list[dict[str, object]] | None = None, **extra: object) -> dict[str, object]:
    hits: dict[str, object] = {"total": {"value": len(events or []), "relation": "eq"}}
    if events is not None:
        hits["events"] = events
    return {
        "is_partial": False,
        "is_running": False,
        "took": 7,
        "timed_out": False,
        "hits": hits,
        **extra,
    }


def request(**overrides: object) -> EqlRequest:
    values: dict[str, object] = {
        "query": parse_eql(QUERY),
        "indices": ("logs-endpoint.events.process*",),
        "time_range": TimeRange(
            field="event.ingested", fallback="@timestamp", start=START, end=END
        ),
        "size": 100,
    }
    values.update(overrides)
    return EqlRequest(**values)  # type: ignore[arg-type]


RANGE = {
    "gte": "2024-05-01T12:00:00.000Z",
    "lte": "2024-05-01T12:09:00.000Z",
    "format": "strict_date_optional_time",
}
WINDOW_FILTER = {
    "bool": {
        "minimum_should_match": 1,
        "should": [
            {"range": {"event.ingested": RANGE}},
            {
                "bool": {
                    "filter": [
                        {"range": {"@timestamp": RANGE}},
                        {"bool": {"must_not": {"exists": {"field": "event.ingested"}}}},
                    ]
                }
            },
        ],
    }
}


def test_eql_events_request_body_and_hits(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    event = {
        "_index": ".ds-logs-endpoint.events.process-default-2024.05.01-000001",
        "_id": "ev-1",
        "_source": {"@timestamp": "2024-05-01T12:03:00.000Z", "process": {"name": "bash"}},
    }
    cluster.script("POST", EQL_PATH, Reply(200, eql_body([event])))
    term = {"term": {"host.id": "h1"}}
    result = backend.search_eql(request(filters=(term,)))

    (sent,) = cluster.calls("POST", EQL_PATH)
    assert sent.query == {"allow_no_indices": "true"}
    assert sent.body == {
        "query": QUERY,
        "size": 100,
        "fields": [{"field": "*", "include_unmapped": True}],
        "filter": {"bool": {"filter": [WINDOW_FILTER, term]}},
        "timestamp_field": "@timestamp",
    }
    assert sent.headers["accept"].startswith("application/vnd.elasticsearch+json; compatible-with=")
    assert result.events == (
        Hit(index=event["_index"], id="ev-1", source=event["_source"]),  # type: ignore[arg-type]
    )
    assert result.sequences == () and not result.is_partial


def test_eql_optional_fields_only_when_set(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script("POST", "/logs-*/_eql/search", Reply(200, eql_body([])))
    backend.search_eql(
        request(
            indices=("logs-*",),
            time_range=TimeRange(start=START, end=END),
            size=5,
            tiebreaker_field="event.sequence",
            event_category_field="event.dataset",
            timestamp_field="event.created",
            result_position="head",
        )
    )
    (sent,) = cluster.calls("POST", "/logs-*/_eql/search")
    assert sent.body == {
        "query": QUERY,
        "size": 5,
        "fields": [{"field": "*", "include_unmapped": True}],
        "filter": {"bool": {"filter": [{"range": {"@timestamp": RANGE}}]}},
        "timestamp_field": "event.created",
        "tiebreaker_field": "event.sequence",
        "event_category_field": "event.dataset",
        "result_position": "head",
    }


def test_eql_sequences_with_a_missing_event(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    first = {"_index": "logs-a", "_id": "s1", "_source": {"@timestamp": "2024-05-01T12:01:00Z"}}
    last = {"_index": "logs-a", "_id": "s3", "_source": {"@timestamp": "2024-05-01T12:02:00Z"}}
    missing = {"_index": "", "_id": "", "_source": {}, "missing": True}
    body = eql_body()
    body["hits"] = {
        "total": {"value": 1, "relation": "eq"},
        "sequences": [{"join_keys": ["host-1"], "events": [first, missing, last]}],
    }
    cluster.script("POST", EQL_PATH, Reply(200, body))
    result = backend.search_eql(request())
    assert result.events == ()
    assert result.sequences == (
        SequenceMatch(
            join_keys=("host-1",),
            events=(
                Hit(index="logs-a", id="s1", source=first["_source"]),  # type: ignore[arg-type]
                MissingEvent(),
                Hit(index="logs-a", id="s3", source=last["_source"]),  # type: ignore[arg-type]
            ),
        ),
    )


def test_eql_partial_results_are_returned_with_the_reason(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    event = {"_index": "logs-a", "_id": "e1", "_source": {}}
    failure = {
        "shard": 2,
        "index": "logs-b",
        "node": "n1",
        "reason": {
            "type": "node_not_connected_exception",
            "reason": "[n2][10.0.0.2:9300] Node not connected",
        },
    }
    body = eql_body([event], shard_failures=[failure])
    body["is_partial"] = True
    cluster.script("POST", EQL_PATH, Reply(200, body))
    result = backend.search_eql(request())
    assert result.is_partial
    assert result.events == (Hit(index="logs-a", id="e1", source={}),)
    assert result.partial_reason == (
        "1 shard(s) failed: [logs-b][2] node_not_connected_exception: "
        "[n2][10.0.0.2:9300] Node not connected"
    )


def test_eql_is_partial_without_shard_details(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    body = eql_body([])
    body["is_partial"] = True
    cluster.script("POST", EQL_PATH, Reply(200, body))
    result = backend.search_eql(request())
    assert result.is_partial
    assert result.partial_reason == "Elasticsearch returned partial results (is_partial)"


def test_eql_verification_exception_is_a_rejected_query(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    reason = (
        "Found 1 problem\nline 1:15: Unknown column [process.nam], did you mean [process.name]?"
    )
    cluster.script("POST", EQL_PATH, Reply(400, error_body(400, "verification_exception", reason)))
    with pytest.raises(QueryRejected) as caught:
        backend.search_eql(request())
    assert str(caught.value) == (
        "Elasticsearch rejected POST /logs-endpoint.events.process*/_eql/search (HTTP 400: "
        "verification_exception: Found 1 problem line 1:15: Unknown column [process.nam], "
        "did you mean [process.name]?)"
    )
    assert len(cluster.calls("POST", EQL_PATH)) == 1  # a rule problem: never retried


def test_eql_parsing_exception_is_a_rejected_query(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    body = error_body(400, "parsing_exception", "line 1:9: mismatched input 'wher'", line=1, col=9)
    cluster.script("POST", EQL_PATH, Reply(400, body))
    with pytest.raises(QueryRejected, match="parsing_exception: line 1:9: mismatched input"):
        backend.search_eql(request())


def test_eql_on_a_missing_concrete_index(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    body = error_body(
        404,
        "index_not_found_exception",
        "no such index [logs-custom]",
        index="logs-custom",
        **{"resource.type": "index_or_alias", "resource.id": "logs-custom"},
    )
    cluster.script("POST", "/logs-custom/_eql/search", Reply(404, body))
    with pytest.raises(IndexNotFound) as caught:
        backend.search_eql(request(indices=("logs-custom",)))
    assert "no such index [logs-custom]" in str(caught.value)
