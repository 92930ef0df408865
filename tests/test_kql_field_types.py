"""KQL compiled with field types: the clause shapes of kbn-es-query's is.ts and range.ts
(called by the detection engine with the data view's fields and dateFormatTZ "Zulu")."""

from __future__ import annotations

from typing import Any

from runner.elastic.field_caps import FieldCapsCache
from runner.kql import parse_kql, to_dsl
from runner.kql.fields import FieldTypes, kibana_type, query_fields

TYPES = FieldTypes.from_types(
    {
        "process.name": ["keyword"],
        "process.command_line": ["wildcard"],
        "message": ["match_only_text"],
        "user_agent.original": ["keyword", "text"],  # keyword in one index, text in another
        "@timestamp": ["date"],
        "a.0.display_name": ["keyword"],
        "a.1.display_name": ["keyword"],
        "a.1.other": ["keyword"],
        "n.items": ["nested"],
        "n.items.name": ["keyword"],
        "destination.port": ["long"],
    },
    nested=["n.items"],
)


def dsl(query: str) -> dict[str, Any]:
    return to_dsl(parse_kql(query), TYPES)


def should(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"should": list(queries), "minimum_should_match": 1}}


def test_value_clause_by_field_type() -> None:
    assert dsl("process.name: bash") == should({"term": {"process.name": {"value": "bash"}}})
    assert dsl("message: hello") == should({"match": {"message": "hello"}})
    assert dsl('message: "hello world"') == should({"match_phrase": {"message": "hello world"}})
    assert dsl("destination.port: 22") == should({"match": {"destination.port": "22"}})
    assert dsl("user_agent.original: x") == should({"match": {"user_agent.original": "x"}})
    assert dsl("unknown.field: x") == should({"match": {"unknown.field": "x"}})


def test_wildcard_value_is_a_wildcard_query_only_on_pure_keywords() -> None:
    assert dsl("process.name: *S3 Browser*") == should(
        {"wildcard": {"process.name": {"value": "*S3 Browser*"}}}
    )
    assert dsl("process.command_line: * curl*") == should(
        {"query_string": {"fields": ["process.command_line"], "query": "* curl*"}}
    )
    assert dsl("process.name: /tmp/*") == should(
        {"wildcard": {"process.name": {"value": "\\/tmp\\/*"}}}
    )


def test_dates_become_ranges_in_the_rules_time_zone() -> None:
    assert dsl('@timestamp: "2024-05-01"') == should(
        {"range": {"@timestamp": {"gte": "2024-05-01", "lte": "2024-05-01", "time_zone": "Zulu"}}}
    )
    assert dsl("@timestamp: 1714564980000") == should(
        {"range": {"@timestamp": {"gte": "1714564980000", "lte": "1714564980000"}}}
    )
    assert dsl("@timestamp >= now-1d") == should(
        {"range": {"@timestamp": {"gte": "now-1d", "time_zone": "Zulu"}}}
    )
    assert dsl("destination.port > 1024") == should({"range": {"destination.port": {"gt": "1024"}}})


def test_wildcard_field_names_expand_to_the_mapped_fields() -> None:
    assert dsl('a.*.display_name: "Global Administrator"') == should(
        {"term": {"a.0.display_name": {"value": "Global Administrator"}}},
        {"term": {"a.1.display_name": {"value": "Global Administrator"}}},
    )
    assert dsl("a.*: *") == should(
        {"exists": {"field": "a.0.display_name"}},
        {"exists": {"field": "a.1.display_name"}},
        {"exists": {"field": "a.1.other"}},
    )
    # Nothing matches: the name is sent as is (Elasticsearch then matches no document).
    assert dsl("b.*.x: y") == should({"match": {"b.*.x": "y"}})
    # A wildcard name reaching into a nested object gets Kibana's nested wrapper.
    assert dsl("n.*.name: x") == should(
        {
            "nested": {
                "path": "n.items",
                "query": {"term": {"n.items.name": {"value": "x"}}},
                "score_mode": "none",
            }
        }
    )


def test_without_types_the_name_is_sent_as_is() -> None:
    assert to_dsl(parse_kql("process.name: *S3 Browser*")) == should(
        {"query_string": {"fields": ["process.name"], "query": "*S3 Browser*"}}
    )


def test_kibana_types_and_query_fields() -> None:
    assert kibana_type(["keyword", "wildcard"]) == "string"
    assert kibana_type(["keyword", "long"]) == "conflict"
    assert TYPES.get("user_agent.original").type == "string"  # type: ignore[union-attr]
    assert not TYPES.get("user_agent.original").is_keyword  # type: ignore[union-attr]
    query = parse_kql("a.*.x: 1 and not (b: 2 or c >= 3) and d: * and n:{ m: 4 } and free")
    assert query_fields(query) == ["a.*.x", "b", "c", "d", "n.m"]


class _Client:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def send(self, request: Any, **_: Any) -> Any:
        self.paths.append(request.path)
        body = {"fields": {"process.name": {"keyword": {"type": "keyword"}}}}
        return type("R", (), {"status": 200, "body": body})()


def test_field_caps_are_cached_per_patterns_and_fields_until_they_expire() -> None:
    now = [0.0]
    client = _Client()
    cache = FieldCapsCache(client, ttl=300, clock=lambda: now[0])  # type: ignore[arg-type]
    query = parse_kql("process.name: bash and a.*.b: c")
    first = cache.types(["logs-*"], query)
    assert first.get("process.name") is not None and first.get("process.name").is_keyword  # type: ignore[union-attr]
    assert client.paths == [
        "/logs-*/_field_caps?fields=a.*.b,process.name&ignore_unavailable=true&allow_no_indices=true"
    ]
    cache.types(["logs-*"], query)
    now[0] = 299.0
    cache.types(["logs-*"], query)
    assert len(client.paths) == 1
    now[0] = 301.0
    cache.types(["logs-*"], query)
    assert len(client.paths) == 2
    cache.clear()
    cache.types(["logs-*"], query)
    assert len(client.paths) == 3
    assert cache.types(["logs-*"], parse_kql("free text")).fields == {}
    assert len(client.paths) == 3  # no field named: nothing to ask
