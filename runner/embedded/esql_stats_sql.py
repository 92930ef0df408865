"""``FROM ... | WHERE ... | STATS ... BY ...`` of simple forms as one DuckDB ``GROUP BY``.

When every ``WHERE`` before the first ``STATS`` compiles exactly (:mod:`.esql_sql`), the other
commands before it keep one row per row (``EVAL``, ``KEEP``, ``DROP``, ``RENAME``, ``GROK``,
``DISSECT``: their columns are gone after ``STATS`` unless it reads them, which then keeps it
in the interpreter) and the ``STATS`` is simple, the documents are aggregated in SQL and only
the commands after it run in :class:`runner.esql.engine.Engine`.  Simple means:

- groups are plain fields (``BY host.name``), aggregates are ``COUNT(*)``, ``COUNT(f)``,
  ``COUNT_DISTINCT(f)``, ``MIN(f)``, ``MAX(f)``, ``VALUES(f)`` and ``SUM(f)`` of a long field,
  without their own ``WHERE``, and no output name repeats;
- every field it reads still holds the document's value (no command before it computed,
  renamed or removed that name), and is a single-valued column whose documents all hold one
  JSON kind (all strings, all longs, all doubles or all booleans) and is not a date, so SQL's
  values are the ones the interpreter reads from the documents (a multi-valued key would count
  a row under each value, a mixed column would turn ``5`` into ``"5"``).

The rows come back in the interpreter's order: groups by first appearance in the documents,
with a single key's null group first (Elasticsearch's block hash gives null the first id).
Anything else runs in the interpreter, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runner.embedded.catalog import Catalog
from runner.embedded.esql_sql import Passed, compile_condition, conjuncts
from runner.embedded.fields import grouped_producers, quote_ident
from runner.esql import ast
from runner.esql.engine import Row, Table, overflow
from runner.esql.functions import pack

__all__ = ["StatsPlan", "compile_stats"]

_KIND_OF_SHAPE = {"str": "keyword", "long": "long", "double": "double", "bool": "bool"}


@dataclass(frozen=True, kw_only=True, slots=True)
class StatsPlan:
    """The SQL of the leading ``WHERE`` and ``STATS``, and the commands left after them."""

    where: str  # the compiled WHERE conjuncts ("true": none)
    select: tuple[str, ...]  # one SQL expression per output column
    group_by: tuple[str, ...]
    columns: tuple[str, ...]
    finish: tuple[Callable[[Any], Any], ...]  # per column: SQL value -> ES|QL value
    rest: tuple[ast.Command, ...]

    def sql(self, selection: str) -> str:
        """The aggregation over the documents ``selection`` (a SQL condition) keeps."""
        where = f"({selection}) AND ({self.where})"
        sql = f"SELECT {', '.join(self.select)} FROM events WHERE {where}"
        if not self.group_by:
            return sql
        first = "min(rowid)"
        order = f"({self.group_by[0]} IS NULL) DESC, {first}" if len(self.group_by) == 1 else first
        return f"{sql} GROUP BY {', '.join(self.group_by)} ORDER BY {order}"

    def table(self, rows: Sequence[tuple[Any, ...]]) -> Table:
        out: list[Row] = [
            {c: f(v) for c, f, v in zip(self.columns, self.finish, row, strict=True)}
            for row in rows
        ]
        return Table(columns=list(self.columns), rows=out)


def compile_stats(query: ast.Query, catalog: Catalog) -> StatsPlan | None:
    """The plan for a query whose first ``STATS``, of simple forms, has only compiled ``WHERE``
    commands and one-row-per-row commands before it, else None."""
    if not isinstance(query.source, ast.From):
        return None
    wheres: list[str] = []
    passed = Passed()
    for position, command in enumerate(query.commands):
        if isinstance(command, ast.Where):
            for conjunct in conjuncts(command.condition):
                sql = compile_condition(conjunct, catalog, passed.unchanged)
                if sql is None:
                    return None
                wheres.append(f"({sql})")
            continue
        if isinstance(command, ast.Stats) and not command.inline:
            where = " AND ".join(wheres) or "true"
            return _plan(command, catalog, where, query, position, passed)
        if not passed.passes(command, reorder=False):
            return None
    return None


def _plan(
    stats: ast.Stats,
    catalog: Catalog,
    where: str,
    query: ast.Query,
    position: int,
    passed: Passed,
) -> StatsPlan | None:
    pure = {k: v for k, v in _pure_columns(catalog).items() if passed.unchanged(k)}
    names = [a.name for a in stats.aggregates] + [g.name for g in stats.groups]
    if len(set(names)) != len(names) or not names:
        return None
    select: list[str] = []
    finish: list[Callable[[Any], Any]] = []
    for aggregate in stats.aggregates:
        compiled = _aggregate(aggregate, pure)
        if compiled is None:
            return None
        select.append(compiled[0])
        finish.append(compiled[1])
    keys: list[str] = []
    for group in stats.groups:
        if not isinstance(group.expr, ast.Field) or group.expr.name != group.name:
            return None
        column = pure.get(group.name)
        if column is None:
            return None
        keys.append(column[0])
        select.append(column[0])
        finish.append(_same)
    return StatsPlan(
        where=where,
        select=tuple(select),
        group_by=tuple(keys),
        columns=tuple(names),
        finish=tuple(finish),
        rest=query.commands[position + 1 :],
    )


def _aggregate(
    aggregate: ast.Aggregate, pure: dict[str, tuple[str, str]]
) -> tuple[str, Callable[[Any], Any]] | None:
    call = aggregate.expr
    if aggregate.where is not None or not isinstance(call, ast.Call):
        return None
    if call.name == "count" and (call.star or not call.args):
        return "count(*)", _same
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Field):
        return None
    column = pure.get(call.args[0].name)
    if column is None:
        return None
    sql, kind = column
    if call.name == "count":
        return f"count({sql})", _same
    if call.name == "count_distinct":
        return f"count(DISTINCT {sql})", _same
    if call.name in ("min", "max"):
        return f"{call.name}({sql})", _same
    if call.name == "sum" and kind == "long":
        return f"sum({sql})::HUGEINT", _overflowed
    if call.name == "values":
        return f"list_sort(list_distinct(list({sql})))", _packed
    return None


def _pure_columns(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """Field -> (SQL column, kind) for single-valued, single-kind, non-date fields."""
    pure: dict[str, tuple[str, str]] = {}
    for name, producers in grouped_producers(catalog.shape, "d").items():
        kinds = frozenset().union(*(p.kinds for p in producers))
        info = catalog.get(name)
        if len(kinds) != 1 or info is None or info.is_list or info.ms_column is not None:
            continue
        if name == "@timestamp":
            continue
        pure[name] = (quote_ident(info.column), _KIND_OF_SHAPE[next(iter(kinds))])
    return pure


def _same(value: Any) -> Any:
    return value


def _overflowed(value: Any) -> Any:
    return None if value is None else overflow(int(value))


def _packed(value: Any) -> Any:
    return pack(list(value)) if value is not None else None
