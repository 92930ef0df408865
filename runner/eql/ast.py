"""Typed syntax tree for Elasticsearch's EQL dialect.

The tree keeps every distinction that changes results: ``:`` vs ``==``, ``like`` vs ``like~``,
``in`` vs ``in~``, ``regex`` vs ``regex~``, ``fn~()``, ``?field``.  Both the Elasticsearch
request (which sends the original text) and the embedded engine's SQL are derived from it.
All nodes are frozen and hashable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

Scalar = str | int | float | bool | None

CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">="]
ArithmeticOp = TypingLiteral["+", "-", "*", "/", "%"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Field:
    """A document field; ``name`` is the full dotted name with backtick escapes resolved.

    ``optional`` is the ``?field`` form: an unknown field is null instead of an error.
    """

    name: str
    optional: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Literal:
    """A constant: string (escapes resolved, raw strings verbatim), number, boolean or null."""

    value: Scalar


@dataclass(frozen=True, kw_only=True, slots=True)
class Comparison:
    """``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``: case-sensitive."""

    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class InsensitiveEquals:
    """``expr : "pattern"`` or ``expr : ("p1", "p2")``.

    Case-insensitive, whole value, with ``*`` / ``?`` wildcards.
    """

    expr: Expr
    patterns: tuple[Literal, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class In:
    """``expr in (...)`` / ``in~`` / ``not in``: exact membership, no wildcards."""

    expr: Expr
    values: tuple[Literal, ...]
    insensitive: bool = False
    negated: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Like:
    """``expr like "p*"`` / ``like~``: wildcards ``*`` and ``?`` over the whole value."""

    expr: Expr
    patterns: tuple[Literal, ...]
    insensitive: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Regex:
    """``expr regex "..."`` / ``regex~``: Lucene regular expression over the whole value."""

    expr: Expr
    patterns: tuple[Literal, ...]
    insensitive: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Or:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Arithmetic:
    op: ArithmeticOp
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Negate:
    expr: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Call:
    """A function call; ``name`` is the canonical spelling (``startsWith``, ``cidrMatch``...).

    ``insensitive`` is the ``fn~(...)`` form.
    """

    name: str
    args: tuple[Expr, ...]
    insensitive: bool = False


Expr = (
    Field
    | Literal
    | Comparison
    | InsensitiveEquals
    | In
    | Like
    | Regex
    | Not
    | And
    | Or
    | Arithmetic
    | Negate
    | Call
)


@dataclass(frozen=True, kw_only=True, slots=True)
class EventQuery:
    """``<category> where <condition>``; ``category`` is None for ``any``."""

    category: str | None
    condition: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Stage:
    """One bracketed stage of a sequence or sample.

    ``keys`` are the stage's own ``by`` keys (the shared keys live on the sequence);
    ``runs`` is ``with runs=N``; ``missing`` is the ``![...]`` form.
    """

    query: EventQuery
    keys: tuple[Expr, ...] = ()
    runs: int = 1
    missing: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class SequenceQuery:
    keys: tuple[Expr, ...]
    maxspan_ms: int | None
    stages: tuple[Stage, ...]
    until: Stage | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SampleQuery:
    keys: tuple[Expr, ...]
    stages: tuple[Stage, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Pipe:
    kind: TypingLiteral["head", "tail"]
    count: int


Body = EventQuery | SequenceQuery | SampleQuery


@dataclass(frozen=True, kw_only=True, slots=True)
class Query:
    """A whole EQL query: the body, its pipes, and the original text (sent to Elasticsearch)."""

    body: Body
    pipes: tuple[Pipe, ...] = ()
    text: str = ""
