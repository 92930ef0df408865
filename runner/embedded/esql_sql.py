"""ES|QL ``WHERE`` conditions compiled to DuckDB SQL, where that is exact.

The embedded store selects a query's documents in SQL and runs the commands in
:class:`runner.esql.engine.Engine`.  The ``WHERE`` commands that come first (before any command
that changes columns or rows) are also compiled here, conjunct by conjunct, and added to that
selection, so documents they reject are never read or parsed.  A conjunct is compiled only
when SQL's three-valued result is ES|QL's for every document:

- its fields are single-valued columns of the catalog (not LIST columns: ES|QL makes a
  comparison over a multi-value null, SQL would not), of the kind of the literal they meet
  (keyword and a string, long/double and a number, bool and a boolean); dates are left out
  (ES|QL reads a string beside a date as a date);
- a column no selected document has a value for is not part of the answer either way; the
  documents a compiled conjunct rejects no longer add their fields to ``FROM``'s columns, as
  a cluster's ``drop_null_columns`` answer (what rules request) has no all-null column;
- the forms are comparisons, ``IN``, ``IS [NOT] NULL``, ``LIKE`` / ``RLIKE`` (case-sensitive,
  over the whole value), ``AND``, ``OR``, ``NOT``.

A ``WHERE`` keeps a row only when its condition is true, so dropping the rows a compiled
conjunct makes false or null is exactly what the command does.  The interpreter still runs every
command, so a conjunct left out costs time, never a different answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runner.embedded.catalog import Catalog
from runner.embedded.fields import FieldInfo, quote_ident, sql_string
from runner.embedded.patterns import PatternError, lucene_to_re2
from runner.esql import ast

__all__ = ["compile_condition", "conjuncts", "leading_filter"]

_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KINDS: dict[type, str] = {str: "keyword", int: "number", float: "number", bool: "bool"}


class _NotExact(Exception):
    """This expression has no SQL form with ES|QL's exact result."""


def leading_filter(query: ast.Query, catalog: Catalog) -> str:
    """SQL for the conjuncts of the ``WHERE`` commands right after ``FROM`` ("true": none)."""
    compiled: list[str] = []
    for command in query.commands:
        if not isinstance(command, ast.Where):
            break
        for conjunct in conjuncts(command.condition):
            sql = compile_condition(conjunct, catalog)
            if sql is not None:
                compiled.append(sql)
    return " AND ".join(f"({c})" for c in compiled) if compiled else "true"


def compile_condition(expr: ast.Expr, catalog: Catalog) -> str | None:
    """The SQL of a boolean ES|QL expression, or None when it has no exact SQL form."""
    try:
        return _Compiler(catalog).condition(expr)
    except _NotExact:
        return None


def conjuncts(expr: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(expr, ast.And):
        yield from conjuncts(expr.left)
        yield from conjuncts(expr.right)
    else:
        yield expr


class _Compiler:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def condition(self, expr: ast.Expr) -> str:
        if isinstance(expr, ast.And):
            return f"({self.condition(expr.left)} AND {self.condition(expr.right)})"
        if isinstance(expr, ast.Or):
            return f"({self.condition(expr.left)} OR {self.condition(expr.right)})"
        if isinstance(expr, ast.Not):
            return f"(NOT {self.condition(expr.expr)})"
        if isinstance(expr, ast.Literal) and isinstance(expr.value, bool):
            return "true" if expr.value else "false"
        if isinstance(expr, ast.Comparison):
            return self.comparison(expr)
        if isinstance(expr, ast.In):
            return self.in_(expr)
        if isinstance(expr, ast.IsNull):
            column = self.column(expr.expr)
            return f"({column.sql} IS {'NOT ' if expr.negated else ''}NULL)"
        if isinstance(expr, ast.Like):
            return self.like(expr)
        if isinstance(expr, ast.Field):
            column = self.column(expr, "bool")
            return column.sql
        raise _NotExact

    def comparison(self, expr: ast.Comparison) -> str:
        op = _OPS.get(expr.op)
        if op is None:
            raise _NotExact
        if isinstance(expr.left, ast.Field) and isinstance(expr.right, ast.Literal):
            value, column = expr.right.value, expr.left
        elif isinstance(expr.right, ast.Field) and isinstance(expr.left, ast.Literal):
            value, column = expr.left.value, expr.right
            op = _flip(op)
        else:
            raise _NotExact
        if value is None:
            return "NULL"  # a comparison with null is null: no row
        field = self.column(column, _kind(value))
        return f"({field.sql} {op} {_sql_literal(value)})"

    def in_(self, expr: ast.In) -> str:
        options: list[Any] = []
        for option in expr.values:
            if not isinstance(option, ast.Literal) or isinstance(option.value, tuple):
                raise _NotExact
            options.append(option.value)
        kinds = {_kind(v) for v in options if v is not None}
        if len(kinds) != 1:
            raise _NotExact
        field = self.column(expr.expr, kinds.pop())
        listed = ", ".join("NULL" if v is None else _sql_literal(v) for v in options)
        return f"({field.sql} {'NOT ' if expr.negated else ''}IN ({listed}))"

    def like(self, expr: ast.Like) -> str:
        if expr.computed or not expr.patterns:
            raise _NotExact
        if all(p == (".*" if expr.regex else "*") for p in expr.patterns):
            raise _NotExact  # rewritten to IS NOT NULL by Elasticsearch; the engine has it
        field = self.column(expr.expr, "keyword")
        tests: list[str] = []
        for pattern in expr.patterns:
            if expr.regex:
                try:
                    regex = lucene_to_re2(pattern)
                except PatternError:
                    raise _NotExact from None
                tests.append(f"regexp_full_match({field.sql}, {sql_string('(?s)' + regex)})")
            else:
                tests.append(f"({field.sql} LIKE {sql_string(_like(pattern))} ESCAPE '\\')")
        joined = " OR ".join(tests)
        return f"(NOT ({joined}))" if expr.negated else f"({joined})"

    def column(self, expr: ast.Expr, kind: str | None = None) -> _Column:
        if not isinstance(expr, ast.Field):
            raise _NotExact
        info = self.catalog.get(expr.name)
        if info is None or info.is_list or info.ms_column is not None or info.name == "@timestamp":
            raise _NotExact  # unknown, multi-valued somewhere, or a date
        if kind is not None and _column_kind(info) != kind:
            raise _NotExact
        return _Column(quote_ident(info.column))


class _Column:
    __slots__ = ("sql",)

    def __init__(self, sql: str) -> None:
        self.sql = sql


def _column_kind(info: FieldInfo) -> str:
    return {"keyword": "keyword", "long": "number", "double": "number", "bool": "bool"}[info.kind]


def _kind(value: Any) -> str:
    kind = _KINDS.get(type(value))
    if kind is None:
        raise _NotExact
    return kind


def _flip(op: str) -> str:
    return {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return sql_string(str(value))


def _like(pattern: str) -> str:
    """An ES|QL LIKE pattern (``*``, ``?``, ``\\`` escapes) as SQL LIKE with escape ``\\``."""
    out: list[str] = []
    escaped = False
    for ch in pattern:
        if escaped:
            out.append("\\" + ch if ch in "%_\\" else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_":
            out.append("\\" + ch)
        else:
            out.append(ch)
    if escaped:
        out.append("\\\\")
    return "".join(out)
