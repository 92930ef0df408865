"""ES|QL rules: ``WHERE`` conditions (through ``EVAL`` / ``RENAME`` names, which are replaced
by their definitions) as a formula, and one ``STATS`` whose later ``WHERE`` counts rows
(``COUNT``, ``COUNT_DISTINCT``): the matching event is repeated as often as the counts need,
the counted field given a new value each time.  ES|QL compares a multi-valued field to null, so
every field gets one value.  Other commands and functions cannot be generated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.esql import ast
from runner.rules.model import Rule

if TYPE_CHECKING:
    from tests.agreement.cases import RuleCase
from tests.agreement.formula import (
    TRUE,
    AnyOf,
    Cidr,
    Compare,
    Equals,
    Formula,
    Leaf,
    NotGenerated,
    Pattern,
    Present,
    Regex,
    all_of,
    negate,
)

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!=", "=~": "=~"}
_PASSIVE = (ast.Keep, ast.Drop, ast.Sort, ast.Limit, ast.MvExpand)


@dataclass(frozen=True, kw_only=True, slots=True)
class Count:
    """A condition on a ``STATS`` count: ``field`` None for ``COUNT(*)``."""

    distinct: bool
    field: str | None
    op: str
    value: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    formula: Formula
    counts: tuple[Count, ...] = ()
    groups: tuple[str, ...] = ()


def plan(query: ast.Query) -> Plan:
    if not isinstance(query.source, ast.From):
        raise NotGenerated("ES|QL: ROW source")
    defs: dict[str, ast.Expr] = {}
    formula: Formula = TRUE
    aggregates: dict[str, ast.Expr] | None = None
    counts: list[Count] = []
    groups: list[str] = []
    for command in query.commands:
        if isinstance(command, _PASSIVE):
            continue
        if isinstance(command, ast.Eval):
            for assign in command.fields:
                defs[assign.name] = _substitute(assign.expr, defs)
        elif isinstance(command, ast.Rename):
            for old, new in command.pairs:
                defs[new] = defs.get(old, ast.Field(name=old))
        elif isinstance(command, ast.Where):
            if aggregates is None:
                formula = all_of(formula, condition(_substitute(command.condition, defs)))
            else:
                counts += _count_conditions(command.condition, aggregates, defs)
        elif isinstance(command, ast.Stats) and aggregates is None and not command.inline:
            if any(a.where is not None for a in command.aggregates):
                raise NotGenerated("ES|QL: an aggregate with its own WHERE")
            aggregates = {a.name: _substitute(a.expr, defs) for a in command.aggregates}
            for group in command.groups:
                groups += _fields(_substitute(group.expr, defs))
            # After STATS only the aggregates and groups exist: names are fresh.
            defs = {g.name: _substitute(g.expr, defs) for g in command.groups}
        else:
            raise NotGenerated(f"ES|QL: {type(command).__name__.upper()} command")
    return Plan(formula=formula, counts=tuple(counts), groups=tuple(groups))


def _substitute(expr: ast.Expr, defs: Mapping[str, ast.Expr]) -> ast.Expr:
    if isinstance(expr, ast.Field):
        return defs.get(expr.name, expr)
    if isinstance(expr, ast.Literal | ast.TimeSpan | ast.Param):
        return expr
    values: dict[str, Any] = {}
    for name in expr.__slots__:
        value = getattr(expr, name)
        if isinstance(value, tuple):
            value = tuple(_substitute(v, defs) if _is_expr(v) else v for v in value)
        elif _is_expr(value):
            value = _substitute(value, defs)
        values[name] = value
    return replace(expr, **values)


def _is_expr(value: object) -> bool:
    return type(value).__module__ == ast.__name__ and not isinstance(value, ast.Assign)


def _fields(expr: ast.Expr) -> list[str]:
    if isinstance(expr, ast.Field):
        return [expr.name]
    raise NotGenerated("ES|QL: a STATS group that is not a field")


def _count_conditions(expr: ast.Expr, aggregates: Mapping[str, ast.Expr],
                      defs: Mapping[str, ast.Expr]) -> list[Count]:  # fmt: skip
    if isinstance(expr, ast.And):
        return [*_count_conditions(expr.left, aggregates, defs),
                *_count_conditions(expr.right, aggregates, defs)]  # fmt: skip
    if (isinstance(expr, ast.Comparison) and isinstance(expr.left, ast.Field)
            and isinstance(expr.right, ast.Literal) and isinstance(expr.right.value, int)
            and expr.left.name in aggregates):  # fmt: skip
        call = aggregates[expr.left.name]
        if isinstance(call, ast.Call) and call.name in ("count", "count_distinct"):
            field = None
            if call.args:
                (arg,) = call.args[:1]
                if not isinstance(arg, ast.Field):
                    raise NotGenerated("ES|QL: a count of an expression")
                field = arg.name
            return [Count(distinct=call.name == "count_distinct", field=field, op=expr.op,
                          value=expr.right.value)]  # fmt: skip
    raise NotGenerated("ES|QL: a condition on an aggregate other than a count")


# --- conditions --------------------------------------------------------------------------------


def condition(expr: ast.Expr) -> Formula:
    if isinstance(expr, ast.And):
        return all_of(condition(expr.left), condition(expr.right))
    if isinstance(expr, ast.Or):
        return AnyOf(terms=(condition(expr.left), condition(expr.right)))
    if isinstance(expr, ast.Not):
        return negate(condition(expr.expr))
    if isinstance(expr, ast.IsNull):
        leaf = Leaf(field=_operand(expr.expr)[0], test=Present(), multi_ok=False)
        return leaf if expr.negated else negate(leaf)
    if isinstance(expr, ast.In):
        name, lower = _operand(expr.expr)
        values = tuple(_literal(v, lower) for v in expr.values)
        leaf = Leaf(field=name, test=Equals(values=values, ci=lower), multi_ok=False)
        return negate(leaf) if expr.negated else leaf
    if isinstance(expr, ast.Like):
        if expr.computed:
            raise NotGenerated("ES|QL: a computed LIKE pattern")
        name, lower = _operand(expr.expr)
        if lower and any(p != p.lower() for p in expr.patterns):
            raise NotGenerated("ES|QL: an upper-case pattern on a lower-cased value")
        test: Pattern | Regex = (Regex(patterns=expr.patterns, ci=lower) if expr.regex
                                 else Pattern(patterns=expr.patterns, ci=lower))  # fmt: skip
        leaf = Leaf(field=name, test=test, multi_ok=False)
        return negate(leaf) if expr.negated else leaf
    if isinstance(expr, ast.Comparison):
        return _comparison(expr)
    if isinstance(expr, ast.Call):
        return _call(expr)
    if isinstance(expr, ast.Field):
        return Leaf(field=expr.name, test=Equals(values=(True,)), multi_ok=False)
    if isinstance(expr, ast.Literal) and expr.value is True:
        return TRUE
    raise NotGenerated(f"ES|QL: {type(expr).__name__} in a condition")


def _operand(expr: ast.Expr) -> tuple[str, bool]:
    """The field tested, and whether it is lower-cased first (``TO_LOWER(field)``)."""
    if isinstance(expr, ast.Field):
        return expr.name, False
    if isinstance(expr, ast.Call) and expr.name == "to_lower" and len(expr.args) == 1:
        inner = expr.args[0]
        if isinstance(inner, ast.Field):
            return inner.name, True
    raise NotGenerated(f"ES|QL: a test on {_describe(expr)}")


def _describe(expr: ast.Expr) -> str:
    return f"{expr.name.upper()}()" if isinstance(expr, ast.Call) else type(expr).__name__


def _literal(expr: ast.Expr, lower: bool) -> str | int | float | bool | None:
    if not isinstance(expr, ast.Literal) or isinstance(expr.value, tuple):
        raise NotGenerated("ES|QL: a comparison with a computed value")
    if lower and isinstance(expr.value, str) and expr.value != expr.value.lower():
        raise NotGenerated("ES|QL: an upper-case value compared with a lower-cased one")
    return expr.value


def _comparison(expr: ast.Comparison) -> Formula:
    left, right, op = expr.left, expr.right, expr.op
    if isinstance(left, ast.Literal) and not isinstance(right, ast.Literal):
        left, right, op = right, left, _FLIP[op]  # type: ignore[assignment]
    name, lower = _operand(left)
    value = _literal(right, lower)
    if op in ("==", "=~", "!="):
        leaf = Leaf(field=name, test=Equals(values=(value,), ci=lower or op == "=~"),
                    multi_ok=False)  # fmt: skip
        return negate(leaf) if op == "!=" else leaf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotGenerated("ES|QL: an ordering comparison with a non-number")
    return Leaf(field=name, test=Compare(op=op, value=value), multi_ok=False)  # type: ignore[arg-type]


def _call(call: ast.Call) -> Formula:
    if call.name in ("starts_with", "ends_with") and len(call.args) == 2:
        name, lower = _operand(call.args[0])
        text = _literal(call.args[1], lower)
        if not isinstance(text, str) or "*" in text or "?" in text:
            raise NotGenerated(f"ES|QL: {call.name.upper()} with a non-plain prefix")
        pattern = f"{text}*" if call.name == "starts_with" else f"*{text}"
        return Leaf(field=name, test=Pattern(patterns=(pattern,), ci=lower), multi_ok=False)
    if call.name == "cidr_match" and len(call.args) >= 2:
        name, _ = _operand(call.args[0])
        nets = tuple(str(_literal(a, False)) for a in call.args[1:])
        return Leaf(field=name, test=Cidr(networks=nets), multi_ok=False)
    raise NotGenerated(f"ES|QL: function {call.name.upper()}")


# --- the rule's events -------------------------------------------------------------------------


def esql_case(rule: Rule, slot: str, now: datetime) -> RuleCase:
    from tests.agreement import cases
    from tests.agreement.solver import first, near_misses

    query = rule.esql
    if query.cluster_only():
        raise NotGenerated("ES|QL: " + "; ".join(query.cluster_only()))
    if not isinstance(query.source, ast.From):
        raise NotGenerated("ES|QL: ROW source")
    planned = plan(query)
    pattern = query.source.sources[0]
    if pattern.startswith(".alerts-"):
        raise NotGenerated("reads the alerts index (alerts as a source)")
    index = cases.concrete_index(pattern, slot)
    present = [Leaf(field=g, test=Present(), multi_ok=False) for g in planned.groups]
    formula = all_of(planned.formula, *present)
    repeats, varied = _repeats(planned.counts)
    builder = cases.Builder(rule, slot, now, index)
    match = first(formula, multi=False)
    for i in range(repeats):
        fields = dict(match.fields())
        for name in varied:
            if name in planned.groups:
                raise NotGenerated("ES|QL: a distinct count of a STATS group")
            fields[name] = _variant(match.fields().get(name), i)
        builder.add(fields, "match", builder.at(i * 10))
    for i, doc in enumerate(near_misses(match, limit=cases.NEAR_MISSES, multi=False)):
        builder.add(doc, "near-miss", builder.at(1000 + i * 100))
    return cases.RuleCase(rule=rule, events=cases.consistent(builder.events))


def _variant(value: object, n: int) -> object:
    if value is None:
        return f"agreement-{n}"
    if isinstance(value, bool):
        raise NotGenerated("ES|QL: a distinct count of a boolean")
    if isinstance(value, int | float):
        return value + n
    return f"{value}{n}" if n else value


def _repeats(counts: tuple[Count, ...]) -> tuple[int, set[str]]:
    """How many copies of the match, and the fields each copy changes, so every count holds."""
    low = 1
    for c in counts:
        low = max(low, {">=": c.value, ">": c.value + 1, "==": c.value}.get(c.op, 1))
    varied = {c.field for c in counts if c.distinct and c.field and c.op in (">=", ">", "==")
              and c.value > 1}  # fmt: skip
    for c in counts:
        got = low if (not c.distinct or c.field in varied) else 1
        ok = {">=": got >= c.value, ">": got > c.value, "==": got == c.value,
              "<": got < c.value, "<=": got <= c.value, "!=": got != c.value}[c.op]  # fmt: skip
        if not ok:
            raise NotGenerated("ES|QL: counts that no number of copies satisfies")
    if low > 50:
        raise NotGenerated(f"ES|QL: needs {low} copies of the event")
    return low, {f for f in varied if f is not None}
