"""Fuzzing the EQL, KQL and ES|QL parsers (hypothesis): whatever the text, a parser returns a
query or raises :class:`QueryError` carrying a position inside the text, never anything else
(a lark exception, IndexError, RecursionError...).

Inputs are random token soups, mutations of real queries and deep nesting; example counts are
bounded so the whole file runs in seconds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.eql.parser import parse_eql
from runner.errors import QueryError
from runner.esql.parser import parse_esql
from runner.kql.parser import parse_kql

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS = {
    "eql": [
        'process where process.name == "bash" and process.parent.name : "emond"',
        "sequence by host.id with maxspan=1m [process where true] [network where "
        'destination.port in (22, 3389)] until [process where event.type == "end"]',
        'any where ?user.name like~ ("adm*", "root") and not process.args : "-c"',
        'file where startsWith(file.path, "C:\\\\Windows") and length(file.name) > 3',
    ],
    "kql": [
        'process.name: "bash" and not host.os.type: (windows or linux)',
        "event.category:process and process.args:(*-enc* or *-e*) and user.id >= 1000",
        'message: "a \\"quoted\\" value" or event.action: * or host:{ name: x and ip: 10.0.0.1 }',
    ],
    "esql": [
        'FROM logs-* | WHERE process.name == "bash" | STATS c = COUNT(*) BY host.name',
        'FROM logs-* METADATA _id | EVAL x = TO_LOWER(user.name) | WHERE x LIKE "adm*" '
        "| KEEP @timestamp, x | SORT @timestamp DESC | LIMIT 10",
        "FROM a | WHERE a > 1 AND (b IS NULL OR c IN (1, 2)) | DROP d",
    ],
}
TOKENS = [
    " ", "\n", "\t", "(", ")", "[", "]", "{", "}", ",", ":", "|", '"', "'", "`", "\\", "*", "?",
    "~", "==", "!=", ">=", "<", ":", "and", "or", "not", "where", "by", "sequence", "until",
    "with", "maxspan", "=", "1m", "true", "null", "in", "in~", "like", "like~", "regex",
    "FROM", "WHERE", "STATS", "EVAL", "KEEP", "SORT", "LIMIT", "BY", "METADATA", "process",
    "process.name", "bash", "0", "-1", "1.5e3", "9" * 30, '"\\u00e9"', "$", "@", "#", "\x00",
    "é", "\U0001f600", "/*", "*/", "//", '"""',
]  # fmt: skip
PARSERS: dict[str, Callable[[str], object]] = {"eql": parse_eql, "kql": parse_kql,
                                               "esql": parse_esql}  # fmt: skip


def token_soup() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


def mutated(language: str) -> st.SearchStrategy[str]:
    """A real query with a slice deleted, a token inserted, or cut short."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        text = draw(st.sampled_from(SEEDS[language]))
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "cut", "repeat"]))
        if kind == "delete":
            return text[:at] + text[at + draw(st.integers(1, 8)) :]
        if kind == "insert":
            return text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        if kind == "repeat":
            return text[:at] + text[at:] * draw(st.integers(2, 4))
        return text[:at]

    return build()


def nested(language: str) -> st.SearchStrategy[str]:
    """Brackets inside each other, far past any real query (a recursion limit must not leak)."""
    inner = {"eql": "process where ({} true {})", "kql": "a:({} b {})",
             "esql": "FROM a | WHERE ({} x {})"}[language]  # fmt: skip
    return st.integers(1, 3000).map(lambda n: inner.format("(" * n, ")" * n))


def check(language: str, text: str) -> None:
    try:
        PARSERS[language](text)
    except QueryError as error:
        lines = text.splitlines() or [""]
        assert error.line >= 1 and error.column >= 1, (text, error)
        # The position is in the text (or just past its end: "unexpected end of query").
        assert error.line <= len(lines) + 1, (text, error)
        assert str(error).startswith(f"line {error.line}, column {error.column}: ")
        assert error.excerpt()  # renders with its caret


@pytest.mark.parametrize("language", sorted(PARSERS))
@FUZZ
@given(data=st.data())
def test_parsers_raise_only_query_errors_with_a_position(
    language: str, data: st.DataObject
) -> None:
    text = data.draw(
        st.one_of(token_soup(), mutated(language), nested(language), st.text(max_size=60))
    )
    check(language, text)


@pytest.mark.parametrize("language", sorted(PARSERS))
def test_the_seed_queries_parse(language: str) -> None:
    for text in SEEDS[language]:
        PARSERS[language](text)  # the mutations start from valid queries
