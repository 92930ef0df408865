"""KQL parser: syntax, escapes and error positions, checked against Kibana's grammar.peggy rules."""

from __future__ import annotations

import pytest

from runner.errors import QueryError
from runner.kql import parse_kql
from runner.kql.ast import (
    And,
    Exists,
    FieldMatch,
    Nested,
    Node,
    Not,
    Or,
    Phrase,
    Range,
    Term,
    Value,
    ValueAnd,
    ValueNot,
    ValueOr,
    Wildcard,
)
from runner.kql.parser import _parser


def fm(field: str | None, value: Value) -> FieldMatch:
    return FieldMatch(field=field, value=value)


def t(text: str) -> Term:
    return Term(text=text)


def p(text: str) -> Phrase:
    return Phrase(text=text)


def w(*segments: str) -> Wildcard:
    return Wildcard(segments=segments)


A, B, C = fm("a", t("1")), fm("b", t("2")), fm("c", t("3"))

PARSES: list[tuple[str, Node | None]] = [
    # --- empty ---
    ("", None),
    ("  \t\n ", None),
    # --- precedence: not > and > or; parentheses; no flattening across parentheses ---
    ("a:1 or b:2 and c:3", Or(terms=(A, And(terms=(B, C))))),
    ("a:1 and b:2 or c:3", Or(terms=(And(terms=(A, B)), C))),
    ("not a:1 and b:2", And(terms=(Not(node=A), B))),
    ("not a:1 or b:2", Or(terms=(Not(node=A), B))),
    ("a:1 and (b:2 or c:3)", And(terms=(A, Or(terms=(B, C))))),
    ("not (a:1 or b:2)", Not(node=Or(terms=(A, B)))),
    ("a:1 or b:2 or c:3", Or(terms=(A, B, C))),
    ("a:1 and b:2 and c:3", And(terms=(A, B, C))),
    ("(a:1 or b:2) or c:3", Or(terms=(Or(terms=(A, B)), C))),
    ("((((a:1))))", A),
    ("( a:1 )", A),
    # --- keywords are case-insensitive; any Kibana whitespace separates them ---
    ("a:1 OR b:2 AnD NOT c:3", Or(terms=(A, And(terms=(B, Not(node=C)))))),
    ("a:1 Or b:2", Or(terms=(A, B))),
    ("a:1\nand\tb:2", And(terms=(A, B))),
    ("a:1 and\u00a0b:2", And(terms=(A, B))),
    ("a:1   and   not   b:2", And(terms=(A, Not(node=B)))),
    # --- field:value spacing ---
    ("a : 1", A),
    ("a:   1", A),
    ("  a:1  ", A),
    # --- unquoted values span words, stop before keywords, are trimmed ---
    ("field:foo bar", fm("field", t("foo bar"))),
    ("foo bar", fm(None, t("foo bar"))),
    ("field:foo bar or x", Or(terms=(fm("field", t("foo bar")), fm(None, t("x"))))),
    ("field:a or", fm("field", t("a or"))),  # "or" needs whitespace on both sides
    ("field:a and", fm("field", t("a and"))),
    ("f: or x", fm("f", t("or x"))),
    ("a:1 and and x", And(terms=(A, fm(None, t("and x"))))),  # as Kibana: a value "and x"
    ("f:orange and g:android", And(terms=(fm("f", t("orange")), fm("g", t("android"))))),
    ("f:notepad.exe", fm("f", t("notepad.exe"))),
    ("f:not", fm("f", t("not"))),
    ("f:cannot", fm("f", t("cannot"))),
    ("nothing", fm(None, t("nothing"))),
    ("f:(  a  or  b  )", fm("f", ValueOr(terms=(t("a"), t("b"))))),
    # --- quoted phrases: \" \\ \t \r \n \uXXXX escape; any other backslash is kept ---
    ('field:"foo bar"', fm("field", p("foo bar"))),
    ('"foo bar"', fm(None, p("foo bar"))),
    (r'f:"a\"b\\c"', fm("f", p('a"b\\c'))),
    (r'f:"C:\Windows\System32"', fm("f", p(r"C:\Windows\System32"))),
    (r'f:"C:\\Windows"', fm("f", p(r"C:\Windows"))),
    (r'f:"a\nb\tc"', fm("f", p("a\nb\tc"))),
    (r'f:"\u0041\u00e9"', fm("f", p("A\u00e9"))),
    (r'f:"\ud83d\ude00"', fm("f", p("\U0001f600"))),
    ('f:"a*b"', fm("f", p("a*b"))),
    ('f:"and or not ( ) : < > { }"', fm("f", p("and or not ( ) : < > { }"))),
    ('f:"line1\nline2"', fm("f", p("line1\nline2"))),
    ('f:""', fm("f", p(""))),
    # --- unquoted escapes ---
    (r"f:a\:b", fm("f", t("a:b"))),
    (r"f:\(x\)", fm("f", t("(x)"))),
    (r"f:\<\>\{\}\"", fm("f", t('<>{}"'))),
    (r"f:a\*", fm("f", t("a*"))),
    (r"f:C\:\\Windows\\", fm("f", t("C:\\Windows\\"))),
    (r"f:\or", fm("f", t("or"))),
    (r"f:a \and b", fm("f", t("a and b"))),
    (r"f:x \NOT y", fm("f", t("x NOT y"))),
    (r"f:\u0041b", fm("f", t("Ab"))),
    (r"f:a\tb", fm("f", t("a\tb"))),
    (r"f:\tx", fm("f", t("x"))),  # Kibana trims even escaped whitespace
    # --- wildcards ---
    ("f:a*", fm("f", w("a", ""))),
    ("f:*a", fm("f", w("", "a"))),
    ("f:a*b*c", fm("f", w("a", "b", "c"))),
    (r"f:a\*b*", fm("f", w("a*b", ""))),
    ("f:**", fm("f", w("", "", ""))),
    ("f:*foo bar*", fm("f", w("", "foo bar", ""))),
    ("foo*", fm(None, w("foo", ""))),
    ("*", fm(None, w("", ""))),
    ("f:(a* or b)", fm("f", ValueOr(terms=(w("a", ""), t("b"))))),
    ("f:(* or b)", fm("f", ValueOr(terms=(w("", ""), t("b"))))),
    # --- exists: a lone * value ---
    ("f:*", Exists(field="f")),
    ("f : * ", Exists(field="f")),
    ("f:(*)", Exists(field="f")),
    ("*:*", Exists(field="*")),
    ("not f:*", Not(node=Exists(field="f"))),
    # --- ranges ---
    ("f < 5", Range(field="f", op="<", value="5")),
    ("f<=5", Range(field="f", op="<=", value="5")),
    ("f>5", Range(field="f", op=">", value="5")),
    ('f >= "2020-01-01"', Range(field="f", op=">=", value="2020-01-01")),
    ("@timestamp >= now-30d/d", Range(field="@timestamp", op=">=", value="now-30d/d")),
    ("f < 5*", Range(field="f", op="<", value="5*")),
    ("a b < 5", Range(field="a b", op="<", value="5")),
    # --- value lists ---
    ('f:(a or b or "c d")', fm("f", ValueOr(terms=(t("a"), t("b"), p("c d"))))),
    ("f:(a)", fm("f", t("a"))),
    ("f:(a and not b)", fm("f", ValueAnd(terms=(t("a"), ValueNot(value=t("b")))))),
    ("f:(not a)", fm("f", ValueNot(value=t("a")))),
    (
        "f:((a or b) and not c)",
        fm("f", ValueAnd(terms=(ValueOr(terms=(t("a"), t("b"))), ValueNot(value=t("c"))))),
    ),
    ("f:(a or b and c)", fm("f", ValueOr(terms=(t("a"), ValueAnd(terms=(t("b"), t("c"))))))),
    ("f:(a OR b)", fm("f", ValueOr(terms=(t("a"), t("b"))))),
    # --- nested ---
    (
        "n:{ a:1 and b:2 }",
        Nested(path="n", query=And(terms=(A, B))),
    ),
    ("n : {a:1}", Nested(path="n", query=A)),
    (
        "n:{ m:{ a:1 } }",
        Nested(path="n", query=Nested(path="m", query=A)),
    ),
    (
        "c:3 and (n:{ a:1 } or n:{ b:2 })",
        And(terms=(C, Or(terms=(Nested(path="n", query=A), Nested(path="n", query=B))))),
    ),
    # --- field names ---
    ("process.*:x", fm("process.*", t("x"))),
    ('"my field":x', fm("my field", t("x"))),
    (r"a\:b:c", fm("a:b", t("c"))),
    ("@timestamp:x", fm("@timestamp", t("x"))),
    ("null:x", fm(None, t("x"))),  # Kibana reads unquoted null as "no field"
    ('"null":x', fm("null", t("x"))),
    # --- JavaScript literals stay text in the tree (the compiler types them) ---
    ("f:true", fm("f", t("true"))),
    ("f:4624", fm("f", t("4624"))),
]


