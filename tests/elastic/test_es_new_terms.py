"""KQL ``_search`` and the three new-terms phases over HTTP: exact bodies, parsed answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.elastic.dsl import COMBINED_SCRIPT
from runner.elastic.events import PartialResults
from runner.elastic.requests import first_seen_request
from runner.errors import QueryRejected
from runner.kql import parse_kql, to_dsl
from runner.search import (
    FirstSeenRequest,
    Hit,
    KqlRequest,
    TermDocumentsRequest,
    TermsPage,
    TermsPageRequest,
    TermsQuery,
    TimeRange,
)
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body, search_body

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
END = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
HISTORY = datetime(2024, 4, 17, 12, 9, tzinfo=UTC)
SEARCH = "/logs-endpoint.events.process*/_search"
PARAMS = {"allow_no_indices": "true", "ignore_unavailable": "true"}
KQL = parse_kql("process.parent.name:exim4")
WINDOW = TimeRange(field="event.ingested", fallback="@timestamp", start=START, end=END)
HISTORY_RANGE = TimeRange(field="event.ingested", fallback="@timestamp", start=HISTORY, end=END)
RUNTIME = {
    "kibana.combined_timestamp": {
        "type": "date",
        "script": {
            "source": COMBINED_SCRIPT,
            "params": {"primary": "event.ingested", "secondary": "@timestamp"},
        },
    }
}


def _range(start: datetime) -> dict[str, Any]:
    return {
        "gte": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "lte": "2024-05-01T12:09:00.000Z",
        "format": "strict_date_optional_time",
    }


def time_filter(start: datetime) -> dict[str, Any]:
    bounds = _range(start)
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                {"range": {"event.ingested": bounds}},
                {
                    "bool": {
                        "filter": [
                            {"range": {"@timestamp": bounds}},
                            {"bool": {"must_not": {"exists": {"field": "event.ingested"}}}},
                        ]
                    }
                },
            ],
        }
    }


def terms(*fields: str) -> TermsQuery:
    return TermsQuery(
        query=KQL,
        fields=fields or ("process.executable",),
        indices=("logs-endpoint.events.process*",),
        timestamp_override="event.ingested",
    )


def aggs(buckets: list[dict[str, Any]], after: dict[str, Any] | None = None) -> dict[str, Any]:
    agg: dict[str, Any] = {"buckets": buckets}
    if after is not None:
        agg["after_key"] = after
    return search_body([], aggregations={"new_terms": agg})


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


# --- KQL _search -------------------------------------------------------------------------


def test_search_kql_request_and_hits(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    hit = {
        "_index": "logs-a",
        "_id": "d1",
        "_score": None,
        "_source": {"process": {"name": "sh"}},
        "sort": [1714564980000],
    }
    cluster.script("POST", SEARCH, Reply(200, search_body([hit])))
    hits = backend.search_kql(
        KqlRequest(
            query=KQL,
            indices=("logs-endpoint.events.process*",),
            time_range=WINDOW,
            size=100,
            timestamp_field="event.ingested",
        )
    )
    (sent,) = cluster.calls("POST", SEARCH)
    assert sent.query == PARAMS
    assert sent.body == {
        "size": 100,
        "query": {"bool": {"filter": [to_dsl(KQL), time_filter(START)]}},
        "fields": [{"field": "*", "include_unmapped": True}],
        "sort": [
            {"event.ingested": {"order": "asc", "unmapped_type": "date"}},
            {"@timestamp": {"order": "asc", "unmapped_type": "date"}},
        ],
    }
    assert hits == (Hit(index="logs-a", id="d1", source={"process": {"name": "sh"}}),)


def test_query_pages_use_a_point_in_time_and_search_after(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    def hit(n: int) -> dict[str, Any]:
        return {"_index": "logs-a", "_id": f"d{n}", "_score": None, "_source": {},
                "sort": [1714564980000 + n, n]}  # fmt: skip

    pit_path = "/logs-endpoint.events.process*/_pit"
    cluster.script("POST", pit_path, Reply(200, {"id": "pit-1"}))
    cluster.script(
        "POST",
        "/_search",
        Reply(200, {**search_body([hit(1), hit(2)]), "pit_id": "pit-2"}),
        Reply(200, {**search_body([hit(3)]), "pit_id": "pit-2"}),
    )
    cluster.script("DELETE", "/_pit", Reply(200, {"succeeded": True, "num_freed": 1}))
    request = KqlRequest(query=KQL, indices=("logs-endpoint.events.process*",),
                         time_range=WINDOW, size=2, timestamp_field="event.ingested")  # fmt: skip
    pages = [[h.id for h in page.hits] for page in backend.query_pages(request)]
    assert pages == [["d1", "d2"], ["d3"]]
    (opened,) = cluster.calls("POST", pit_path)
    assert opened.query == {"keep_alive": "5m", "ignore_unavailable": "true"}
    first, second = cluster.calls("POST", "/_search")
    assert first.query == {} and "from" not in first.body and "search_after" not in first.body
    assert first.body["pit"] == {"id": "pit-1", "keep_alive": "5m"}
    assert second.body["pit"]["id"] == "pit-2"  # the latest id Elasticsearch handed back
    assert second.body["search_after"] == [1714564980002, 2]
    (closed,) = cluster.calls("DELETE", "/_pit")
    assert closed.body == {"id": "pit-2"}


def test_a_failing_close_never_hides_the_search_error(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script("POST", "/logs-a/_pit", Reply(200, {"id": "pit-1"}))
    cluster.script("POST", "/_search", Reply(400, error_body(400, "parsing_exception", "bad")))
    cluster.script("DELETE", "/_pit", Reply(400, error_body(400, "illegal_argument", "close")))
    with pytest.raises(QueryRejected, match="bad"):
        list(backend.query_pages(KqlRequest(query=KQL, indices=("logs-a",))))
    assert len(cluster.calls("DELETE", "/_pit")) == 1


def test_search_kql_with_failed_shards_fails_the_window(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    body = search_body([])
    body["_shards"] = {
        "total": 3,
        "successful": 2,
        "skipped": 0,
        "failed": 1,
        "failures": [
            {
                "shard": 1,
                "index": "logs-b",
                "node": "n1",
                "reason": {"type": "query_shard_exception", "reason": "failed to create query"},
            }
        ],
    }
    cluster.script("POST", SEARCH, Reply(200, body))
    with pytest.raises(PartialResults) as caught:
        backend.search_kql(KqlRequest(query=KQL, indices=("logs-endpoint.events.process*",)))
    assert str(caught.value) == (
        f"incomplete answer to POST {SEARCH}: 1 shard(s) failed: [logs-b][1] "
        "query_shard_exception: failed to create query; the window will be searched again"
    )


# --- phase 1 -----------------------------------------------------------------------------


def test_terms_page_follows_after_key_over_two_pages(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    field = "process.executable"
    page1 = aggs(
        [{"key": {field: "/bin/a"}, "doc_count": 3}, {"key": {field: "/bin/b"}, "doc_count": 1}],
        after={field: "/bin/b"},
    )
    page2 = aggs([{"key": {field: "/bin/c"}, "doc_count": 2}], after={field: "/bin/c"})
    cluster.script("POST", SEARCH, Reply(200, page1), Reply(200, page2))
    first = backend.terms_page(TermsPageRequest(terms=terms(), time_range=WINDOW, size=2))
    assert first == TermsPage(keys=(("/bin/a",), ("/bin/b",)), after=("/bin/b",))
    second = backend.terms_page(
        TermsPageRequest(terms=terms(), time_range=WINDOW, size=2, after=first.after)
    )
    assert second == TermsPage(keys=(("/bin/c",),), after=None)  # short page: the last

    sent = [r.body for r in cluster.calls("POST", SEARCH)]
    composite = {"sources": [{field: {"terms": {"field": field}}}], "size": 2}
    expected = {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [to_dsl(KQL), time_filter(START)]}},
        "aggregations": {"new_terms": {"composite": composite}},
    }
    assert sent[0] == expected
    expected["aggregations"] = {
        "new_terms": {"composite": {**composite, "after": {field: "/bin/b"}}}
    }
    assert sent[1] == expected


# --- phase 2 -----------------------------------------------------------------------------


def test_first_seen_single_field_terms_with_min(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    first_a = datetime(2024, 5, 1, 12, 3, tzinfo=UTC)
    first_b = datetime(2024, 4, 20, 8, 0, tzinfo=UTC)
    body = aggs(
        [
            {
                "key": "/bin/a",
                "doc_count": 1,
                "first_seen": {"value": ms(first_a), "value_as_string": "2024-05-01T12:03:00.000Z"},
            },
            {
                "key": "/bin/b",
                "doc_count": 9,
                "first_seen": {"value": ms(first_b), "value_as_string": "2024-04-20T08:00:00.000Z"},
            },
        ]
    )
    cluster.script("POST", SEARCH, Reply(200, body))
    keys = (("/bin/a",), ("/bin/b",), ("/bin/c",))
    found = backend.first_seen(FirstSeenRequest(terms=terms(), time_range=HISTORY_RANGE, keys=keys))
    assert found == {("/bin/a",): first_a, ("/bin/b",): first_b}  # /bin/c: not in the answer

    (sent,) = cluster.calls("POST", SEARCH)
    assert sent.body == {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [to_dsl(KQL), time_filter(HISTORY)]}},
        "aggregations": {
            "new_terms": {
                "terms": {
                    "field": "process.executable",
                    "size": 3,
                    "include": ["/bin/a", "/bin/b", "/bin/c"],
                },
                "aggregations": {"first_seen": {"min": {"field": "kibana.combined_timestamp"}}},
            }
        },
        "runtime_mappings": RUNTIME,
    }


def test_first_seen_bucket_selector_when_the_window_start_is_known() -> None:
    request = FirstSeenRequest(terms=terms(), time_range=HISTORY_RANGE, keys=(("/bin/a",),))
    body = first_seen_request(request, new_after=START).body
    assert body["aggregations"]["new_terms"]["aggregations"]["filtering_agg"] == {
        "bucket_selector": {
            "buckets_path": {"first_seen_value": "first_seen"},
            "script": {
                "params": {"start_time": ms(START)},
                "source": "params.first_seen_value > params.start_time",
            },
        }
    }


def test_first_seen_matches_numeric_and_boolean_bucket_keys(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    seen = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    body = aggs(
        [
            {"key": 1, "key_as_string": "true", "doc_count": 1, "first_seen": {"value": ms(seen)}},
            {"key": 443.0, "doc_count": 1, "first_seen": {"value": ms(seen)}},
        ]
    )
    cluster.script("POST", SEARCH, Reply(200, body))
    found = backend.first_seen(
        FirstSeenRequest(terms=terms("x"), time_range=HISTORY_RANGE, keys=((True,), (443,)))
    )
    assert found == {(True,): seen, (443,): seen}


COMBOS = [
    ("/bin/a", "root"),
    ("/bin/b", "root"),
    ("/bin/c", "bob"),
    ("/bin/d", "bob"),
    ("/bin/e", "eve"),
    ("/bin/f", "eve"),
]
FIELDS = ("process.executable", "user.name")


def combos_filter(keys: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                {
                    "bool": {
                        "filter": [
                            {"term": {"process.executable": exe}},
                            {"term": {"user.name": user}},
                        ]
                    }
                }
                for exe, user in keys
            ],
        }
    }


def composite_buckets(keys: list[tuple[str, str]], seen: datetime) -> list[dict[str, Any]]:
    return [
        {
            "key": dict(zip(FIELDS, key, strict=True)),
            "doc_count": 1,
            "first_seen": {"value": ms(seen)},
        }
        for key in keys
    ]


def test_first_seen_several_fields_batches_and_halves_on_too_many_clauses(
    cluster: FakeCluster,
) -> None:
    seen = datetime(2024, 5, 1, 12, 4, tzinfo=UTC)
    too_many = error_body(
        400,
        "search_phase_execution_exception",
        "all shards failed",
        phase="query",
        grouped=True,
        failed_shards=[
            {
                "shard": 0,
                "index": "logs-a",
                "node": "n1",
                "reason": {
                    "type": "too_many_nested_clauses",
                    "reason": "Query contains too many nested clauses; maxClauseCount is set to 8",
                },
            }
        ],
    )
    too_many["error"]["root_cause"] = [too_many["error"]["failed_shards"][0]["reason"]]
    cluster.script(
        "POST",
        SEARCH,
        Reply(400, too_many),
        Reply(
            200,
            aggs(
                composite_buckets(COMBOS[0:2], seen),
                after=dict(zip(FIELDS, COMBOS[1], strict=True)),
            ),
        ),
        Reply(
            200,
            aggs(
                composite_buckets(COMBOS[2:3], seen),
                after=dict(zip(FIELDS, COMBOS[2], strict=True)),
            ),
        ),
        Reply(
            200,
            aggs(
                composite_buckets(COMBOS[4:6], seen),
                after=dict(zip(FIELDS, COMBOS[5], strict=True)),
            ),
        ),
    )
    with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY, max_combinations=4) as es:
        request = FirstSeenRequest(
            terms=terms(*FIELDS), time_range=HISTORY_RANGE, keys=tuple(COMBOS)
        )
        found = es.first_seen(request)
        assert es._events.batch_size == 2  # halved for later calls too
    # /bin/d|bob is absent from its batch's answer: it did not occur in the history.
    assert found == {key: seen for key in COMBOS if key != ("/bin/d", "bob")}

    sent = [r.body for r in cluster.calls("POST", SEARCH)]
    batches = [COMBOS[0:4], COMBOS[0:2], COMBOS[2:4], COMBOS[4:6]]
    assert len(sent) == len(batches)
    for body, batch in zip(sent, batches, strict=True):
        assert body == {
            "size": 0,
            "track_total_hits": False,
            "query": {
                "bool": {"filter": [to_dsl(KQL), time_filter(HISTORY), combos_filter(batch)]}
            },
            "aggregations": {
                "new_terms": {
                    "composite": {
                        "sources": [{f: {"terms": {"field": f}}} for f in FIELDS],
                        "size": len(batch),
                    },
                    "aggregations": {"first_seen": {"min": {"field": "kibana.combined_timestamp"}}},
                }
            },
            "runtime_mappings": RUNTIME,
        }


# --- phase 3 -----------------------------------------------------------------------------


def test_term_documents_single_field_top_hits(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    doc = {
        "_index": "logs-a",
        "_id": "d7",
        "_score": None,
        "_source": {"process": {"executable": "/bin/a"}},
        "sort": [ms(START)],
    }
    body = aggs(
        [
            {
                "key": "/bin/a",
                "doc_count": 4,
                "docs": {
                    "hits": {
                        "total": {"value": 4, "relation": "eq"},
                        "max_score": None,
                        "hits": [doc],
                    }
                },
            }
        ]
    )
    cluster.script("POST", SEARCH, Reply(200, body))
    found = backend.term_documents(
        TermDocumentsRequest(terms=terms(), time_range=WINDOW, keys=(("/bin/a",),))
    )
    assert found == {("/bin/a",): Hit(index="logs-a", id="d7", source=doc["_source"])}
    (sent,) = cluster.calls("POST", SEARCH)
    assert sent.body == {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [to_dsl(KQL), time_filter(START)]}},
        "aggregations": {
            "new_terms": {
                "terms": {"field": "process.executable", "size": 1, "include": ["/bin/a"]},
                "aggregations": {
                    "docs": {
                        "top_hits": {
                            "size": 1,
                            "sort": [{"kibana.combined_timestamp": {"order": "asc"}}],
                        }
                    }
                },
            }
        },
        "runtime_mappings": RUNTIME,
    }


def test_term_documents_several_fields_pages_past_unasked_combinations(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    # An array field (user.name: [root, admin]) adds a combination nobody asked for.
    def bucket(key: tuple[str, str], doc_id: str) -> dict[str, Any]:
        hit = {"_index": "logs-a", "_id": doc_id, "_source": {"id": doc_id}}
        return {
            "key": dict(zip(FIELDS, key, strict=True)),
            "doc_count": 1,
            "docs": {"hits": {"hits": [hit]}},
        }

    wanted = [("/bin/a", "root"), ("/bin/b", "root")]
    cluster.script(
        "POST",
        SEARCH,
        Reply(
            200,
            aggs(
                [bucket(("/bin/a", "admin"), "x"), bucket(wanted[0], "d1")],
                after=dict(zip(FIELDS, wanted[0], strict=True)),
            ),
        ),
        Reply(
            200, aggs([bucket(wanted[1], "d2")], after=dict(zip(FIELDS, wanted[1], strict=True)))
        ),
    )
    found = backend.term_documents(
        TermDocumentsRequest(terms=terms(*FIELDS), time_range=WINDOW, keys=tuple(wanted))
    )
    assert found == {
        wanted[0]: Hit(index="logs-a", id="d1", source={"id": "d1"}),
        wanted[1]: Hit(index="logs-a", id="d2", source={"id": "d2"}),
    }
    sent = [r.body for r in cluster.calls("POST", SEARCH)]
    assert "after" not in sent[0]["aggregations"]["new_terms"]["composite"]
    assert sent[1]["aggregations"]["new_terms"]["composite"]["after"] == dict(
        zip(FIELDS, wanted[0], strict=True)
    )
    assert sent[1]["query"]["bool"]["filter"][-1] == combos_filter(wanted)
    assert sent[1]["aggregations"]["new_terms"]["aggregations"]["docs"] == {
        "top_hits": {"size": 1, "sort": [{"kibana.combined_timestamp": {"order": "asc"}}]}
    }
