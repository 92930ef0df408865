"""Threshold requests and answers as plain data: Kibana's aggregation shapes, the signal
history's bucket filter, and the parsing of both answer forms."""

from __future__ import annotations

from datetime import UTC, datetime

from runner.elastic.threshold import bucket_filter, threshold_page, threshold_search
from runner.kql import parse_kql
from runner.search import SignalHistoryEntry, ThresholdRequest, TimeRange
from tests.elastic.fake_cluster import search_body

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
END = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
LAST = datetime(2024, 5, 1, 12, 4, 30, tzinfo=UTC)


def request(*fields: str, **extra: object) -> ThresholdRequest:
    return ThresholdRequest(
        query=parse_kql("event.outcome:failure"),
        fields=fields,
        value=5,
        time_range=TimeRange(field="@timestamp", start=START, end=END),
        indices=("logs-*",),
        **extra,  # type: ignore[arg-type]
    )


def test_multi_bucket_request_with_cardinality_and_after_key() -> None:
    native = threshold_search(
        request("user.name", "source.port", cardinality_field="host.id", cardinality_value=2,
                after=("alice", 22))
    )  # fmt: skip
    assert native.path == "/logs-*/_search?allow_no_indices=true&ignore_unavailable=true"
    agg = native.body["aggregations"]["thresholdTerms"]
    assert agg["composite"]["after"] == {"user.name": "alice", "source.port": 22}
    assert agg["aggregations"] == {
        "max_timestamp": {"max": {"field": "@timestamp"}},
        "min_timestamp": {"min": {"field": "@timestamp"}},
        "cardinality_count": {"cardinality": {"field": "host.id"}},
        "cardinality_check": {
            "bucket_selector": {
                "buckets_path": {"cardinalityCount": "cardinality_count"},
                "script": {"source": "params.cardinalityCount >= 2"},
            }
        },
        "count_check": {
            "bucket_selector": {
                "buckets_path": {"docCount": "_count"},
                "script": {"source": "params.docCount >= 5"},
            }
        },
    }
    assert "runtime_mappings" not in native.body and native.body["size"] == 0


def test_history_becomes_kibanas_bucket_filter() -> None:
    history = (
        SignalHistoryEntry(terms=(("user.name", "alice"), ("source.port", 22)), last_signal=LAST),
        SignalHistoryEntry(terms=(("flag", True),), last_signal=LAST),
    )
    assert bucket_filter(history, "kibana.combined_timestamp") == {
        "bool": {
            "must_not": [
                {"bool": {"filter": [
                    {"range": {"kibana.combined_timestamp": {"lte": "2024-05-01T12:04:30.000Z"}}},
                    {"term": {"user.name": "alice"}},
                    {"term": {"source.port": "22"}},
                ]}},
                {"bool": {"filter": [
                    {"range": {"kibana.combined_timestamp": {"lte": "2024-05-01T12:04:30.000Z"}}},
                    {"term": {"flag": "true"}},
                ]}},
            ]
        }
    }  # fmt: skip
    native = threshold_search(request("user.name", history=history))
    assert bucket_filter(history, "@timestamp") in native.body["query"]["bool"]["filter"]


def test_single_bucket_request_and_answer() -> None:
    req = request(cardinality_field="host.id", cardinality_value=2)
    native = threshold_search(req)
    assert native.body["track_total_hits"] is True
    assert set(native.body["aggregations"]) == {
        "max_timestamp",
        "min_timestamp",
        "cardinality_count",
    }
    answer = search_body(
        [],
        aggregations={
            "max_timestamp": {"value": 1714565340000.0},
            "min_timestamp": {"value": 1714565100000.0},
            "cardinality_count": {"value": 2},
        },
    )
    answer["hits"]["total"] = {"value": 7, "relation": "eq"}
    (bucket,) = threshold_page(answer, req).buckets
    assert (bucket.key, bucket.count, bucket.cardinality) == ((), 7, 2)
    assert bucket.max_time == datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
    answer["aggregations"]["cardinality_count"]["value"] = 1
    assert threshold_page(answer, req).buckets == ()


def test_composite_answer_keys_in_field_order() -> None:
    req = request("user.name", "source.port")
    answer = search_body(
        [],
        aggregations={
            "thresholdTerms": {
                "after_key": {"user.name": "bob", "source.port": 22},
                "buckets": [
                    {"key": {"source.port": 22, "user.name": "bob"}, "doc_count": 6,
                     "max_timestamp": {"value": 1714565340000.0},
                     "min_timestamp": {"value": 1714565100000.0}},
                ],
            }
        },
    )  # fmt: skip
    page = threshold_page(answer, req)
    assert [(b.key, b.count) for b in page.buckets] == [(("bob", 22), 6)]
    assert page.after == ("bob", 22)