@pytest.mark.parametrize(("query", "expected"), PARSES, ids=[q or "<empty>" for q, _ in PARSES])
def test_parse(query: str, expected: Node | None) -> None:
    parsed = parse_kql(query)
    assert parsed.node == expected
    assert parsed.text == query


ERRORS: list[tuple[str, int, int, str]] = [
    # (query, line, column, message)
    ('f:"abc', 1, 3, "Unterminated quoted string: no closing '\"'."),
    ('a:b or f:"abc\\"', 1, 10, "Unterminated quoted string: no closing '\"'."),
    ("a:b and ", 1, 9, 'Expected "(", NOT, value but end of input found.'),
    ("a:b and\n", 2, 1, 'Expected "(", NOT, value but end of input found.'),
    ("a:b or ", 1, 8, 'Expected "(", NOT, value but end of input found.'),
    ("f:", 1, 3, 'Expected "(", "{", value but end of input found.'),
    ("f: ", 1, 4, 'Expected "(", "{", value but end of input found.'),
    ("(f:)", 1, 4, 'Expected "(", "{", value but ")" found.'),
    ("f >= ", 1, 6, "Expected value but end of input found."),
    ("(a:b", 1, 5, 'Expected ")" but end of input found.'),
    ("a:b)", 1, 4, 'Expected end of input but ")" found.'),
    ("f:(a or b", 1, 10, 'Expected ")", AND, OR but end of input found.'),
    ("f:(a or b))", 1, 11, 'Expected end of input but ")" found.'),
    ("f:{a:b", 1, 7, 'Expected "}" but end of input found.'),
    ("a:b and\n  (c:d or e", 2, 12, 'Expected ")" but end of input found.'),
    ("a:b c:d", 1, 6, 'Expected AND, OR, end of input but ":" found.'),
    ("f:(a) b", 1, 7, 'Expected AND, OR, end of input but "b" found.'),
    ("f:a not b", 1, 5, "Expected AND, OR, end of input but NOT found."),
    ("not not a", 1, 5, 'Expected "(", value but NOT found.'),
    ("not(a)", 1, 4, 'Expected ":", AND, OR, end of input, range operator but "(" found.'),
    ("a or(b)", 1, 5, 'Expected ":", AND, OR, end of input, range operator but "(" found.'),
    ("f:not a", 1, 3, 'Expected "(", "{", value but NOT found.'),
    # Kibana's keyword check runs at every character: "not " ends a value even mid-word.
    ("f:cannot be", 1, 6, "Expected AND, OR, end of input but NOT found."),
    ("a:b and (", 1, 10, 'Expected "(", NOT, value but end of input found.'),
]


@pytest.mark.parametrize(("query", "line", "column", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_error(query: str, line: int, column: int, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_kql(query)
    err = info.value
    assert (err.line, err.column, err.reason) == (line, column, message)
    assert err.query == query
    assert str(err) == f"line {line}, column {column}: {message}"


def test_invalid_escape_points_at_backslash() -> None:
    with pytest.raises(QueryError) as info:
        parse_kql(r"f:a\x")
    assert (info.value.line, info.value.column) == (1, 4)
    assert info.value.reason.startswith('Invalid escape "\\x"')
    assert info.value.excerpt() == "f:a\\x\n   ^"


def test_escaped_space_is_not_an_escape() -> None:
    # Kibana has no "\ " escape: whitespace inside unquoted values needs none.
    with pytest.raises(QueryError):
        parse_kql(r"f:a\ b")


def test_parser_is_built_once() -> None:
    parse_kql("a:b")
    assert _parser() is _parser()
