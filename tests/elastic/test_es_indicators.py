"""Indicator pages over a point in time: exact requests, and the point in time is closed
whatever happens, without a failed close hiding the error that ended the walk."""

from __future__ import annotations

import io
from contextlib import closing

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.errors import QueryRejected
from runner.kql import parse_kql, to_dsl
from runner.search import IndicatorRequest
from tests.elastic.fake_cluster import FakeCluster, Recorded, Reply, error_body, search_body

REQUEST = IndicatorRequest(
    query=parse_kql("event.module:ti_*"),
    indices=("logs-ti_*",),
    filters=({"match_phrase": {"event.kind": "enrichment"}},),
    size=2,
)


def hit(n: int) -> dict[str, object]:
    return {"_index": "logs-ti_x-default", "_id": f"i{n}", "_score": None,
            "_source": {"threat": {"indicator": {"ip": f"10.0.0.{n}"}}}, "sort": [n]}  # fmt: skip


def test_pages_follow_search_after_and_the_newest_pit_id(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script("POST", "/logs-ti_*/_pit", Reply(200, {"id": "pit-a"}))
    cluster.script(
        "POST",
        "/_search",
        Reply(200, {**search_body([hit(1), hit(2)]), "pit_id": "pit-b"}),
        Reply(200, {**search_body([hit(3)]), "pit_id": "pit-c"}),
    )
    cluster.script("DELETE", "/_pit", Reply(200, {"succeeded": True, "num_freed": 1}))
    with closing(backend.indicator_pages(REQUEST)) as pages:
        ids = [[h.id for h in page] for page in pages]
    assert ids == [["i1", "i2"], ["i3"]]
    (opened,) = cluster.calls("POST", "/logs-ti_*/_pit")
    assert opened.query == {"keep_alive": "5m", "ignore_unavailable": "true"}
    first, second = cluster.calls("POST", "/_search")
    assert first.body == {
        "size": 2,
        "query": {
            "bool": {
                "filter": [to_dsl(REQUEST.query), {"match_phrase": {"event.kind": "enrichment"}}]
            }
        },
        "pit": {"id": "pit-a", "keep_alive": "5m"},
        "sort": ["_shard_doc"],
        "track_total_hits": False,
    }
    assert second.body["search_after"] == [2] and second.body["pit"]["id"] == "pit-b"
    (closed,) = cluster.calls("DELETE", "/_pit")
    assert closed.body == {"id": "pit-c"}


def test_a_failed_page_still_closes_and_its_error_wins(
    cluster: FakeCluster, backend: ElasticsearchBackend, quiet_logs: io.StringIO
) -> None:
    cluster.script("POST", "/logs-ti_*/_pit", Reply(200, {"id": "pit-a"}))
    bad = error_body(400, "search_phase_execution_exception", "all shards failed")
    cluster.script("POST", "/_search", Reply(400, bad))
    closes: list[Recorded] = []

    def refuse_close(request: Recorded) -> Reply:
        closes.append(request)
        return Reply(403, error_body(403, "security_exception", "not allowed to close"))

    cluster.script("DELETE", "/_pit", refuse_close)
    pages = backend.indicator_pages(REQUEST)
    with pytest.raises(QueryRejected, match="all shards failed"), closing(pages):
        list(pages)
    assert [c.body for c in closes] == [{"id": "pit-a"}]
    assert "point_in_time_not_closed" in quiet_logs.getvalue()


def test_abandoning_the_pages_closes_the_pit(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script("POST", "/logs-ti_*/_pit", Reply(200, {"id": "pit-a"}))
    cluster.script("POST", "/_search", Reply(200, {**search_body([hit(1), hit(2)])}))
    cluster.script("DELETE", "/_pit", Reply(200, {"succeeded": True, "num_freed": 1}))
    with closing(backend.indicator_pages(REQUEST)) as pages:
        next(pages)  # stop after the first page (the cap was reached)
    assert [c.body for c in cluster.calls("DELETE", "/_pit")] == [{"id": "pit-a"}]
