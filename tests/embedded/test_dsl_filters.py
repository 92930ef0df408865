"""Query DSL filters (rule filters and exceptions) evaluated on the store."""

from __future__ import annotations

from typing import Any

import pytest

from runner.errors import QueryError
from tests.embedded.conftest import Eql, Loader

DOCS = [
    {"n": 1, "user": "root", "code": 5, "path": "/tmp/a b", "tags": ["x", "y"]},
    {"n": 2, "user": "Root", "code": 50, "path": "/var/log"},
    {"n": 3, "user": "bob", "code": 7, "nested": {"k": "v"}},
    {"n": 4},
]


@pytest.fixture(autouse=True)
def docs(load: Loader) -> None:
    load(DOCS)


def matching(eql: Eql, query: dict[str, Any]) -> list[Any]:
    return eql("any where true", filters=(query,))


def test_term_terms_and_case_insensitive(eql: Eql) -> None:
    assert matching(eql, {"term": {"user": "root"}}) == [1]
    assert matching(eql, {"term": {"user": {"value": "ROOT", "case_insensitive": True}}}) == [1, 2]
    assert matching(eql, {"terms": {"user": ["bob", "root"]}}) == [1, 3]
    assert matching(eql, {"term": {"code": 5}}) == [1]
    assert matching(eql, {"term": {"tags": "y"}}) == [1]


def test_bool_clauses(eql: Eql) -> None:
    query = {
        "bool": {
            "should": [{"term": {"user": "root"}}, {"term": {"user": "bob"}}],
            "must_not": [{"term": {"code": 7}}],
        }
    }
    assert matching(eql, query) == [1]
    two_of = {
        "bool": {
            "should": [{"term": {"user": "root"}}, {"term": {"code": 5}}, {"term": {"n": 9}}],
            "minimum_should_match": 2,
        }
    }
    assert matching(eql, two_of) == [1]
    assert matching(eql, {"bool": {"must_not": {"exists": {"field": "user"}}}}) == [4]


def test_wildcard_prefix_regexp_range(eql: Eql) -> None:
    assert matching(eql, {"wildcard": {"path": {"value": "/tmp/*"}}}) == [1]
    assert matching(eql, {"prefix": {"path": "/var"}}) == [2]
    assert matching(eql, {"regexp": {"user": "[rR]oot"}}) == [1, 2]
    assert matching(eql, {"range": {"code": {"gte": 6, "lt": 50}}}) == [3]


def test_query_string_terms_are_ored(eql: Eql) -> None:
    # Kibana leaves spaces unescaped in wildcard values: query_string splits on them.
    assert matching(eql, {"query_string": {"fields": ["path"], "query": "\\/tmp\\/a b*"}}) == []
    assert matching(eql, {"query_string": {"fields": ["user"], "query": "bob r*"}}) == [1, 3]


def test_nested_and_match_all(eql: Eql) -> None:
    inner = {"nested": {"path": "nested", "query": {"term": {"nested.k": "v"}}}}
    assert matching(eql, inner) == [3]
    assert matching(eql, {"match_all": {}}) == [1, 2, 3, 4]


def test_unsupported_clause_is_a_query_error(eql: Eql) -> None:
    with pytest.raises(QueryError, match="not supported"):
        matching(eql, {"script": {"script": "true"}})
