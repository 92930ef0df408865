"""Unknown columns are rejected at parse time, as Elasticsearch's Verifier rejects them.

The expected messages and positions are Elasticsearch's (``VerifierTests``, ``AnalyzerTests``).
"""

from __future__ import annotations

import pytest

from runner.errors import QueryError
from runner.esql import parse_esql
from runner.esql.engine import Engine
from runner.esql.verifier import find_similar
from tests.test_esql_engine import NOW


def rejected(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse_esql(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("ROW a=1, b=2 | KEEP a | EVAL c = b", 1, 34, "Unknown column [b]"),
        # Elasticsearch's VerifierTests.testDropAfterRenaming
        ("from test | rename emp_no as r1 | drop emp_no", 1, 40, "Unknown column [emp_no]"),
        ("from test | rename emp_no as r1, emp_no as r1 | keep r1", 1, 34,
         "Column [emp_no] renamed to [r1] and is no longer available [emp_no as r1]"),
        ("from test | rename emp_no as r1, r1 as r2, first_name as x, r1 as r3 | keep r3", 1, 61,
         "Column [r1] renamed to [r2] and is no longer available [r1 as r3]"),
        ("FROM t | DROP host.name | WHERE host.name == \"a\"", 1, 33, "Unknown column [host.name]"),
        ("FROM t | KEEP a, b | SORT c", 1, 27, "Unknown column [c]"),
        ("FROM t | KEEP host.* | STATS COUNT(user.name)", 1, 36, "Unknown column [user.name]"),
        ("FROM t | STATS n = COUNT(*) BY host.name\n| MV_EXPAND user.name", 2, 13,
         "Unknown column [user.name], did you mean [host.name]?"),
        ("FROM t | STATS n = COUNT(*) BY k = a | KEEP n, a", 1, 48,
         "Unknown column [a]"),
        ("ROW first_name = 1, last_name = 2 | KEEP first_name | EVAL x = firstname", 1, 64,
         "Unknown column [firstname], did you mean [first_name]?"),
        ("FROM t | KEEP x | RENAME y AS z", 1, 26, "Unknown column [y]"),
        ("FROM t | DROP x | GROK x \"%{WORD:w}\"", 1, 24, "Unknown column [x]"),
    ],
)  # fmt: skip
def test_unknown_columns_are_rejected_where_they_are(
    text: str, line: int, column: int, message: str
) -> None:
    error = rejected(text)
    assert (error.line, error.column, error.reason) == (line, column, message)
    assert error.excerpt().splitlines()[1] == " " * (column - 1) + "^"


def test_every_problem_is_named_the_first_at_the_caret() -> None:
    error = rejected("FROM t | KEEP a, b\n| EVAL x = c + d")
    assert (error.line, error.column) == (2, 12)
    assert error.reason == "Unknown column [c] (and 1 more problem: line 2:16: Unknown column [d])"


@pytest.mark.parametrize(
    "text",
    [
        # FROM's fields are not known statically: any name may exist.
        "FROM t | WHERE anything == 1 | KEEP something, other.*",
        'FROM t | KEEP host.* | WHERE host.name == "a"',
        'FROM t | KEEP a, host.* | DROP host.os.* | WHERE host.name == "a" | SORT a',
        "FROM t | DROP a | EVAL a = 1 | KEEP a",  # made again
        "FROM t | RENAME a AS b | EVAL c = b | KEEP b, c",
        "FROM t | DROP a, a | DROP b*, b*, b",  # each pattern reads the DROP's input
        "FROM t | STATS n = COUNT(*) BY k = a + b | EVAL m = n + k",
        "FROM t | STATS s = SUM(x) + k BY k",  # an aggregate expression sees the group
        "FROM t | INLINE STATS n = COUNT(*) BY h | WHERE other > n",  # every column stays
        'FROM t | GROK msg "%{WORD:w}" | KEEP w | WHERE w == "a"',
        'FROM t | DISSECT msg "%{a} %{b}" | KEEP a, b',
        "FROM t | KEEP a | ENRICH policy ON a | WHERE enriched == 1",  # ENRICH brings columns
        "FROM t METADATA _id | STATS c = COUNT(*) BY _id | KEEP _id",
        "FROM t | STATS n = COUNT(*) BY source.`as`.number | KEEP source.`as`.number",
    ],
)
def test_what_may_exist_is_accepted(text: str) -> None:
    parse_esql(text)


def test_a_backquoted_group_is_named_without_its_backquotes() -> None:
    query = parse_esql("ROW `a b` = 1 | STATS n = COUNT(*) BY `a b`")
    table = Engine(query=query, now=NOW).run([])
    assert table.columns == ["n", "a b"]
    assert [[r["n"], r["a b"]] for r in table.rows] == [[1, 1]]


def test_similar_names_are_elasticsearchs_levenshtein_half() -> None:
    # 1 - edits / longer length >= 0.5, the most similar first
    assert find_similar("host.nam", ["user.name", "host.ip", "host.name"]) == [
        "host.name",
        "host.ip",
    ]
    assert find_similar("abc", ["xyz", "abd"]) == ["abd"]
