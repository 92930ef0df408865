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


def test_grok_named_groups_several_patterns_and_multi_valued_input() -> None:
    columns, rows = run('ROW a = "asdf bar" | GROK a "(?<b>[a-z]{4}) (?<c>[a-z]+)"')
    assert (columns, rows) == (["a", "b", "c"], [["asdf bar", "asdf", "bar"]])
    query = 'ROW t = "XYZ extractme" | GROK t "ABC %{WORD:foo}", "XYZ %{WORD:bar}" | KEEP foo, bar'
    assert run(query)[1] == [[None, "extractme"]]
    query = 'ROW j = ["Accountant", "Senior Python Developer"] | GROK j "%{WORD:w}$" | KEEP w'
    assert run(query)[1] == [[["Accountant", "Developer"]]]


def test_dissect_appends_in_the_order_given_and_reads_each_value() -> None:
    query = 'ROW a = "foo 1 bar 2 baz" | DISSECT a "%{+b/3} %{c} %{+b/2} %{d} %{+b/1}" | KEEP b'
    assert run(query)[1] == [["bazbarfoo"]]
    query = 'ROW a = ["x-1", "y-2"] | DISSECT a "%{k}-%{v}" | KEEP k, v'
    assert run(query)[1] == [[["x", "y"], ["1", "2"]]]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("attributes['http.method']", "POST"),
        ("$.attributes['http.method']", "POST"),
        ("list[1]", "b"),
        ("dup", "1"),
        ("missing.key", None),
    ],
)
def test_json_extract_paths(path: str, expected: str | None) -> None:
    json = '{"attributes":{"http.method":"POST"},"list":["a","b"],"dup":1,"dup":2}'
    query = f'ROW j = """{json}""" | EVAL v = JSON_EXTRACT(j, "{path}") | KEEP v'
    assert run(query)[1] == [[expected]]


def test_mv_slice_clamps_negative_bounds_that_reach_before_the_first_value() -> None:
    assert run("ROW v = MV_SLICE([-7, 11], -5, -2)")[1] == [[-7]]
    assert run("ROW v = MV_SLICE([0, 1, 3, 13], -5, -3)")[1] == [[[0, 1]]]
    assert run("ROW v = MV_SLICE([0, 1], 3, 4)")[1] == [[None]]


def test_invalid_base64_url_escapes_and_regexes_are_null() -> None:
    query = 'ROW a = FROM_BASE64("YfA="), b = FROM_BASE64("ZWxhc3RpYw=="), c = URL_DECODE("%#")'
    assert run(query)[1] == [[None, "elastic", None]]
    assert run('ROW r = REPLACE("abc", "(", "")')[1] == [[None]]


def test_case_conversion_of_a_multi_value_converts_each_value() -> None:
    assert run('ROW v = TO_LOWER(["Some", "Text"])')[1] == [[["some", "text"]]]


def test_rlike_empty_language_matches_nothing() -> None:
    assert run('ROW x = "abc" | EVAL b = x RLIKE "#" | KEEP b')[1] == [[False]]


def test_keep_places_a_column_at_its_strongest_rightmost_pattern() -> None:
    query = (
        "ROW last_name = 1, emp_no = 2, first_name = 3 | KEEP last*name, emp_no, first_name, last*"
    )
    assert run(query)[0] == ["emp_no", "first_name", "last_name"]
    # An exact name outranks any wildcard, wherever it stands.
    query = "ROW a = 1, b = 2, c = 3 | KEEP b, *"
    assert run(query)[0] == ["b", "a", "c"]


def test_stats_by_one_key_puts_the_null_group_first() -> None:
    query = "FROM employees | STATS c = COUNT(*) BY first_name | LIMIT 1"
    assert run(query, EMPLOYEES)[1] == [[1, None]]
