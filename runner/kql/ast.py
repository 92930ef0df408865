"""Typed syntax tree for Kibana Query Language (KQL / ``kuery``).

Values keep the distinctions Kibana's compiler acts on: an unquoted term (``match``), a quoted
phrase (``match_phrase``) and an unquoted value with unescaped ``*`` (``query_string``
wildcard).  ``field:(a or b)`` keeps its value-level boolean structure, as Kibana's DSL does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

RangeOp = TypingLiteral["<", "<=", ">", ">="]


@dataclass(frozen=True, kw_only=True, slots=True)
class Term:
    """An unquoted value without wildcards, escapes resolved."""

    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Phrase:
    """A double-quoted value: matched as a phrase, ``*`` is literal."""

    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Wildcard:
    """An unquoted value with unescaped ``*``: ``segments`` are the literal parts between them.

    ``a*b`` is ``("a", "b")``; ``*a`` is ``("", "a")``.
    """

    segments: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueAnd:
    terms: tuple[Value, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueOr:
    terms: tuple[Value, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueNot:
    value: Value


Value = Term | Phrase | Wildcard | ValueAnd | ValueOr | ValueNot


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldMatch:
    """``field:value``; ``field`` None is a bare value searched in every field."""

    field: str | None
    value: Value


@dataclass(frozen=True, kw_only=True, slots=True)
class Exists:
    """``field:*``."""

    field: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Range:
    field: str
    op: RangeOp
    value: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Nested:
    """``path:{ query }``: the inner query's fields are relative to ``path``."""

    path: str
    query: Node


@dataclass(frozen=True, kw_only=True, slots=True)
class And:
    terms: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Or:
    terms: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Not:
    node: Node


Node = FieldMatch | Exists | Range | Nested | And | Or | Not


@dataclass(frozen=True, kw_only=True, slots=True)
class Query:
    """A whole KQL query; ``node`` is None for an empty query (matches everything)."""

    node: Node | None
    text: str = ""
