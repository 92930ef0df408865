"""KQL (``kuery``) text to :mod:`runner.kql.ast`, mirroring Kibana's grammar and literal rules.

Kibana's parser (``@kbn/es-query``, ``grammar.peggy``) decides what a rule means, so the quirks
are kept on purpose: an unquoted value may span words (``field:foo bar`` is one value
``"foo bar"``), it is trimmed, ``\\*`` is a literal star, an unquoted field named ``null`` means
"no field", and inside quotes a backslash only escapes ``"``, ``\\``, ``t``, ``r``, ``n`` and
``uXXXX`` (any other backslash is kept).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from runner.errors import QueryError
from runner.grammars import cached_lark
from runner.kql import ast

__all__ = ["parse_kql"]

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# JavaScript's String.prototype.trim() set: Kibana trims unquoted literals with it.
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)

_UNQUOTED_PIECE = re.compile(
    r"""\\(?:(?P<ws>[trn])|(?P<special>[\\():<>"*{}])|u(?P<hex>[0-9a-fA-F]{4})|(?P<kw>(?i:or|and|not)))
      |(?P<star>\*)
      |(?P<text>[^\\*]+)""",
    re.VERBOSE | re.DOTALL,
)
_QUOTED_PIECE = re.compile(
    r"""\\(?:(?P<ws>[trn])|u(?P<hex>[0-9a-fA-F]{4})|(?P<special>[\\"]))
      |(?P<text>\\|[^\\]+)""",
    re.VERBOSE | re.DOTALL,
)
_WHITESPACE_ESCAPES = {"t": "\t", "r": "\r", "n": "\n"}

# Terminal names as they appear in error messages (Kibana says "value", "field name", ...).
_EXPECTED_NAMES = {
    "_LPAR": '"("',
    "_RPAR": '")"',
    "_LBRACE": '"{"',
    "_RBRACE": '"}"',
    "_COLON": '":"',
    "RANGE_OP": "range operator",
    "_OR": "OR",
    "_AND": "AND",
    "_NOT": "NOT",
    "QUOTED": "value",
    "UNQUOTED": "value",
    "$END": "end of input",
}
_FOUND_NAMES = {"_OR": "OR", "_AND": "AND", "_NOT": "NOT"}


@dataclass(frozen=True, slots=True)
class _Unquoted:
    """A decoded unquoted literal: the literal parts between its unescaped ``*``."""

    segments: tuple[str, ...]

    @property
    def is_wildcard(self) -> bool:
        return len(self.segments) > 1

    @property
    def joined(self) -> str:
        # Kibana's wildcard toElasticsearchQuery: the stars put back, escapes not restored.
        return "*".join(self.segments)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _fix_surrogates(text: str) -> str:
    # \uD83D\uDE00 is one character in JavaScript; Python keeps two lone surrogates.
    if _SURROGATE.search(text):
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    return text


def _decode_unquoted(raw: str) -> _Unquoted:
    if "\\" not in raw and "*" not in raw:  # the common case: nothing to decode
        return _Unquoted((raw.strip(_JS_SPACE),))
    segments: list[str] = []
    current: list[str] = []
    for m in _UNQUOTED_PIECE.finditer(raw):
        if m.group("star") is not None:
            segments.append("".join(current))
            current = []
        elif (ws := m.group("ws")) is not None:
            current.append(_WHITESPACE_ESCAPES[ws])
        elif (hex_digits := m.group("hex")) is not None:
            current.append(chr(int(hex_digits, 16)))
        else:
            # An escaped special or keyword stands for itself (``\or`` is the text "or").
            current.append(m.group("text") or m.group("special") or m.group("kw"))
    segments.append("".join(current))
    segments = [_fix_surrogates(s) for s in segments]
    # Kibana trims the whole sequence; stars are not whitespace, so only the ends move.
    segments[0] = segments[0].lstrip(_JS_SPACE)
    segments[-1] = segments[-1].rstrip(_JS_SPACE)
    return _Unquoted(tuple(segments))


def _decode_quoted(raw: str) -> str:
    out: list[str] = []
    for m in _QUOTED_PIECE.finditer(raw[1:-1]):
        if (ws := m.group("ws")) is not None:
            out.append(_WHITESPACE_ESCAPES[ws])
        elif (hex_digits := m.group("hex")) is not None:
            out.append(chr(int(hex_digits, 16)))
        else:
            out.append(m.group("text") or m.group("special"))
    return _fix_surrogates("".join(out))


def _literal_text(token: Token) -> str:
    """A field name, nested path or range bound as Kibana's literal/wildcard node stringifies."""
    if token.type == "QUOTED":
        return _decode_quoted(token.value)
    return _decode_unquoted(token.value).joined


def _is_lone_wildcard(value: ast.Value) -> bool:
    return isinstance(value, ast.Wildcard) and value.segments == ("", "")


# Token text to the tree's typed operator (a lookup, so mypy sees a RangeOp).
_RANGE_OPS: dict[str, ast.RangeOp] = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _ToAst(Transformer[Token, Any]):
    """Builds the typed tree while LALR reduces (no intermediate parse tree).

    Children are whatever the grammar puts there, hence ``Any``: the grammar is the type check.
    """

    def start(self, children: list[Any]) -> ast.Node | None:
        return children[0] if children else None

    def or_query(self, children: list[Any]) -> ast.Or:
        return ast.Or(terms=tuple(children))

    def and_query(self, children: list[Any]) -> ast.And:
        return ast.And(terms=tuple(children))

    def negation(self, children: list[Any]) -> ast.Not:
        return ast.Not(node=children[0])

    def nested(self, children: list[Any]) -> ast.Nested:
        path, query = children
        # An unquoted ``null`` path is JavaScript null, which Kibana prints as "null".
        return ast.Nested(path="null" if path is None else path, query=query)

    def range(self, children: list[Any]) -> ast.Range:
        field, op, bound = children
        return ast.Range(field="null" if field is None else field, op=_RANGE_OPS[op], value=bound)

    def field_value(self, children: list[Any]) -> ast.FieldMatch | ast.Exists:
        field, value = children
        # Kibana compiles a lone ``*`` value to ``exists`` (its is-function checks this).
        if field is not None and _is_lone_wildcard(value):
            return ast.Exists(field=field)
        return ast.FieldMatch(field=field, value=value)

    def bare_value(self, children: list[Any]) -> ast.FieldMatch:
        return ast.FieldMatch(field=None, value=children[0])

    def value_or(self, children: list[Any]) -> ast.ValueOr:
        return ast.ValueOr(terms=tuple(children))

    def value_and(self, children: list[Any]) -> ast.ValueAnd:
        return ast.ValueAnd(terms=tuple(children))

    def value_negation(self, children: list[Any]) -> ast.ValueNot:
        return ast.ValueNot(value=children[0])

    def field(self, children: list[Token]) -> str | None:
        (token,) = children
        # Kibana turns the unquoted literal ``null`` into JavaScript null: "no field".
        if token.type == "UNQUOTED" and _decode_unquoted(token.value).segments == ("null",):
            return None
        return _literal_text(token)

    def literal(self, children: list[Token]) -> str:
        return _literal_text(children[0])

    def value(self, children: list[Token]) -> ast.Value:
        (token,) = children
        if token.type == "QUOTED":
            return ast.Phrase(text=_decode_quoted(token.value))
        decoded = _decode_unquoted(token.value)
        if decoded.is_wildcard:
            return ast.Wildcard(segments=decoded.segments)
        return ast.Term(text=decoded.segments[0])


@functools.cache
def _parser() -> Lark:
    # Built once, on first use: LALR with the contextual lexer and the transformer inline.
    return cached_lark(
        _GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        transformer=_ToAst(),
        propagate_positions=False,
        maybe_placeholders=False,
    )


def parse_kql(text: str) -> ast.Query:
    """Parse a KQL query; raises :class:`QueryError` (1-based line/column) on a syntax error."""
    try:
        # With the transformer inline, parse() returns what _ToAst.start returns.
        node = cast("ast.Node | None", _parser().parse(text))
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    return ast.Query(node=node, text=text)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _expected(exc: UnexpectedInput, fallback: Iterable[str]) -> str:
    # The LALR table's expected set is merged across contexts (it offers ")" at top level);
    # replaying each terminal through the interactive parser gives what truly fits here.
    interactive = getattr(exc, "interactive_parser", None)
    names: Iterable[str] = interactive.accepts() if interactive is not None else fallback
    return ", ".join(sorted({_EXPECTED_NAMES.get(n, n) for n in names}))


def _syntax_error(text: str, exc: UnexpectedInput) -> QueryError:
    if isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        char = text[offset : offset + 1]
        if char == '"':
            message = "Unterminated quoted string: no closing '\"'."
        elif char == "\\":
            message = (
                f'Invalid escape "{text[offset : offset + 2]}": only \\ followed by one of '
                '\\():<>"*{}, or/and/not, t, r, n or uXXXX is an escape.'
            )
        else:
            message = f'Expected {_expected(exc, exc.allowed)} but "{char}" found.'
    elif isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        # Keyword tokens carry their surrounding whitespace; point at the word itself.
        word = token.value.lstrip(" \t\r\n\u00a0")
        start = token.start_pos if token.start_pos is not None else 0
        offset = start + len(token.value) - len(word)
        found = _FOUND_NAMES.get(token.type) or f'"{word.rstrip()}"'
        message = f"Expected {_expected(exc, exc.expected)} but {found} found."
    else:
        # The query stopped short: point just past its end.
        offset = len(text)
        expected = getattr(exc, "expected", None) or ()
        message = f"Expected {_expected(exc, expected)} but end of input found."
    line, column = _position(text, offset)
    return QueryError(message, query=text, line=line, column=column)
