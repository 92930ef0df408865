"""EQL functions compiled to SQL (see :mod:`.sqlfuncs` for the macros they use).

Semantics follow Elasticsearch's EQL function reference: a null argument gives null;
``startsWith`` and ``cidrMatch`` on a field with literal arguments run as queries (any value of
a multi-valued field matches), the others as scripts (the field's first doc value);
string functions compare case-sensitively unless called as ``fn~()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.embedded.values import Value, as_text
from runner.eql import ast

if TYPE_CHECKING:
    from runner.embedded.eql_sql import EqlCompiler

__all__ = ["call"]


def call(compiler: EqlCompiler, node: ast.Call) -> Value:
    handler = _HANDLERS.get(node.name.lower())
    if handler is None:
        raise compiler.error(f"unknown function [{node.name}]", node.name)
    return handler(compiler, node)


def _args(compiler: EqlCompiler, node: ast.Call) -> list[Value]:
    return [compiler.expr(a) for a in node.args]


def _text(compiler: EqlCompiler, value: Value, ci: bool = False) -> str:
    sql = as_text(value.scalar())
    return f"lower({sql})" if ci else sql


def _math(op: str) -> Callable[[EqlCompiler, ast.Call], Value]:
    def handler(compiler: EqlCompiler, node: ast.Call) -> Value:
        left, right = _args(compiler, node)
        return compiler.arithmetic(op, left, right)

    return handler


def _between(compiler: EqlCompiler, node: ast.Call) -> Value:
    args = _args(compiler, node)
    source, left, right = (_text(compiler, a) for a in args[:3])
    greedy = "false"
    if len(args) > 3:
        flag = args[3].scalar()
        if flag.kind not in ("bool", "null"):
            raise compiler.error("between: the greedy argument must be a boolean", node.name)
        greedy = flag.sql
    ci = "true" if node.insensitive else "false"
    return Value(sql=f"eql_between({source}, {left}, {right}, {greedy}, {ci})", kind="keyword")


def _cidr_match(compiler: EqlCompiler, node: ast.Call) -> Value:
    subject = compiler.expr(node.args[0])
    texts: list[str] = []
    for arg in node.args[1:]:
        if not isinstance(arg, ast.Literal) or not isinstance(arg.value, str):
            raise compiler.error("cidrMatch: addresses must be string literals", node.name)
        texts.append(arg.value)
    if subject.kind == "null":
        return Value(sql="NULL::BOOLEAN", kind="bool")
    ranges = compiler.cidr_ranges(texts)
    if not subject.is_field:
        subject = subject.scalar()

    bounds = "[" + ", ".join(f"['{low}', '{high}']" for low, high in ranges) + "]"

    def test(v: Value) -> str:
        # An address that does not parse is simply not in any range.
        return f"eql_cidr_in(eql_ip_hex({as_text(v)}), {bounds})"

    return Value(sql=compiler._any(subject, test), kind="bool")


def _concat(compiler: EqlCompiler, node: ast.Call) -> Value:
    parts = [_text(compiler, a) for a in _args(compiler, node)]
    # concat() is null when any argument is null; DuckDB's || propagates null the same way.
    return Value(sql="(" + " || ".join(parts) + ")", kind="keyword")


def _affix(sql_fn: str) -> Callable[[EqlCompiler, ast.Call], Value]:
    def handler(compiler: EqlCompiler, node: ast.Call) -> Value:
        subject, affix = _args(compiler, node)
        ci = node.insensitive
        if sql_fn == "starts_with" and subject.is_field and affix.is_literal:
            # Elasticsearch runs startsWith(field, "x") as a prefix query: any value matches.
            if subject.kind == "null" or affix.kind == "null":
                return Value(sql="NULL::BOOLEAN", kind="bool")
            needle = _text(compiler, affix, ci)
            return Value(
                sql=compiler._any(
                    subject, lambda v: f"{sql_fn}({_text(compiler, v, ci)}, {needle})"
                ),
                kind="bool",
            )
        return Value(
            sql=f"{sql_fn}({_text(compiler, subject, ci)}, {_text(compiler, affix, ci)})",
            kind="bool",
        )

    return handler


def _index_of(compiler: EqlCompiler, node: ast.Call) -> Value:
    args = _args(compiler, node)
    start = compiler.numeric(args[2], "indexOf").sql if len(args) > 2 else "0"
    ci = "true" if node.insensitive else "false"
    source, needle = _text(compiler, args[0]), _text(compiler, args[1])
    sql = f"eql_index_of({source}, {needle}, CAST({start} AS BIGINT), {ci})"
    return Value(sql=sql, kind="long")


def _length(compiler: EqlCompiler, node: ast.Call) -> Value:
    (arg,) = _args(compiler, node)
    return Value(sql=f"length({_text(compiler, arg)})", kind="long")


def _number(compiler: EqlCompiler, node: ast.Call) -> Value:
    args = _args(compiler, node)
    base = "NULL"
    if len(args) > 1:
        base = f"CAST({compiler.numeric(args[1], 'number').sql} AS INTEGER)"
    return Value(sql=f"eql_number({_text(compiler, args[0])}, {base})", kind="double")


def _string(compiler: EqlCompiler, node: ast.Call) -> Value:
    (arg,) = _args(compiler, node)
    return Value(sql=_text(compiler, arg), kind="keyword")


def _substring(compiler: EqlCompiler, node: ast.Call) -> Value:
    args = _args(compiler, node)
    start = f"CAST({compiler.numeric(args[1], 'substring').sql} AS BIGINT)"
    end = (
        f"CAST({compiler.numeric(args[2], 'substring').sql} AS BIGINT)" if len(args) > 2 else "NULL"
    )
    return Value(sql=f"eql_substring({_text(compiler, args[0])}, {start}, {end})", kind="keyword")


def _string_contains(compiler: EqlCompiler, node: ast.Call) -> Value:
    subject, needle = _args(compiler, node)
    ci = node.insensitive
    return Value(
        sql=f"contains({_text(compiler, subject, ci)}, {_text(compiler, needle, ci)})", kind="bool"
    )


_HANDLERS: dict[str, Callable[[EqlCompiler, ast.Call], Value]] = {
    "add": _math("+"),
    "subtract": _math("-"),
    "multiply": _math("*"),
    "divide": _math("/"),
    "modulo": _math("%"),
    "between": _between,
    "cidrmatch": _cidr_match,
    "concat": _concat,
    "endswith": _affix("ends_with"),
    "startswith": _affix("starts_with"),
    "indexof": _index_of,
    "length": _length,
    "number": _number,
    "string": _string,
    "substring": _substring,
    "stringcontains": _string_contains,
}
