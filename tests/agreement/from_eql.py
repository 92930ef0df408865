"""EQL conditions (:mod:`runner.eql.ast`) as formulas, with EQL's comparison rules:
``==`` / ``in`` / ``like`` / ``regex`` case-sensitive, ``:`` / ``in~`` / ``like~`` / ``regex~``
and ``fn~()`` not; ``startsWith``, ``endsWith``, ``stringContains``, ``length`` and
``cidrMatch`` over a field become field tests.  Anything else (other functions, arithmetic, a
field compared with a field) cannot be generated."""

from __future__ import annotations

from runner.eql import ast
from tests.agreement.formula import (
    TRUE,
    AnyOf,
    Cidr,
    Compare,
    Equals,
    Formula,
    Leaf,
    Length,
    NotGenerated,
    Pattern,
    Present,
    Regex,
    all_of,
    negate,
)

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def category_formula(field: str, category: str | None) -> Formula:
    if category is None:
        return TRUE
    return Leaf(field=field, test=Equals(values=(category,)))


def condition(expr: ast.Expr) -> Formula:
    if isinstance(expr, ast.And):
        return all_of(*(condition(t) for t in expr.terms))
    if isinstance(expr, ast.Or):
        return AnyOf(terms=tuple(condition(t) for t in expr.terms))
    if isinstance(expr, ast.Not):
        return negate(condition(expr.expr))
    if isinstance(expr, ast.Comparison):
        return _comparison(expr)
    if isinstance(expr, ast.InsensitiveEquals):
        name = _field(expr.expr)
        values = _literals(expr.patterns)
        if all(isinstance(v, str) for v in values):
            return Leaf(field=name, test=Pattern(patterns=tuple(map(str, values)), ci=True))
        return Leaf(field=name, test=Equals(values=values, ci=True))
    if isinstance(expr, ast.In):
        leaf = Leaf(field=_field(expr.expr),
                    test=Equals(values=_literals(expr.values), ci=expr.insensitive))  # fmt: skip
        return negate(leaf) if expr.negated else leaf
    if isinstance(expr, ast.Like):
        patterns = tuple(str(v) for v in _literals(expr.patterns))
        return Leaf(field=_field(expr.expr), test=Pattern(patterns=patterns, ci=expr.insensitive))
    if isinstance(expr, ast.Regex):
        patterns = tuple(str(v) for v in _literals(expr.patterns))
        return Leaf(field=_field(expr.expr), test=Regex(patterns=patterns, ci=expr.insensitive))
    if isinstance(expr, ast.Call):
        return _call(expr)
    if isinstance(expr, ast.Field):
        return Leaf(field=expr.name, test=Equals(values=(True,)))
    if isinstance(expr, ast.Literal):
        if expr.value is True:
            return TRUE
        raise NotGenerated(f"EQL: constant condition {expr.value!r}")
    raise NotGenerated(f"EQL: {type(expr).__name__} in a condition")


def _field(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Field):
        return expr.name
    if isinstance(expr, ast.Call):
        raise NotGenerated(f"EQL: a test on function {expr.name}")
    raise NotGenerated(f"EQL: a test on {type(expr).__name__}, not on a field")


def _literals(items: tuple[ast.Literal, ...]) -> tuple[str | int | float | bool | None, ...]:
    return tuple(i.value for i in items)


def _comparison(expr: ast.Comparison) -> Formula:
    left, right, op = expr.left, expr.right, expr.op
    if isinstance(left, ast.Literal) and not isinstance(right, ast.Literal):
        left, right, op = right, left, _FLIP[op]  # type: ignore[assignment]
    if not isinstance(right, ast.Literal):
        raise NotGenerated("EQL: a comparison between two expressions")
    value = right.value
    if isinstance(left, ast.Call) and left.name == "length" and isinstance(value, int):
        name = _field(left.args[0])
        if op == "!=":
            return negate(Leaf(field=name, test=Length(op="==", value=value), multi_ok=False))
        return Leaf(field=name, test=Length(op=op, value=value), multi_ok=False)
    name = _field(left)
    if value is None:
        if op == "==":
            return negate(Leaf(field=name, test=Present()))
        if op == "!=":
            return Leaf(field=name, test=Present())
        raise NotGenerated("EQL: an ordering comparison with null")
    if op == "==":
        return Leaf(field=name, test=Equals(values=(value,)))
    if op == "!=":
        return negate(Leaf(field=name, test=Equals(values=(value,))))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotGenerated("EQL: an ordering comparison with a string")
    return Leaf(field=name, test=Compare(op=op, value=value))


def _call(call: ast.Call) -> Formula:
    name = call.name
    if name in ("startsWith", "endsWith", "stringContains") and len(call.args) == 2:
        needle = call.args[1]
        if not isinstance(needle, ast.Literal) or not isinstance(needle.value, str):
            raise NotGenerated(f"EQL: {name} with a computed argument")
        text = needle.value.replace("*", "\\*")
        if "*" in needle.value or "?" in needle.value:
            raise NotGenerated(f"EQL: {name} with a literal * or ?")
        pattern = {"startsWith": f"{text}*", "endsWith": f"*{text}",
                   "stringContains": f"*{text}*"}[name]  # fmt: skip
        test = Pattern(patterns=(pattern,), ci=call.insensitive)
        return Leaf(field=_field(call.args[0]), test=test, multi_ok=False)
    if name == "cidrMatch":
        nets = tuple(str(a.value) for a in call.args[1:] if isinstance(a, ast.Literal))
        if len(nets) != len(call.args) - 1:
            raise NotGenerated("EQL: cidrMatch with a computed network")
        return Leaf(field=_field(call.args[0]), test=Cidr(networks=nets), multi_ok=False)
    raise NotGenerated(f"EQL: function {name}")
