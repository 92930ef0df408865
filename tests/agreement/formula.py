"""A language-neutral condition over one document, built from an EQL, KQL or ES|QL tree.

Leaves test one field; ``All`` / ``AnyOf`` combine them; :func:`negate` pushes a negation down
to the leaves, so a solver only ever meets (possibly negated) leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Scalar = str | int | float | bool | None
CompareOp = Literal["<", "<=", ">", ">="]


class NotGenerated(Exception):
    """The generator cannot build a matching document for this rule; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True, slots=True)
class Equals:
    """Equal to one of ``values`` (``ci``: ignoring case)."""

    values: tuple[Scalar, ...]
    ci: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Pattern:
    """The whole value matches one of the patterns: ``*`` any run, ``?`` one character
    (``qmark`` False: ``?`` is literal, as in KQL)."""

    patterns: tuple[str, ...]
    ci: bool = False
    qmark: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Regex:
    patterns: tuple[str, ...]
    ci: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Compare:
    op: CompareOp
    value: int | float


@dataclass(frozen=True, kw_only=True, slots=True)
class Cidr:
    networks: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Present:
    """The field has a value (negated: the field is missing)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Length:
    op: Literal["==", "<", "<=", ">", ">="]
    value: int


Test = Equals | Pattern | Regex | Compare | Cidr | Present | Length


@dataclass(frozen=True, kw_only=True, slots=True)
class Leaf:
    field: str
    test: Test
    negated: bool = False
    # False where a field with several values would not be tested value by value (function
    # arguments, ES|QL): the solver then gives this field one value.
    multi_ok: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class All:
    terms: tuple[Formula, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AnyOf:
    terms: tuple[Formula, ...]


Formula = Leaf | All | AnyOf

TRUE = All(terms=())


def negate(formula: Formula) -> Formula:
    if isinstance(formula, Leaf):
        return replace(formula, negated=not formula.negated)
    if isinstance(formula, All):
        return AnyOf(terms=tuple(negate(t) for t in formula.terms))
    return All(terms=tuple(negate(t) for t in formula.terms))


def all_of(*terms: Formula) -> Formula:
    flat: list[Formula] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, All) else (term,))
    return flat[0] if len(flat) == 1 else All(terms=tuple(flat))


def leaves(formula: Formula) -> list[Leaf]:
    if isinstance(formula, Leaf):
        return [formula]
    return [leaf for t in formula.terms for leaf in leaves(t)]
