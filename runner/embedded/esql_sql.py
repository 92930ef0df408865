"""ES|QL ``WHERE`` conditions and ``LIMIT`` compiled to DuckDB SQL, where that is exact.

The embedded store selects a query's documents in SQL and runs the commands in
:class:`runner.esql.engine.Engine`.  The conjuncts of the ``WHERE`` commands that a filter
may be moved in front of are also compiled here and added to that selection, so documents
they reject are never read or parsed.  A ``WHERE`` commutes with the commands before it that
keep, in order, one row per row (``EVAL``, ``KEEP``, ``DROP``, ``RENAME``, ``GROK``,
``DISSECT``), that only reorder rows (``SORT``), that repeat a row per value (``MV_EXPAND``),
and with other ``WHERE`` commands; so a conjunct is compiled when each field it reads is, at
that point, still the document's own value (no ``EVAL``/``RENAME``/``GROK``/``DISSECT``
output and no ``MV_EXPAND`` of that name, kept by every ``KEEP``, dropped by no ``DROP``).
The first other command (``STATS``, ``LIMIT``, ...) ends the search.  A conjunct is compiled
only when SQL's three-valued result is ES|QL's for every document:

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

``LIMIT n`` (and the implicit ``LIMIT 1000`` of a query without one) becomes the selection's
SQL ``LIMIT`` when every command before it keeps one row per row or is a ``WHERE`` whose every
conjunct compiled: the documents are read in the order the interpreter sees them, so the first
``n`` selected are the ``n`` rows it keeps.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

from runner.embedded.catalog import Catalog
from runner.embedded.fields import FieldInfo, quote_ident, sql_string
from runner.embedded.patterns import PatternError, lucene_to_re2
from runner.esql import ast
from runner.esql.engine import DEFAULT_LIMIT
from runner.esql.patterns import GrokError, dissect_fields, grok_fields

__all__ = ["Passed", "compile_condition", "conjuncts", "pushed_filter", "pushed_limit"]

_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KINDS: dict[type, str] = {str: "keyword", int: "number", float: "number", bool: "bool"}


class _NotExact(Exception):
    """This expression has no SQL form with ES|QL's exact result."""


def pushed_filter(query: ast.Query, catalog: Catalog) -> str:
    """SQL for the ``WHERE`` conjuncts that can move to the selection ("true": none)."""
    compiled: list[str] = []
    seen = Passed()
    for command in query.commands:
        if isinstance(command, ast.Where):
            for conjunct in conjuncts(command.condition):
                sql = compile_condition(conjunct, catalog, seen.unchanged)
                if sql is not None:
                    compiled.append(sql)
        elif not seen.passes(command, reorder=True):
            break
    return " AND ".join(f"({c})" for c in compiled) if compiled else "true"


def pushed_limit(query: ast.Query, catalog: Catalog) -> int | None:
    """The selection's row limit: ``LIMIT n`` (or the implicit 1000) when only one-row-per-row
    commands and fully compiled ``WHERE`` commands come before it; else None."""
    seen = Passed()
    for command in query.commands:
        if isinstance(command, ast.Limit):
            return command.count
        if isinstance(command, ast.Where):
            if any(
                compile_condition(c, catalog, seen.unchanged) is None
                for c in conjuncts(command.condition)
            ):
                return None
        elif not seen.passes(command, reorder=False):
            return None
    return DEFAULT_LIMIT


def compile_condition(
    expr: ast.Expr, catalog: Catalog, unchanged: Callable[[str], bool] | None = None
) -> str | None:
    """The SQL of a boolean ES|QL expression, or None when it has no exact SQL form.
    ``unchanged``: whether a field name still holds the document's value at that point."""
    try:
        return _Compiler(catalog, unchanged).condition(expr)
    except _NotExact:
        return None


class Passed:
    """The commands a filter has moved past, and which names still hold document values."""

    def __init__(self) -> None:
        self.changed: list[Callable[[str], bool]] = []

    def unchanged(self, name: str) -> bool:
        return not any(test(name) for test in self.changed)

    def passes(self, command: ast.Command, *, reorder: bool) -> bool:
        """Record a command a filter (``reorder``) or a limit (not) may move in front of."""
        if isinstance(command, ast.Eval):
            names = {a.name for a in command.fields}
            self.changed.append(names.__contains__)
        elif isinstance(command, ast.Keep):
            patterns = command.patterns
            self.changed.append(lambda n: not any(_matches(p, n) for p in patterns))
        elif isinstance(command, ast.Drop):
            dropped = command.patterns
            self.changed.append(lambda n: any(_matches(p, n) for p in dropped))
        elif isinstance(command, ast.Rename):
            renamed = {name for pair in command.pairs for name in pair}
            self.changed.append(renamed.__contains__)
        elif isinstance(command, ast.Grok | ast.Dissect):
            try:
                if isinstance(command, ast.Grok):
                    outputs = {n for n, _ in grok_fields(command.pattern)}
                else:
                    outputs = set(dissect_fields(command.pattern))
            except GrokError:
                return False
            self.changed.append(outputs.__contains__)
        elif isinstance(command, ast.MvExpand) and reorder:
            self.changed.append(command.field.__eq__)
        elif not (isinstance(command, ast.Sort) and reorder):
            return False
        return True


def _matches(pattern: str, name: str) -> bool:
    """KEEP/DROP's name patterns, as the engine matches them."""
    return fnmatch.fnmatchcase(name, pattern) if "*" in pattern else pattern == name


def conjuncts(expr: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(expr, ast.And):
        yield from conjuncts(expr.left)
        yield from conjuncts(expr.right)
    else:
        yield expr


class _Compiler:
    def __init__(self, catalog: Catalog, unchanged: Callable[[str], bool] | None) -> None:
        self.catalog = catalog
        self.unchanged = unchanged

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
        if self.unchanged is not None and not self.unchanged(expr.name):
            raise _NotExact  # a computed or removed column by now
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
