"""ES|QL compiled to SQL on the embedded store gives the interpreter's rows on the same data:
WHERE conjuncts moved in front of the commands they commute with and LIMIT
(runner/embedded/esql_sql.py), and WHERE + STATS of simple forms
(runner/embedded/esql_stats_sql.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.embedded.catalog import Catalog
from runner.embedded.esql_search import run_esql
from runner.embedded.esql_sql import compile_condition, pushed_filter, pushed_limit
from runner.embedded.esql_stats_sql import compile_stats
from runner.embedded.store import Store
from runner.esql import parse_esql
from runner.search import EsqlRequest
from tests.embedded.conftest import Loader

NOW = datetime(2024, 5, 2, tzinfo=UTC)

DOCS = [
    {"n": 1, "process": {"name": "bash", "pid": 10, "args": ["-c", "id"]}, "ok": True,
     "user": {"name": "root"}, "score": 1.5, "msg": "line one\nline two"},
    {"n": 2, "process": {"name": "BASH", "pid": 20, "args": "-x"}, "ok": False,
     "user": {"name": "alice"}, "score": 2.5, "msg": "a*b"},
    {"n": 3, "process": {"name": "python3", "pid": 30}, "ok": True, "score": -1.0,
     "msg": "100% sure"},
    {"n": 4, "process": {"name": "python", "pid": 40}, "user": {"name": None}, "msg": "a_b"},
    {"n": 5, "process": {"pid": 50}, "ok": False, "user": {"name": "bob"}, "score": 0.0},
    {"n": 6, "process": {"name": "bash", "pid": 60}, "user": {"name": "root"}, "msg": "axb"},
    {"n": 7, "process": {"name": "zsh", "pid": 70}, "ok": True, "user": {"name": "alice"},
     "score": 9.25, "code": 5},
    {"n": 8, "process": {"name": "bash", "pid": 9223372036854775807}, "code": "5"},
]  # fmt: skip

QUERIES = [
    'FROM logs-test | WHERE process.name == "bash"',
    'FROM logs-test | WHERE process.name != "bash" | KEEP n, process.name',
    "FROM logs-test | WHERE process.pid > 20 AND process.pid <= 50",
    "FROM logs-test | WHERE 30 < process.pid | KEEP n",
    "FROM logs-test | WHERE score >= 0 OR process.pid == 40",
    "FROM logs-test | WHERE ok | KEEP n",
    "FROM logs-test | WHERE NOT ok | KEEP n",
    "FROM logs-test | WHERE ok == false | KEEP n",
    'FROM logs-test | WHERE process.name IN ("bash", "python", null) | KEEP n',
    'FROM logs-test | WHERE process.name NOT IN ("bash", "python") | KEEP n',
    "FROM logs-test | WHERE user.name IS NULL | KEEP n",
    "FROM logs-test | WHERE user.name IS NOT NULL | KEEP n",
    'FROM logs-test | WHERE process.name LIKE "py*" | KEEP n',
    'FROM logs-test | WHERE process.name LIKE ("b?sh", "pyth*n") | KEEP n',
    'FROM logs-test | WHERE msg LIKE "a\\\\*b" | KEEP n',
    'FROM logs-test | WHERE msg LIKE "a_b" OR msg LIKE "100% *" | KEEP n',
    'FROM logs-test | WHERE msg LIKE "line*two" | KEEP n',
    'FROM logs-test | WHERE process.name RLIKE "py.*[0-9]" | KEEP n',
    'FROM logs-test | WHERE process.name NOT RLIKE "b.*" | KEEP n',
    'FROM logs-test | WHERE msg RLIKE "line.*" | KEEP n',
    'FROM logs-test | WHERE process.name NOT LIKE "*" | KEEP n',
    # a multi-valued field: comparisons over it are null, so these are left to the engine
    'FROM logs-test | WHERE process.args == "-x" | KEEP n',
    'FROM logs-test | WHERE process.name == "bash" AND process.args LIKE "-*" | KEEP n',
    # the WHERE on an EVAL output runs in memory; the one before it is compiled
    'FROM logs-test | WHERE process.pid < 60 | EVAL name = process.name | WHERE name == "bash"',
    # WHERE after commands it commutes with, on fields they leave alone
    'FROM logs-test | EVAL x = process.pid * 2 | WHERE process.name == "bash" | KEEP n, x',
    "FROM logs-test | SORT process.pid DESC | WHERE process.pid > 20 | KEEP n",
    'FROM logs-test | KEEP n, process.name | WHERE process.name LIKE "py*"',
    "FROM logs-test | KEEP n, user.name, nope | WHERE nope IS NULL",  # in no document: null
    "FROM logs-test | DROP user.* | EVAL user.name = null | WHERE user.name IS NULL | KEEP n",
    'FROM logs-test | RENAME process.name AS p | WHERE p == "bash" | KEEP n',
    'FROM logs-test | RENAME user.name AS process.name | WHERE process.name == "root" | KEEP n',
    'FROM logs-test | EVAL process.name = TO_LOWER(process.name) | WHERE process.name == "bash"',
    'FROM logs-test | MV_EXPAND process.args | WHERE process.name == "bash" | KEEP n, process.args',
    'FROM logs-test | DISSECT msg "%{a} %{process.name}" | WHERE process.name == "sure"',
    'FROM logs-test | GROK msg "%{WORD:w}" | WHERE ok == true | KEEP n, w',
    # LIMIT after one-row-per-row commands and compiled WHEREs, and where it may not move
    "FROM logs-test | LIMIT 3",
    "FROM logs-test | WHERE process.pid > 10 | EVAL y = n + 1 | KEEP n, y | LIMIT 2",
    'FROM logs-test | WHERE TO_LOWER(process.name) == "bash" | LIMIT 1',
    "FROM logs-test | SORT process.pid DESC | LIMIT 2 | KEEP n",
    "FROM logs-test | MV_EXPAND process.args | LIMIT 2 | KEEP n, process.args",
    "FROM logs-test | LIMIT 4 | WHERE ok | KEEP n",
    'FROM logs-test | WHERE process.name == "bash" | LIMIT 2 | STATS c = COUNT(*)',
    'FROM logs-test | WHERE process.name =~ "bash" | STATS c = COUNT(*) BY user.name',
    "FROM logs-test | WHERE process.pid > 10 | STATS c = COUNT(*), m = MAX(score) BY ok",
]


def _rows(store: Store, text: str, pushdown: bool) -> tuple[list[str], list[list[object]]]:
    request = EsqlRequest(query=parse_esql(text))
    with store.connect() as con:
        table = run_esql(con, request, NOW, pushdown=pushdown)
    # As `drop_null_columns=true` answers: a column null in every row is not shown (without
    # KEEP, FROM's columns are the fields of the documents selected, which pushdown narrows).
    columns = [c for c in table.columns if any(row.get(c) is not None for row in table.rows)]
    return columns, [[row.get(c) for c in columns] for row in table.rows]


@pytest.mark.parametrize("text", QUERIES)
def test_compiled_and_interpreted_where_give_the_same_rows(
    store: Store, load: Loader, text: str
) -> None:
    load(DOCS)
    assert _rows(store, text, pushdown=True) == _rows(store, text, pushdown=False)


def test_the_compiled_filter_is_used_and_selects_rows(store: Store, load: Loader) -> None:
    load(DOCS)
    query = parse_esql('FROM logs-test | WHERE process.name == "bash" AND process.pid > 10')
    with store.connect() as con:
        catalog = Catalog.load(con)
        sql = pushed_filter(query, catalog)
        assert sql != "true"
        ns = [r[0] for r in con.execute(f"SELECT n FROM events WHERE {sql} ORDER BY n").fetchall()]
    assert ns == [6, 8]


@pytest.mark.parametrize(
    ("condition", "compiled"),
    [
        ('process.name == "bash"', True),
        ("process.pid >= 3", True),
        ('process.name LIKE "b*"', True),
        ('process.args == "-x"', False),  # a LIST column somewhere
        ("process.name == 3", False),  # keyword against a number
        ('process.name =~ "bash"', False),  # case-insensitive equality
        ('TO_LOWER(process.name) == "bash"', False),  # a function
        ('@timestamp > "2024-01-01"', False),  # a date: the string is read as a date
        ('no.such.field == "x"', False),
        ('process.name LIKE CONCAT("b", "*")', False),  # a computed pattern
    ],
)
def test_which_conditions_compile(
    store: Store, load: Loader, condition: str, compiled: bool
) -> None:
    load(DOCS)
    where = parse_esql(f"FROM logs-test | WHERE {condition}").commands[0]
    assert isinstance(where, type(parse_esql("FROM x | WHERE true").commands[0]))
    with store.connect() as con:
        catalog = Catalog.load(con)
    sql = compile_condition(where.condition, catalog)  # type: ignore[union-attr]
    assert (sql is not None) == compiled, sql


EXACT = [
    'process.name == "bash"',
    "process.pid > 20 AND process.pid <= 50",
    "30 < process.pid",
    "score >= 0 OR process.pid == 40",
    "NOT ok",
    'process.name IN ("bash", "python", null)',
    'process.name NOT IN ("bash", "python")',
    "user.name IS NULL",
    'process.name LIKE ("b?sh", "pyth*n")',
    'msg LIKE "a\\\\*b"',
    'msg LIKE "a_b" OR msg LIKE "100% *"',
    'msg LIKE "line*two"',
    'process.name NOT RLIKE "b.*"',
    'msg RLIKE "line.*"',
]


@pytest.mark.parametrize("condition", EXACT)
def test_a_fully_compiled_where_alone_selects_what_the_engine_keeps(
    store: Store, load: Loader, condition: str
) -> None:
    load(DOCS)
    text = f"FROM logs-test | WHERE {condition} | KEEP n | SORT n"
    query = parse_esql(text)
    with store.connect() as con:
        sql = compile_condition(query.commands[0].condition, Catalog.load(con))  # type: ignore[union-attr]
        assert sql is not None
        selected = [
            r[0] for r in con.execute(f"SELECT n FROM events WHERE {sql} ORDER BY n").fetchall()
        ]
    kept = [row[0] for row in _rows(store, text, pushdown=False)[1]]
    assert selected == kept


STATS_IN_SQL = [
    "FROM logs-test | STATS c = COUNT(*)",
    "FROM logs-test | STATS c = COUNT(*), n = COUNT(process.name) BY user.name",
    "FROM logs-test | STATS c = COUNT(), d = COUNT_DISTINCT(process.name) BY ok",
    "FROM logs-test | STATS lo = MIN(process.pid), hi = MAX(process.name) BY user.name, ok",
    "FROM logs-test | STATS v = VALUES(process.name), w = VALUES(ok) BY user.name",
    "FROM logs-test | STATS s = SUM(process.pid) BY user.name",  # overflows to null for bash
    "FROM logs-test | STATS s = SUM(process.pid), m = MAX(score) BY process.name | SORT s",
    'FROM logs-test | WHERE process.name LIKE "*sh" AND process.pid < 100 '
    "| STATS c = COUNT(*) BY user.name | WHERE c > 1",
    'FROM logs-test | WHERE process.name == "nothing" | STATS c = COUNT(*), m = MIN(score)',
    "FROM logs-test | WHERE ok | STATS c = COUNT(*) BY process.name | EVAL d = c * 2 | LIMIT 2",
    # one-row-per-row commands before STATS, on other fields
    "FROM logs-test | EVAL x = 1 | STATS c = COUNT(*) BY user.name",
    "FROM logs-test | KEEP n, process.name, ok | WHERE ok | STATS m = MIN(process.name)",
    "FROM logs-test | RENAME user.name AS u | DROP score | STATS c = COUNT(*) BY process.name",
    'FROM logs-test | GROK msg "%{WORD:w}" | WHERE process.pid > 10 | STATS s = SUM(process.pid)',
]
STATS_IN_MEMORY = [
    "FROM logs-test | STATS c = COUNT(*) BY process.args",  # a multi-valued key
    "FROM logs-test | STATS c = COUNT(*) BY code",  # 5 and "5": a mixed column
    "FROM logs-test | STATS c = COUNT(*) BY k = process.pid % 2",  # a computed key
    "FROM logs-test | STATS a = AVG(score) BY ok",  # AVG stays in memory
    "FROM logs-test | STATS c = COUNT(*) WHERE ok BY user.name",  # an aggregate's WHERE
    'FROM logs-test | WHERE TO_LOWER(process.name) == "bash" | STATS c = COUNT(*)',
    "FROM logs-test | EVAL x = 1 | STATS c = COUNT(*) BY x",
    'FROM logs-test | EVAL user.name = "x" | STATS c = COUNT(*) BY user.name',
    "FROM logs-test | RENAME process.name AS p | STATS c = COUNT(*) BY p",
    "FROM logs-test | SORT n DESC | STATS c = COUNT(*) BY user.name",  # first appearance moves
    "FROM logs-test | MV_EXPAND process.args | STATS c = COUNT(*)",  # more rows
    "FROM logs-test | EVAL y = n | WHERE y > 2 | STATS c = COUNT(*) BY ok",  # a computed WHERE
    "FROM logs-test | INLINE STATS c = COUNT(*) BY user.name | KEEP n, c",
]


@pytest.mark.parametrize("text", STATS_IN_SQL + STATS_IN_MEMORY)
def test_stats_in_sql_and_in_memory_give_the_same_rows_in_the_same_order(
    store: Store, load: Loader, text: str
) -> None:
    load(DOCS)
    request = EsqlRequest(query=parse_esql(text))
    with store.connect() as con:
        compiled = run_esql(con, request, NOW, pushdown=True)
        interpreted = run_esql(con, request, NOW, pushdown=False)
    assert compiled.columns == interpreted.columns
    rows = [[r.get(c) for c in compiled.columns] for r in compiled.rows]
    assert rows == [[r.get(c) for c in interpreted.columns] for r in interpreted.rows]
    assert rows, "every query here has rows"


@pytest.mark.parametrize(("text", "in_sql"), [(t, True) for t in STATS_IN_SQL] + [
    (t, False) for t in STATS_IN_MEMORY
])  # fmt: skip
def test_which_stats_run_in_sql(store: Store, load: Loader, text: str, in_sql: bool) -> None:
    load(DOCS)
    with store.connect() as con:
        plan = compile_stats(parse_esql(text), Catalog.load(con))
    assert (plan is not None) == in_sql


@pytest.mark.parametrize(
    ("text", "filtered", "limit"),
    [
        ('FROM logs-test | EVAL x = 1 | WHERE process.name == "bash"', True, 1000),
        ('FROM logs-test | SORT n | WHERE process.name == "bash" | LIMIT 5', True, None),
        ('FROM logs-test | MV_EXPAND process.args | WHERE process.name == "a"', True, None),
        ('FROM logs-test | EVAL process.name = "x" | WHERE process.name == "x"', False, None),
        ('FROM logs-test | KEEP n | RENAME n AS process.name | WHERE process.name == "x"',
         False, None),
        ('FROM logs-test | DROP process.* | RENAME user.name AS process.name '
         '| WHERE process.name == "x"', False, None),
        ('FROM logs-test | RENAME process.name AS p, user.name AS process.name '
         '| WHERE process.name == "x"', False, None),
        ('FROM logs-test | GROK msg "%{WORD:process.name}" | WHERE process.name == "a"',
         False, None),
        ('FROM logs-test | STATS c = COUNT(*) BY process.name | WHERE process.name == "x"',
         False, None),
        ('FROM logs-test | LIMIT 3 | WHERE process.name == "x"', False, 3),
        ("FROM logs-test | KEEP n | EVAL m = n | LIMIT 7", False, 7),
        ('FROM logs-test | WHERE process.args == "x" | LIMIT 7', False, None),
    ],
)  # fmt: skip
def test_what_moves_into_the_selection(
    store: Store, load: Loader, text: str, filtered: bool, limit: int | None
) -> None:
    load(DOCS)
    query = parse_esql(text)
    with store.connect() as con:
        catalog = Catalog.load(con)
    assert (pushed_filter(query, catalog) != "true") == filtered
    assert pushed_limit(query, catalog) == limit
