"""Typed syntax tree for the ES|QL that detection rules use.

A query is a source command (``FROM`` or ``ROW``) and a chain of processing commands.  The tree
keeps what changes results: ``==`` vs ``=~``, ``LIKE`` vs ``RLIKE``, ``NOT IN``, ``IS NOT
NULL``, an aggregate's own ``WHERE``, ``INLINE STATS`` vs ``STATS``.  Column names of unnamed
``EVAL`` / ``STATS`` expressions are their source text, as Elasticsearch names them.  All nodes
are frozen and hashable.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Literal as TypingLiteral

Scalar = str | int | float | bool | None

CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">=", "=~"]
ArithmeticOp = TypingLiteral["+", "-", "*", "/", "%"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Field:
    """A column: a document field or a name an earlier command made (dotted, backticks gone).
    ``pos`` is its offset in the query text (-1 when built in code), for verification errors."""

    name: str
    pos: int = _field(default=-1, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Literal:
    """A constant; an array literal (``[1, 2]``) is a tuple of scalars."""

    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeSpan:
    """``1 hour``, ``15 minutes``, ``7d``: ``unit`` is the word as written, lower-cased."""

    value: int
    unit: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Param:
    """A ``?name`` query parameter (parsed; no rule of ours supplies values)."""

    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Call:
    """A function or aggregate; ``name`` lower-case.  ``star`` is ``COUNT(*)``; ``options`` the
    trailing ``{"key": value}`` map some functions take."""

    name: str
    args: tuple[Expr, ...] = ()
    star: bool = False
    options: tuple[tuple[str, Scalar], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Arithmetic:
    op: ArithmeticOp
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Negate:
    expr: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Comparison:
    """Case-sensitive except ``=~`` (case-insensitive equality)."""

    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class In:
    expr: Expr
    values: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class IsNull:
    expr: Expr
    negated: bool = False  # IS NOT NULL


@dataclass(frozen=True, kw_only=True, slots=True)
class Like:
    """``LIKE`` (wildcards ``*`` ``?``) or ``RLIKE`` (Lucene regex) over the whole value,
    case-sensitive; several patterns match if any does."""

    expr: Expr
    patterns: tuple[str, ...]
    regex: bool = False
    negated: bool = False
    computed: tuple[Expr, ...] = ()  # patterns given as expressions, evaluated per row


@dataclass(frozen=True, kw_only=True, slots=True)
class Match:
    """``field : "text"``, the full-text match operator."""

    field: Field
    value: Scalar


@dataclass(frozen=True, kw_only=True, slots=True)
class Cast:
    """``expr::type``; ``type`` lower-case as written (``keyword``, ``long``, ``datetime``...)."""

    expr: Expr
    type: str


Expr = (
    Field
    | Literal
    | TimeSpan
    | Param
    | Call
    | Arithmetic
    | Negate
    | Comparison
    | And
    | Or
    | Not
    | In
    | IsNull
    | Like
    | Match
    | Cast
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Assign:
    """``name = expr``, or an unnamed expression whose name is its source text."""

    name: str
    expr: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Aggregate:
    """One ``STATS`` output: ``name = AGG(...)`` with its own optional ``WHERE`` filter."""

    name: str
    expr: Expr
    where: Expr | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Order:
    expr: Expr
    descending: bool = False
    nulls_first: bool | None = None  # None: Elasticsearch's default (nulls last ascending)


# ---- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class From:
    sources: tuple[str, ...]
    metadata: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    fields: tuple[Assign, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Where:
    condition: Expr


@dataclass(frozen=True, kw_only=True, slots=True)
class Eval:
    fields: tuple[Assign, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Keep:
    patterns: tuple[str, ...]  # with ``*`` wildcards
    positions: tuple[int, ...] = _field(default=(), compare=False)  # offsets of the patterns


@dataclass(frozen=True, kw_only=True, slots=True)
class Drop:
    patterns: tuple[str, ...]
    positions: tuple[int, ...] = _field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Rename:
    pairs: tuple[tuple[str, str], ...]  # (old, new)
    spans: tuple[tuple[int, int], ...] = _field(default=(), compare=False)  # each clause's text


@dataclass(frozen=True, kw_only=True, slots=True)
class Stats:
    aggregates: tuple[Aggregate, ...]
    groups: tuple[Assign, ...] = ()
    inline: bool = False  # INLINE STATS: every row kept, the aggregates added to it


@dataclass(frozen=True, kw_only=True, slots=True)
class Sort:
    orders: tuple[Order, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Limit:
    count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class MvExpand:
    field: str
    pos: int = _field(default=-1, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Grok:
    input: Expr
    pattern: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Dissect:
    input: Expr
    pattern: str
    append_separator: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Completion:
    """``COMPLETION`` sends a prompt to an inference endpoint: a cluster-side service."""

    target: str
    prompt: Expr
    options: tuple[tuple[str, Scalar], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Enrich:
    """``ENRICH`` reads an enrich policy's index, which lives on the cluster."""

    policy: str
    on: str | None = None
    with_: tuple[tuple[str, str], ...] = ()  # (new name, enrich field)


@dataclass(frozen=True, kw_only=True, slots=True)
class LookupJoin:
    index: str
    on: tuple[str, ...]


SourceCommand = From | Row
Command = (
    Where
    | Eval
    | Keep
    | Drop
    | Rename
    | Stats
    | Sort
    | Limit
    | MvExpand
    | Grok
    | Dissect
    | Completion
    | Enrich
    | LookupJoin
)

# Commands that need something only a cluster has (an inference endpoint, an enrich policy, a
# lookup index): the embedded store cannot run a query that uses them.
CLUSTER_ONLY: dict[type, str] = {
    Completion: "COMPLETION needs an inference endpoint",
    Enrich: "ENRICH needs an enrich policy",
    LookupJoin: "LOOKUP JOIN needs a lookup index",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Query:
    """A whole ES|QL query and its original text (sent to Elasticsearch unchanged)."""

    source: SourceCommand
    commands: tuple[Command, ...] = ()
    text: str = ""

    def cluster_only(self) -> tuple[str, ...]:
        """Why the embedded store cannot run this query (empty when it can)."""
        reasons = {CLUSTER_ONLY[type(c)] for c in self.commands if type(c) in CLUSTER_ONLY}
        return tuple(sorted(reasons))

    @property
    def keeps_id(self) -> bool:
        """``FROM ... METADATA _id``: rows are source documents (Kibana's id rule)."""
        return isinstance(self.source, From) and "_id" in self.source.metadata

    @property
    def aggregates(self) -> bool:
        """A ``STATS`` (not ``INLINE STATS``) turns documents into groups."""
        return any(isinstance(c, Stats) and not c.inline for c in self.commands)
