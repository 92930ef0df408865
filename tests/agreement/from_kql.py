"""KQL trees (:mod:`runner.kql.ast`) as formulas.  A term or phrase is an exact test (keyword
fields are case-sensitive), a wildcard value a ``*`` pattern (``?`` literal), ``field:*`` a
presence test, ``field >= n`` a number range.  A field name with ``*`` names the field the
generator will write (each ``*`` read as ``0``); values without a field, ``nested`` queries and
date ranges cannot be generated."""

from __future__ import annotations

from runner.kql import ast
from tests.agreement.formula import (
    TRUE,
    All,
    AnyOf,
    Cidr,
    Compare,
    Equals,
    Formula,
    Leaf,
    NotGenerated,
    Pattern,
    Present,
    all_of,
    negate,
)
from tests.agreement.values import is_ip_field


def concrete_field(name: str) -> str:
    return name.replace("*", "0")


def query(parsed: ast.Query) -> Formula:
    return TRUE if parsed.node is None else node(parsed.node)


def node(item: ast.Node) -> Formula:
    if isinstance(item, ast.And):
        return all_of(*(node(t) for t in item.terms))
    if isinstance(item, ast.Or):
        return AnyOf(terms=tuple(node(t) for t in item.terms))
    if isinstance(item, ast.Not):
        return negate(node(item.node))
    if isinstance(item, ast.Exists):
        return Leaf(field=concrete_field(item.field), test=Present())
    if isinstance(item, ast.Range):
        try:
            number: int | float = int(item.value)
        except ValueError:
            try:
                number = float(item.value)
            except ValueError:
                raise NotGenerated(f"KQL: range on a non-number {item.value!r}") from None
        return Leaf(field=concrete_field(item.field), test=Compare(op=item.op, value=number))
    if isinstance(item, ast.Nested):
        raise NotGenerated("KQL: nested query")
    if item.field is None:
        raise NotGenerated("KQL: a value without a field")
    return _value(concrete_field(item.field), item.value)


def _value(field: str, value: ast.Value) -> Formula:
    if isinstance(value, ast.ValueAnd):
        return All(terms=tuple(_value(field, v) for v in value.terms))
    if isinstance(value, ast.ValueOr):
        return AnyOf(terms=tuple(_value(field, v) for v in value.terms))
    if isinstance(value, ast.ValueNot):
        return negate(_value(field, value.value))
    if isinstance(value, ast.Wildcard):
        if all(s == "" for s in value.segments):
            return Leaf(field=field, test=Present())
        pattern = "*".join(s.replace("*", "") for s in value.segments)
        return Leaf(field=field, test=Pattern(patterns=(pattern,), qmark=False))
    text = value.text
    if isinstance(value, ast.Term) and text in ("true", "false"):
        # ECS flags (`process.code_signature.trusted:false`) are booleans.
        return Leaf(field=field, test=Equals(values=(text == "true",)))
    if is_ip_field(field) and "/" in text:
        # A term on an ip field may be a CIDR block.
        return Leaf(field=field, test=Cidr(networks=(text,)))
    return Leaf(field=field, test=Equals(values=(text,)))
