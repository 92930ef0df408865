"""The engine stand-in answers by Elasticsearch's documented semantics (through the real client).

Each case pins a behaviour runner's requests depend on: query_string's whitespace split and
default operator, wildcard and match on keyword vs text, term, range on dates, exists, bool,
sort and search_after, points in time, field capabilities, and the documented errors.
``logs-*-*`` is a data stream with the ECS dynamic mappings (strings are keywords,
``message`` is ``match_only_text``, ``*command_line`` is ``wildcard``); ``plain-index`` gets
Elasticsearch's default dynamic mapping (strings are ``text`` with a ``.keyword``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.elastic.client import ElasticClient
from runner.errors import BackendError
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster

LOGS = "logs-aws.cloudtrail-default"
PLAIN = "plain-index"
DOCS = [
    ("1", {"user_agent": {"original": "[S3 Browser 9.5.5 https://s3browser.com]"},
           "message": "Hello World", "process": {"command_line": "sh -c curl http://x"}}),
    ("2", {"user_agent": {"original": "aws-cli/2.0 Browser"}, "message": "hello there",
           "process": {"command_line": "/usr/bin/curl -s"}}),
    ("3", {"user_agent": {"original": "S3 Browser"}, "message": "other",
           "process": {"command_line": "wget x"}, "source": {"ip": "10.1.2.3"}}),
    ("4", {"user_agent": {"original": "Browser Tool"}, "message": "World peace",
           "process": {"command_line": "curl-config"}}),
]  # fmt: skip


@pytest.fixture
def es(tmp_path: Path) -> Iterator[ElasticClient]:
    cluster = EngineCluster(tmp_path / "c.duckdb").start()
    client = ElasticClient(cluster.settings(), retry=FAST_RETRY)
    lines: list[dict[str, Any]] = []
    for i, (doc_id, doc) in enumerate(DOCS):
        stamped = {"@timestamp": f"2024-05-01T12:0{i}:00.000Z", **doc}
        lines += [{"create": {"_index": LOGS, "_id": doc_id}}, stamped]
        lines += [{"create": {"_index": PLAIN, "_id": doc_id}}, stamped]
    assert client.request("POST", "/_bulk?refresh=wait_for", lines).body["errors"] is False
    try:
        yield client
    finally:
        client.close()
        cluster.stop()
    assert not cluster.unexpected


def ids(es: ElasticClient, index: str, query: dict[str, Any], **extra: Any) -> list[str]:
    body = {"query": query, "size": 100, "sort": [{"@timestamp": "asc"}], **extra}
    return [h["_id"] for h in es.request("POST", f"/{index}/_search", body).body["hits"]["hits"]]


def qs(query: str, *fields: str, **options: Any) -> dict[str, Any]:
    return {"query_string": {"query": query, **({"fields": list(fields)} if fields else {}),
                             **options}}  # fmt: skip


def test_query_string_splits_on_whitespace_with_or(es: ElasticClient) -> None:
    # `*S3 Browser*` is `*S3` OR `Browser*`: only "Browser Tool" starts with Browser.
    assert ids(es, LOGS, qs("*S3 Browser*", "user_agent.original")) == ["4"]
    # `* curl*` is `*` OR `curl*`: `*` matches every value.
    assert ids(es, LOGS, qs("* curl*", "process.command_line")) == ["1", "2", "3", "4"]
    # Escaped whitespace keeps one term (Kibana's escaping does not escape spaces).
    assert ids(es, LOGS, qs(r"*S3\ Browser*", "user_agent.original")) == ["1", "3"]


def test_wildcard_query_is_whole_value_and_case_sensitive_on_keywords(es: ElasticClient) -> None:
    assert ids(es, LOGS, {"wildcard": {"user_agent.original": {"value": "*S3 Browser*"}}}) == [
        "1", "3"]  # fmt: skip
    assert ids(es, LOGS, {"wildcard": {"user_agent.original": "*s3 browser*"}}) == []
    ci = {"wildcard": {"user_agent.original": {"value": "*s3 browser*", "case_insensitive": True}}}
    assert ids(es, LOGS, ci) == ["1", "3"]
    assert ids(es, LOGS, {"wildcard": {"process.command_line": "* curl*"}}) == ["1"]
    # On a text field the pattern meets each token (lower-cased by the normalizer).
    assert ids(es, PLAIN, {"wildcard": {"user_agent.original": "*S3*"}}) == ["1", "3"]


def test_match_and_term_on_keyword_vs_text(es: ElasticClient) -> None:
    assert ids(es, LOGS, {"match": {"user_agent.original": "S3 Browser"}}) == ["3"]
    assert ids(es, LOGS, {"match": {"user_agent.original.text": "browser"}}) == [
        "1", "2", "3", "4"]  # fmt: skip
    assert ids(es, LOGS, {"match": {"message": "HELLO"}}) == ["1", "2"]
    assert ids(es, LOGS, {"term": {"message": "Hello"}}) == []  # tokens are lower-cased
    assert ids(es, LOGS, {"term": {"message": "hello"}}) == ["1", "2"]
    assert ids(es, PLAIN, {"term": {"user_agent.original.keyword": "S3 Browser"}}) == ["3"]
    assert ids(es, LOGS, {"match_phrase": {"message": "world hello"}}) == []
    assert ids(es, LOGS, {"match_phrase": {"message": "hello world"}}) == ["1"]
    # A field no index maps matches nothing (what a literal wildcard field name does).
    assert ids(es, LOGS, {"match": {"user_agent.*": "S3 Browser"}}) == []


def test_query_string_default_operator_and_default_field(es: ElasticClient) -> None:
    assert ids(es, LOGS, qs("hello world", "message")) == ["1", "2", "4"]
    assert ids(es, LOGS, qs("hello world", "message", default_operator="AND")) == ["1"]
    assert ids(es, LOGS, qs("hello AND NOT there", "message")) == ["1"]
    assert ids(es, LOGS, qs("message:peace OR user_agent.original:S3*")) == ["3", "4"]


def test_range_exists_ip_and_bool(es: ElasticClient) -> None:
    window = {"range": {"@timestamp": {"gte": "2024-05-01T12:01:00Z",
                                       "lte": "2024-05-01T12:02:00.000Z"}}}  # fmt: skip
    assert ids(es, LOGS, window) == ["2", "3"]
    assert ids(es, LOGS, {"exists": {"field": "source.ip"}}) == ["3"]
    assert ids(es, LOGS, {"exists": {"field": "process"}}) == ["1", "2", "3", "4"]
    assert ids(es, LOGS, {"term": {"source.ip": "10.0.0.0/8"}}) == ["3"]
    query = {"bool": {"filter": [window], "must_not": [{"exists": {"field": "source.ip"}}]}}
    assert ids(es, LOGS, query) == ["2"]
    should = {"bool": {"should": [{"term": {"message": "other"}}, {"term": {"message": "peace"}}],
                       "minimum_should_match": 1}}  # fmt: skip
    assert ids(es, LOGS, should) == ["3", "4"]


def test_sort_search_after_and_point_in_time(es: ElasticClient) -> None:
    sort = [{"@timestamp": {"order": "desc"}}]
    first = es.request("POST", f"/{LOGS}/_search", {"size": 2, "sort": sort}).body["hits"]["hits"]
    assert [h["_id"] for h in first] == ["4", "3"]
    assert first[0]["sort"] == [1714564980000]  # dates sort as epoch milliseconds
    body = {"size": 2, "sort": sort, "search_after": first[-1]["sort"]}
    rest = es.request("POST", f"/{LOGS}/_search", body).body["hits"]["hits"]
    assert [h["_id"] for h in rest] == ["2", "1"]
    pit = es.request("POST", f"/{LOGS}/_pit?keep_alive=1m", None).body["id"]
    late = {"@timestamp": "2024-05-01T11:00:00Z", "message": "late"}
    es.request("POST", "/_bulk", [{"create": {"_index": LOGS, "_id": "5"}}, late])
    body = {"size": 10, "pit": {"id": pit, "keep_alive": "1m"}, "sort": [{"@timestamp": "asc"}]}
    answer = es.request("POST", "/_search", body).body
    assert [h["_id"] for h in answer["hits"]["hits"]] == ["1", "2", "3", "4"]
    assert answer["pit_id"] == pit and len(answer["hits"]["hits"][0]["sort"]) == 2  # _shard_doc
    assert ids(es, LOGS, {"match_all": {}}) == ["5", "1", "2", "3", "4"]
    assert es.request("DELETE", "/_pit", {"id": pit}).body["num_freed"] == 1


def test_field_caps_report_types_per_index(es: ElasticClient) -> None:
    caps = es.request("GET", f"/{LOGS},{PLAIN}/_field_caps?fields=user_agent.*,message").body
    assert sorted(caps["indices"]) == [LOGS, PLAIN]
    original = caps["fields"]["user_agent.original"]
    assert original["keyword"]["indices"] == [LOGS]
    assert original["text"]["indices"] == [PLAIN]
    assert caps["fields"]["user_agent.original.text"]["match_only_text"]["indices"] == [LOGS]
    assert set(caps["fields"]["message"]) == {"match_only_text", "text"}


def test_documented_errors(es: ElasticClient) -> None:
    missing = es.request("POST", "/nope/_search", {}, allow=(404,))
    assert missing.body["error"]["type"] == "index_not_found_exception"
    ignored = es.request("POST", "/nope/_search?ignore_unavailable=true", {"size": 1})
    assert ignored.body["hits"]["hits"] == []
    window = es.request("POST", f"/{LOGS}/_search", {"from": 9990, "size": 100}, allow=(400,))
    assert "Result window is too large" in str(window.body)
    text_sort = es.request("POST", f"/{PLAIN}/_search", {"sort": ["message"]}, allow=(400,))
    assert "Fielddata is disabled" in str(text_sort.body)
    unmapped = es.request("POST", f"/{LOGS}/_search", {"sort": ["nope"]}, allow=(400,))
    assert "No mapping found for [nope]" in str(unmapped.body)
    body = es.request("POST", "/_bulk", [{"create": {"_index": LOGS, "_id": "1"}},
                                         {"@timestamp": "2024-05-01T12:00:00Z"},
                                         {"index": {"_index": LOGS, "_id": "9"}},
                                         {"@timestamp": "2024-05-01T12:00:00Z"}]).body  # fmt: skip
    assert [i[next(iter(i))]["status"] for i in body["items"]] == [409, 400]
    with pytest.raises(BackendError):
        es.request("POST", f"/{LOGS}/_search", {"query": {"match": {"@timestamp": "soon"}}})


def test_eql_is_answered_by_the_engine(es: ElasticClient) -> None:
    body = {"query": 'any where user_agent.original : "*s3 browser*"', "size": 10,
            "filter": {"range": {"@timestamp": {"lte": "2024-05-01T12:01:30Z"}}}}  # fmt: skip
    answer = es.request("POST", f"/{LOGS}/_eql/search", body).body
    assert [e["_id"] for e in answer["hits"]["events"]] == ["1"]
    assert answer["is_partial"] is False
    bad = es.request("POST", f"/{LOGS}/_eql/search", {"query": "any where ("}, allow=(400,))
    assert bad.body["error"]["type"] == "parsing_exception"
