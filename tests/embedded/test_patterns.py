"""Wildcard and Lucene-regex translation, checked by running the result in DuckDB."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from runner.embedded.eql_sql import like_test
from runner.embedded.patterns import PatternError, lucene_to_re2, wildcard_to_like


def like(value: str, pattern: str) -> bool:
    row = duckdb.sql(
        "SELECT ? LIKE ? ESCAPE '\\'", params=[value, wildcard_to_like(pattern)]
    ).fetchall()
    return bool(row[0][0])


def regex(value: str, pattern: str) -> bool:
    row = duckdb.sql(
        "SELECT regexp_full_match(?, ?)", params=[value, lucene_to_re2(pattern)]
    ).fetchall()
    return bool(row[0][0])


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("a/b/c", "a*c", True),
        ("abc", "a?c", True),
        ("ac", "a?c", False),
        ("100%", "100%", True),
        ("100x", "100%", False),  # % is literal
        ("a_b", "a_b", True),
        ("axb", "a_b", False),  # _ is literal
        ("C:\\x", "C:\\*", True),  # backslash is literal, * stays a wildcard
        ("line1\nline2", "line1*", True),
    ],
)
def test_wildcards(value: str, pattern: str, expected: bool) -> None:
    assert like(value, pattern) is expected


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("abc", "abc", True),
        ("abcd", "abc", False),  # whole value
        ("a\nb", "a.b", True),  # . is any character
        ("^x$", "^x$", True),  # anchors are literal characters
        ("x", "^x$", False),
        ("net1  localgroup", ".*?net[1]?  localgroup.*?", True),
        ("a.b", 'a"."b', True),  # quoted literal
        ("anything", "@", True),
        ("", "#", False),
        ("abc", "[^x]+", True),
        ("d", "\\d", False),  # Lucene \\d is a digit class
        ("5", "\\d", True),
        ("aaa", "a{2,3}", True),
        ("42", "<1-100>", True),
        ("142", "<1-100>", False),
        ("a+b", "a\\+b", True),
        ("ab", "(a|b)+", True),
        ("", "()", True),
    ],
)
def test_lucene_regex(value: str, pattern: str, expected: bool) -> None:
    assert regex(value, pattern) is expected


@pytest.mark.parametrize(
    ("pattern", "offset"),
    [("~a", 0), ("a&b", 1), ("(ab", 0), ("[ab", 0), ("a{x}", 1), ("<name>", 0)],
)
def test_unsupported_or_invalid_regex(pattern: str, offset: int) -> None:
    with pytest.raises(PatternError) as caught:
        lucene_to_re2(pattern)
    assert caught.value.offset == offset


def test_like_with_its_literal_ends_tested_first_is_like() -> None:
    """eql_sql.like_test adds starts_with/ends_with before LIKE: never a different answer."""
    values = ["", "a", "ab", "abc", "a%b", "a_b", "a\\b", "é.plist", "/x/.a.plist", "aab", "ba"]
    patterns = ["a*", "*b", "a*b", "a?b", "*a*", "a\\*b", "a%*b", "?", "*.plist", "/x/.*.plist"]
    con = duckdb.connect()
    for value, pattern in itertools.product(values, patterns):
        lk = wildcard_to_like(pattern)
        row = con.execute(
            f"SELECT s LIKE ? ESCAPE '\\', {like_test('s', lk)} FROM (SELECT ?::VARCHAR AS s)",
            [lk, value],
        ).fetchone()
        assert row is not None and row[0] == row[1], (value, pattern)
