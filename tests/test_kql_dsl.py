"""KQL to Elasticsearch DSL: the request Kibana's toElasticsearchQuery builds (no mappings)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.kql import parse_kql, to_dsl
from runner.kql.ast import FieldMatch, Nested, Query, Term

EXIM4_QUERY = (
    "host.os.type:linux and event.type:start and event.action:exec and "
    "process.parent.name:exim4 and not process.name:( exim4 or start-stop-daemon or run-parts or "
    "systemctl or update-exim4.conf or install or plymouth or readlink or grep or stat or cmake or "
    "gcc or cppcheck or sort or sshd )"
)

# Written out in full, as sent over the wire (key order included).
EXIM4_DSL = """
{"bool": {"filter": [
  {"bool": {"should": [{"match": {"host.os.type": "linux"}}], "minimum_should_match": 1}},
  {"bool": {"should": [{"match": {"event.type": "start"}}], "minimum_should_match": 1}},
  {"bool": {"should": [{"match": {"event.action": "exec"}}], "minimum_should_match": 1}},
  {"bool": {"should": [{"match": {"process.parent.name": "exim4"}}], "minimum_should_match": 1}},
  {"bool": {"must_not": {"bool": {"should": [
    {"bool": {"should": [{"match": {"process.name": "exim4"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "start-stop-daemon"}}],
              "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "run-parts"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "systemctl"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "update-exim4.conf"}}],
              "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "install"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "plymouth"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "readlink"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "grep"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "stat"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "cmake"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "gcc"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "cppcheck"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "sort"}}], "minimum_should_match": 1}},
    {"bool": {"should": [{"match": {"process.name": "sshd"}}], "minimum_should_match": 1}}
  ], "minimum_should_match": 1}}}}
]}}
"""


def test_exim4_seed_query_verbatim() -> None:
    dsl = to_dsl(parse_kql(EXIM4_QUERY))
    expected = json.loads(EXIM4_DSL)
    assert dsl == expected
    # Same serialisation, key order included, as Kibana's request body.
    assert json.dumps(dsl) == json.dumps(expected)


def should(query: dict[str, Any]) -> dict[str, Any]:
    """Kibana wraps each field clause in a one-clause should (one per mapped field)."""
    return {"bool": {"should": [query], "minimum_should_match": 1}}


CASES: list[tuple[str, dict[str, Any]]] = [
    # --- empty and match-all ---
    ("", {"match_all": {}}),
    ("   ", {"match_all": {}}),
    ("*:*", {"match_all": {}}),
    # --- is(): term, phrase, wildcard, exists ---
    ("f:a", should({"match": {"f": "a"}})),
    ("f:foo bar", should({"match": {"f": "foo bar"}})),
    ('f:"foo bar"', should({"match_phrase": {"f": "foo bar"}})),
    ('f:"a*"', should({"match_phrase": {"f": "a*"}})),
    ("f:a*", should({"query_string": {"fields": ["f"], "query": "a*"}})),
    ("f:*", should({"exists": {"field": "f"}})),
    ("f:**", should({"query_string": {"fields": ["f"], "query": "**"}})),
    (r"f:a\*", should({"match": {"f": "a*"}})),
    (r"f:a\*b*", should({"query_string": {"fields": ["f"], "query": "a\\*b*"}})),
    # query_string metacharacters in wildcard values are escaped (Kibana's escapeQueryString)
    (
        r"f:*C\:\\Windows\\*.exe",
        should({"query_string": {"fields": ["f"], "query": "*C\\:\\\\Windows\\\\*.exe"}}),
    ),
    (
        "f:*a+b-c=d&e|f!g[h]i^j~k?l/m*",
        should(
            {
                "query_string": {
                    "fields": ["f"],
                    "query": "*a\\+b\\-c\\=d\\&e\\|f\\!g\\[h\\]i\\^j\\~k\\?l\\/m*",
                }
            }
        ),
    ),
    (
        r"f:*\(\)\{\}\<\>\"*",
        should({"query_string": {"fields": ["f"], "query": '*\\(\\)\\{\\}\\<\\>\\"*'}}),
    ),
    # digits, dots, commas are not escaped (Kibana fixed its "+-=" range bug in 8.7)
    ("f:*192.168.1,2;*", should({"query_string": {"fields": ["f"], "query": "*192.168.1,2;*"}})),
    # whitespace inside a wildcard value is passed through unescaped, as Kibana does
    ("f:*foo bar*", should({"query_string": {"fields": ["f"], "query": "*foo bar*"}})),
    # --- JavaScript literals: unquoted true/false/null are typed, numbers stay strings ---
    ("f:true", should({"match": {"f": True}})),
    ("f:false", should({"match": {"f": False}})),
    ("f:null", should({"match": {"f": None}})),
    ('f:"true"', should({"match_phrase": {"f": "true"}})),
    ("event.code:4624", should({"match": {"event.code": "4624"}})),
    # --- no field: every field ---
    ("foo", {"multi_match": {"type": "best_fields", "query": "foo", "lenient": True}}),
    ("foo bar", {"multi_match": {"type": "best_fields", "query": "foo bar", "lenient": True}}),
    ('"foo bar"', {"multi_match": {"type": "phrase", "query": "foo bar", "lenient": True}}),
    ("true", {"multi_match": {"type": "best_fields", "query": True, "lenient": True}}),
    ("foo*", {"query_string": {"query": "foo*"}}),
    ("*", {"query_string": {"query": "*"}}),
    ("null:x", {"multi_match": {"type": "best_fields", "query": "x", "lenient": True}}),
    # --- field names are sent as written ---
    ("process.*:x", should({"match": {"process.*": "x"}})),
    ('"my field":"x"', should({"match_phrase": {"my field": "x"}})),
    ("@timestamp:*", should({"exists": {"field": "@timestamp"}})),
    # --- ranges: the bound is sent as text ---
    ("f < 5", should({"range": {"f": {"lt": "5"}}})),
    ("f <= 5", should({"range": {"f": {"lte": "5"}}})),
    ("f > 5", should({"range": {"f": {"gt": "5"}}})),
    ("f >= 5", should({"range": {"f": {"gte": "5"}}})),
    ('@timestamp >= "2020-01-01"', should({"range": {"@timestamp": {"gte": "2020-01-01"}}})),
    # --- boolean structure ---
    (
        "a:1 and b:2",
        {"bool": {"filter": [should({"match": {"a": "1"}}), should({"match": {"b": "2"}})]}},
    ),
    (
        "a:1 or b:2",
        {
            "bool": {
                "should": [should({"match": {"a": "1"}}), should({"match": {"b": "2"}})],
                "minimum_should_match": 1,
            }
        },
    ),
    ("not a:1", {"bool": {"must_not": should({"match": {"a": "1"}})}}),
    ("not a:*", {"bool": {"must_not": should({"exists": {"field": "a"}})}}),
    (
        "a:1 or b:2 and not c:3",
        {
            "bool": {
                "should": [
                    should({"match": {"a": "1"}}),
                    {
                        "bool": {
                            "filter": [
                                should({"match": {"b": "2"}}),
                                {"bool": {"must_not": should({"match": {"c": "3"}})}},
                            ]
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        },
    ),
    # parentheses are kept as written: no flattening
    (
        "(a:1 or b:2) or c:3",
        {
            "bool": {
                "should": [
                    {
                        "bool": {
                            "should": [
                                should({"match": {"a": "1"}}),
                                should({"match": {"b": "2"}}),
                            ],
                            "minimum_should_match": 1,
                        }
                    },
                    should({"match": {"c": "3"}}),
                ],
                "minimum_should_match": 1,
            }
        },
    ),
    # --- value lists: one is() per value, combined like the query-level operators ---
    (
        'f:(a or "b c" or d*)',
        {
            "bool": {
                "should": [
                    should({"match": {"f": "a"}}),
                    should({"match_phrase": {"f": "b c"}}),
                    should({"query_string": {"fields": ["f"], "query": "d*"}}),
                ],
                "minimum_should_match": 1,
            }
        },
    ),
    (
        "f:(a and not b)",
        {
            "bool": {
                "filter": [
                    should({"match": {"f": "a"}}),
                    {"bool": {"must_not": should({"match": {"f": "b"}})}},
                ]
            }
        },
    ),
    (
        "f:(* or x)",
        {
            "bool": {
                "should": [should({"exists": {"field": "f"}}), should({"match": {"f": "x"}})],
                "minimum_should_match": 1,
            }
        },
    ),
    ("f:(a)", should({"match": {"f": "a"}})),
    # --- nested: full path, fields prefixed, score_mode none ---
    (
        "n:{ a:1 and b < 3 }",
        {
            "nested": {
                "path": "n",
                "query": {
                    "bool": {
                        "filter": [
                            should({"match": {"n.a": "1"}}),
                            should({"range": {"n.b": {"lt": "3"}}}),
                        ]
                    }
                },
                "score_mode": "none",
            }
        },
    ),
    (
        "n:{ m:{ x:* } }",
        {
            "nested": {
                "path": "n",
                "query": {
                    "nested": {
                        "path": "n.m",
                        "query": should({"exists": {"field": "n.m.x"}}),
                        "score_mode": "none",
                    }
                },
                "score_mode": "none",
            }
        },
    ),
    # Kibana prefixes a missing (null) field too: a bare value inside nested is "path.null"
    (
        "n:{ foo }",
        {
            "nested": {
                "path": "n",
                "query": should({"match": {"n.null": "foo"}}),
                "score_mode": "none",
            }
        },
    ),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q or "<empty>" for q, _ in CASES])
def test_to_dsl(query: str, expected: dict[str, Any]) -> None:
    dsl = to_dsl(parse_kql(query))
    assert dsl == expected
    assert json.dumps(dsl) == json.dumps(expected)  # key order too


def test_to_dsl_accepts_hand_built_trees() -> None:
    query = Query(node=Nested(path="p", query=FieldMatch(field="x", value=Term(text="1"))))
    assert to_dsl(query) == {
        "nested": {"path": "p", "query": should({"match": {"p.x": "1"}}), "score_mode": "none"}
    }


def test_to_dsl_results_are_independent() -> None:
    # Shared constants must not leak between results (callers may mutate what they get).
    first = to_dsl(parse_kql("a:1 or b:2"))
    first["bool"]["minimum_should_match"] = 99
    second = to_dsl(parse_kql("a:1 or b:2"))
    assert second["bool"]["minimum_should_match"] == 1
