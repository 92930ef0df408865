"""Flattening only the fields a query can read changes no answer
(runner/esql/needed.py, runner/embedded/esql_search.py)."""

from __future__ import annotations

import pytest

from runner.embedded import esql_search
from runner.embedded.esql_search import flatten, leading_paths, run_esql
from runner.embedded.store import Store
from runner.esql import parse_esql
from runner.esql.needed import needed_fields
from runner.search import EsqlRequest
from tests.embedded.conftest import Loader
from tests.embedded.test_esql_pushdown import DOCS, NOW, QUERIES, STATS_IN_MEMORY, STATS_IN_SQL

NARROWED = [
    "FROM logs-test | STATS c = COUNT(*) BY process.name",
    "FROM logs-test | WHERE ok | KEEP n, user.name",
    "FROM logs-test | RENAME process.name AS p | KEEP n, p",
    "FROM logs-test | EVAL x = TO_UPPER(process.name) | MV_EXPAND process.args | KEEP n, x",
    'FROM logs-test | GROK msg "%{WORD:w}" | STATS c = COUNT(*) BY w',
    "FROM logs-test | KEEP n, nope, user.name | WHERE nope IS NULL",
    "FROM logs-test | INLINE STATS c = COUNT(*) BY user.name | KEEP n, c",
]


@pytest.mark.parametrize("text", NARROWED + QUERIES + STATS_IN_SQL + STATS_IN_MEMORY)
@pytest.mark.parametrize("pushdown", [True, False])
def test_reading_only_the_needed_fields_gives_the_same_table(
    store: Store, load: Loader, monkeypatch: pytest.MonkeyPatch, text: str, pushdown: bool
) -> None:
    load(DOCS)
    request = EsqlRequest(query=parse_esql(text))
    with store.connect() as con:
        narrowed = run_esql(con, request, NOW, pushdown=pushdown)
        monkeypatch.setattr(esql_search, "needed_fields", lambda _query: None)
        every = run_esql(con, request, NOW, pushdown=pushdown)
    assert narrowed.columns == every.columns
    assert [[r.get(c) for c in narrowed.columns] for r in narrowed.rows] == [
        [r.get(c) for c in every.columns] for r in every.rows
    ]


@pytest.mark.parametrize(
    ("text", "needed"),
    [
        ("FROM x | STATS c = COUNT(*) BY a.b | WHERE c > 1", {"a.b"}),
        ("FROM x | WHERE p > 1 | EVAL q = r | KEEP q, s", {"p", "r", "q", "s"}),
        ("FROM x | RENAME a AS b | MV_EXPAND c | STATS VALUES(b)", {"a", "b", "c"}),
        ("FROM x | INLINE STATS c = COUNT(*) BY h | STATS MAX(c)", {"h", "c"}),
        ("FROM x | KEEP a*", None),  # a wildcard needs every field
        ("FROM x | DROP a* | STATS COUNT(b)", None),
        ("FROM x | WHERE a > 1", None),  # every column is output
        ("FROM x | KEEP a, b | KEEP b", {"a", "b"}),
    ],
)
def test_needed_fields(text: str, needed: set[str] | None) -> None:
    found = needed_fields(parse_esql(text))
    assert found == (None if needed is None else frozenset(needed))


def test_flatten_reads_only_the_paths_to_the_wanted_fields() -> None:
    source = {
        "a": {"b": [1, {"c": 2}], "d": 3},
        "a.b": 4,
        "e": [None, "x"],
        "f": [None],
    }
    assert flatten(source) == {"a.b": [1, 4], "a.b.c": 2, "a.d": 3, "e": "x"}
    assert flatten(source, paths=leading_paths(frozenset({"a.b"}))) == {"a.b": [1, 4]}
    assert flatten(source, paths=leading_paths(frozenset({"a.b.c", "e"}))) == {
        "a.b": [1, 4],  # on the way to a.b.c: harmless, the query never reads it
        "a.b.c": 2,
        "e": "x",
    }
