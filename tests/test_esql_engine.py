"""ES|QL interpreter semantics, each pinned by a case of Elasticsearch's csv-spec suite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runner.esql import parse_esql
from runner.esql.engine import Document, Engine

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)

EMPLOYEES = [
    {"emp_no": 1, "first_name": "Georgi", "gender": "M", "languages": 2, "salary": 100},
    {"emp_no": 2, "first_name": "Bezalel", "gender": "F", "languages": 5, "salary": 200},
    {"emp_no": 3, "first_name": "Parto", "gender": "M", "languages": 4, "salary": 300},
    {"emp_no": 4, "gender": "F", "languages": 5, "salary": 400},
]


def run(query: str, docs: list[dict[str, Any]] | None = None) -> tuple[list[str], list[list[Any]]]:
    documents = [
        Document(index="employees", id=str(n), fields=d) for n, d in enumerate(docs or [], 1)
    ]
    table = Engine(query=parse_esql(query), now=NOW).run(documents)
    return table.columns, [[row.get(c) for c in table.columns] for row in table.rows]


def test_count_without_argument_counts_rows() -> None:
    assert run("FROM employees | STATS c = COUNT()", EMPLOYEES) == (["c"], [[4]])


def test_like_pattern_may_be_a_constant_expression_or_an_evaluated_name() -> None:
    query = 'FROM employees | EVAL p = CONCAT("Ge", "*") | WHERE first_name LIKE p | KEEP emp_no'
    assert run(query, EMPLOYEES)[1] == [[1]]
    query = 'FROM employees | WHERE first_name RLIKE CONCAT("B", ".*") | KEEP emp_no'
    assert run(query, EMPLOYEES)[1] == [[2]]


def test_not_like_everything_keeps_the_nulls() -> None:
    # Elasticsearch rewrites LIKE "*" to IS NOT NULL, so NOT LIKE ("*") keeps missing values.
    query = 'FROM employees | WHERE first_name NOT LIKE ("*") | KEEP emp_no'
    assert run(query, EMPLOYEES)[1] == [[4]]


def test_aggregates_see_a_computed_group_and_expressions_see_the_key() -> None:
    query = "FROM employees | STATS m = MAX(k), n = COUNT(*) + k BY k = languages * 10 | SORT k"
    assert run(query, EMPLOYEES) == (
        ["m", "n", "k"],
        [[20, 21, 20], [40, 41, 40], [50, 52, 50]],
    )


def test_expression_over_a_multi_valued_key_uses_the_group_value() -> None:
    columns, rows = run("ROW x = 1, y = [1, 2, 3] | STATS y + 1 BY y | SORT y")
    assert columns == ["y + 1", "y"]
    assert rows == [[2, 1], [3, 2], [4, 3]]


def test_repeated_output_names_keep_the_last_one() -> None:
    columns, rows = run("FROM employees | STATS x = MIN(salary), x = MAX(salary)", EMPLOYEES)
    assert (columns, rows) == (["x"], [[400]])


def test_inline_stats_appends_aggregates_then_groups() -> None:
    query = (
        "FROM employees | KEEP emp_no, gender, languages "
        "| INLINE STATS m = MAX(languages) BY gender | SORT emp_no | LIMIT 2"
    )
    assert run(query, EMPLOYEES) == (
        ["emp_no", "languages", "m", "gender"],
        [[1, 2, 4, "M"], [2, 5, 5, "F"]],
    )


def test_inline_stats_by_a_computed_group_adds_its_column() -> None:
    query = "FROM employees | KEEP emp_no | INLINE STATS c = COUNT(*) BY y = 1 | LIMIT 1"
    assert run(query, EMPLOYEES) == (["emp_no", "c", "y"], [[1, 4, 1]])


@pytest.mark.parametrize(
    "expression",
    ["9223372036854775807 + 1", "-9223372036854775807 - 2", "9223372036854775807 * 2"],
)
def test_long_overflow_is_null(expression: str) -> None:
    assert run(f"ROW x = {expression}")[1] == [[None]]


def test_sum_overflow_is_null() -> None:
    query = "ROW x = [9223372036854775807, 9223372036854775807] | STATS s = SUM(x)"
    assert run(query)[1] == [[None]]


def test_a_one_element_array_is_a_single_value() -> None:
    assert run('ROW x = CASE([true], "a", "b")')[1] == [["a"]]


def test_a_string_beside_a_time_span_is_a_date() -> None:
    _, rows = run('ROW a = 1 day + "2024-01-01", b = "2024-04-01" + (1 year + 1 day)')
    assert rows == [
        [datetime(2024, 1, 2, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC)],
    ]


def test_mv_expand_before_a_limit_stops_early() -> None:
    # 30^7 rows if expanded in full; the LIMIT after it needs ten.
    items = "[" + ", ".join(str(n) for n in range(30)) + "]"
    letters = "abcdefg"
    query = (
        "ROW "
        + ", ".join(f"{c} = {items}" for c in letters)
        + " | "
        + " | ".join(f"MV_EXPAND {c}" for c in letters)
        + " | LIMIT 10"
    )
    _, rows = run(query)
    assert len(rows) == 10
    assert [row[-1] for row in rows] == list(range(10))


def test_rename_to_itself_keeps_the_column() -> None:
    assert run("ROW a = 1, b = 2 | RENAME a AS a") == (["a", "b"], [[1, 2]])
