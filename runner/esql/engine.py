"""Runs an ES|QL query over documents in memory, with Elasticsearch's semantics.

Used by the embedded store (which selects the documents of ``FROM`` and the request's window
in SQL first) and by the test stand-in of Elasticsearch.  Semantics kept:

- null: comparisons, arithmetic and functions of null are null; ``WHERE`` keeps a row only
  when its condition is true (so ``NOT (null)`` drops it too);
- multi-values: a comparison, ``LIKE``/``RLIKE``/``IN`` or single-value function over a
  multi-valued field is null (Elasticsearch warns), ``IS NULL`` is false, ``STATS ... BY`` a
  multi-valued key counts the row in each value's group, aggregates see every value;
- ``==``, ``LIKE``, ``RLIKE`` are case-sensitive, ``=~`` is not; LIKE's ``*``/``?`` and
  RLIKE's Lucene regex match the whole value;
- a date compared with a string reads the string as a date; date ± time span;
- ``SORT`` puts nulls last ascending and first descending, and sorts a multi-value by its
  minimum (ascending) or maximum (descending); no ``LIMIT`` means 1000 rows.
"""

from __future__ import annotations

import fnmatch
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.errors import QueryError
from runner.esql import ast
from runner.esql.functions import (
    FUNCTIONS,
    date_trunc,
    pack,
    single,
    to_datetime,
    values,
)
from runner.esql.patterns import GrokError, dissect, dissect_fields, grok, grok_fields

DEFAULT_LIMIT = 1000
MAX_ROWS = 2_000_000  # rows one command may build in memory
Row = dict[str, Any]
KqlTest = Callable[[Row, str], bool]


@dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    index: str
    id: str
    fields: Mapping[str, Any]  # flattened: dotted name -> value (list for a multi-value)


@dataclass(kw_only=True)
class Table:
    columns: list[str]
    rows: list[Row]
    types: dict[str, str] = field(default_factory=dict)

    def column_type(self, name: str) -> str:
        known = self.types.get(name)
        if known:
            return known
        for row in self.rows:
            found = values(row.get(name))
            if found:
                return _type_of(found[0])
        return "null"


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long" if abs(value) > 2**31 - 1 else "integer"
    if isinstance(value, float):
        return "double"
    if isinstance(value, datetime):
        return "date"
    return "keyword"


class EsqlRuntimeError(QueryError):
    """A query that parses but cannot run (unknown column or function...)."""


@dataclass(kw_only=True)
class Engine:
    query: ast.Query
    now: datetime
    kql: KqlTest | None = None
    # Fields the source indices map: columns of ``FROM`` even when no document has a value.
    mapped: tuple[str, ...] = ()
    # Each expression compiled once into a function of the row (see ``compiled``).
    _compiled: dict[int, tuple[ast.Expr, Callable[[Row], Any]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def error(self, message: str) -> EsqlRuntimeError:
        return EsqlRuntimeError(message, query=self.query.text, line=1, column=1)

    def run(self, documents: Iterable[Document]) -> Table:
        return self.run_from(self._source(documents), self.query.commands)

    def run_from(self, table: Table, commands: Sequence[ast.Command]) -> Table:
        """Run ``commands`` over ``table`` (the query's others already done, e.g. in SQL)."""
        limited = False
        for i, command in enumerate(commands):
            if isinstance(command, ast.MvExpand):
                table = self._mv_expand(command.field, table, _row_cap(commands[i + 1 :]))
            else:
                table = self._command(command, table)
            limited = limited or isinstance(command, ast.Limit)
        if not limited:
            table.rows = table.rows[:DEFAULT_LIMIT]
        return table

    # ---- commands ------------------------------------------------------------------------

    def _source(self, documents: Iterable[Document]) -> Table:
        source = self.query.source
        if isinstance(source, ast.Row):
            row: Row = {}
            for assign in source.fields:
                row[assign.name] = self.eval(assign.expr, row)
            return Table(columns=[a.name for a in source.fields], rows=[row])
        names: set[str] = set(self.mapped)
        rows: list[Row] = []
        keep_id, keep_index = "_id" in source.metadata, "_index" in source.metadata
        keep_version = "_version" in source.metadata
        for doc in documents:
            row = dict(doc.fields)
            names.update(row)
            if keep_id:
                row["_id"] = doc.id
            if keep_index:
                row["_index"] = doc.index
            if keep_version:
                row["_version"] = 1
            row["\0doc"] = doc
            rows.append(row)
        names = {n for n in names if not n.startswith("\0")}  # not internal keys
        columns = sorted(names) + [m for m in source.metadata if m in ("_id", "_index", "_version")]
        return Table(columns=columns, rows=rows)

    def _command(self, command: ast.Command, table: Table) -> Table:
        if isinstance(command, ast.Where):
            condition = self.compiled(command.condition)
            table.rows = [r for r in table.rows if condition(r) is True]
            return table
        if isinstance(command, ast.Eval):
            for assign in command.fields:
                compute, name = self.compiled(assign.expr), assign.name
                for row in table.rows:
                    row[name] = compute(row)
                table.types.pop(assign.name, None)
                table.columns = [c for c in table.columns if c != assign.name] + [assign.name]
            return table
        if isinstance(command, ast.Keep):
            table.columns = _keep(command.patterns, table.columns)
            return table
        if isinstance(command, ast.Drop):
            table.columns = [
                c for c in table.columns if not any(_matches(p, c) for p in command.patterns)
            ]
            return table
        if isinstance(command, ast.Rename):
            for old, new in command.pairs:
                if old == new:
                    continue
                for row in table.rows:
                    row[new] = row.get(old)
                table.columns = [new if c == old else c for c in table.columns if c != new]
            return table
        if isinstance(command, ast.Stats):
            return self._stats(command, table)
        if isinstance(command, ast.Sort):
            for order in reversed(command.orders):
                table.rows = _sorted(table.rows, self._key(order.expr), order)
            return table
        if isinstance(command, ast.Limit):
            table.rows = table.rows[: command.count]
            return table
        if isinstance(command, ast.MvExpand):
            return self._mv_expand(command.field, table)
        if isinstance(command, ast.Grok | ast.Dissect):
            return self._parse(command, table)
        raise self.error(
            "this query cannot run on the embedded store: " + "; ".join(self.query.cluster_only())
        )

    def _key(self, expr: ast.Expr) -> Callable[[Row], Any]:
        return self.compiled(expr)

    def _mv_expand(self, name: str, table: Table, cap: int | None = None) -> Table:
        rows: list[Row] = []
        for row in table.rows:
            if cap is not None and len(rows) >= cap:
                break
            items = values(row.get(name))
            if len(items) <= 1:
                rows.append(row)
                continue
            if len(rows) + len(items) > MAX_ROWS:
                # Elasticsearch's circuit breaker stops such a query too.
                raise self.error(f"MV_EXPAND {name} makes more than {MAX_ROWS} rows")
            for item in items:
                rows.append({**row, name: item})
        table.rows = rows
        return table

    def _parse(self, command: ast.Grok | ast.Dissect, table: Table) -> Table:
        try:
            if isinstance(command, ast.Grok):
                names = [n for n, _ in grok_fields(command.pattern)]
            else:
                names = list(dissect_fields(command.pattern))
        except GrokError as exc:
            raise self.error(str(exc)) from None
        for row in table.rows:
            # Each value of a multi-valued input is parsed; the results are multi-valued.
            results: dict[str, list[Any]] = {}
            for text in values(self.eval(command.input, row)):
                found: Mapping[str, Any] | None
                if isinstance(command, ast.Grok):
                    found = grok(command.pattern, str(text))
                else:
                    found = dissect(command.pattern, str(text), command.append_separator)
                for name, value in (found or {}).items():
                    results.setdefault(name, []).extend(values(value))
            for name in names:
                row[name] = pack(results.get(name, []))
        table.columns = [c for c in table.columns if c not in names] + names
        return table

    def _stats(self, command: ast.Stats, table: Table) -> Table:
        groups: dict[tuple[Any, ...], list[Row]] = {}
        keys_of: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # A group computed by an expression (BY a = x + y) is a column the aggregates see.
        aliased = [
            not (isinstance(g.expr, ast.Field) and g.expr.name == g.name) for g in command.groups
        ]
        inline_keys: dict[int, list[tuple[Any, ...]]] = {}
        keys = [self.compiled(g.expr) for g in command.groups]
        for row in table.rows:
            computed = [key(row) for key in keys]
            member = row
            if any(aliased):
                member = dict(row)
                for g, alias, value in zip(command.groups, aliased, computed, strict=True):
                    if alias:
                        member[g.name] = value
            for combo in _product([values(v) or [None] for v in computed]):
                marker = tuple(_hashable(v) for v in combo)
                groups.setdefault(marker, []).append(member)
                keys_of[marker] = combo
                if command.inline:
                    inline_keys.setdefault(id(row), []).append(marker)
        if not command.groups and not groups:
            groups[()] = []
            keys_of[()] = ()
        group_names = [g.name for g in command.groups]
        results: dict[tuple[Any, ...], Row] = {}
        for marker, members in groups.items():
            key_row = dict(zip(group_names, keys_of[marker], strict=True))
            results[marker] = {
                a.name: self._aggregate(a, members, key_row) for a in command.aggregates
            }
        names = [a.name for a in command.aggregates]
        if command.inline:
            return self._inline(command, table, results, inline_keys, keys_of)
        rows: list[Row] = []
        if len(group_names) == 1 and (None,) in results:
            # Elasticsearch's single-key block hash gives the null key the first group id.
            results = {(None,): results[(None,)], **results}
        for marker, out in results.items():
            out.update(zip(group_names, keys_of[marker], strict=True))
            rows.append(out)
        return Table(columns=_last_wins([*names, *group_names]), rows=rows)

    def _inline(
        self,
        command: ast.Stats,
        table: Table,
        results: dict[tuple[Any, ...], Row],
        keys: dict[int, list[tuple[Any, ...]]],
        keys_of: dict[tuple[Any, ...], tuple[Any, ...]],
    ) -> Table:
        """INLINE STATS: every row kept, its group's aggregates and keys added at the end."""
        names = [a.name for a in command.aggregates]
        group_names = [g.name for g in command.groups]
        out_rows: list[Row] = []
        for row in table.rows:
            markers: list[tuple[Any, ...] | None] = [*keys.get(id(row), [])] or [None]
            for marker in markers:
                added: Row = dict.fromkeys(names)
                if marker is not None:
                    added.update(results.get(marker, {}))
                    added.update(zip(group_names, keys_of[marker], strict=True))
                out_rows.append({**row, **added} if len(markers) > 1 else row | added)
        added_names = _last_wins([*names, *group_names])
        table.columns = [c for c in table.columns if c not in added_names] + added_names
        table.rows = out_rows
        return table

    def _aggregate(self, agg: ast.Aggregate, rows: list[Row], key_row: Row | None = None) -> Any:
        if agg.where is not None:
            rows = [r for r in rows if self.eval(agg.where, r) is True]
        expr = agg.expr
        if not isinstance(expr, ast.Call) or expr.name not in _AGGREGATES:
            # An expression over aggregates and group keys, e.g. ROUND(AVG(x), 2) + k
            return self.eval(expr, key_row or {}, rows=rows)
        return self._call_aggregate(expr, rows)

    def _call_aggregate(self, call: ast.Call, rows: list[Row]) -> Any:
        if call.star or (call.name == "count" and not call.args):
            return len(rows)
        arg = self.compiled(call.args[0]) if call.args else None
        items = [v for r in rows for v in values(arg(r))] if arg is not None else []
        name = call.name
        if name == "count":
            return len(items)
        if name == "count_distinct":
            return len({_hashable(v) for v in items})
        if name == "values":
            seen: list[Any] = []
            for item in items:
                if item not in seen:
                    seen.append(item)
            return pack(sorted(seen, key=_sort_key))
        if not items:
            return None
        if name == "min":
            return min(items, key=_sort_key)
        if name == "max":
            return max(items, key=_sort_key)
        if name == "sum":
            return overflow(sum(items))
        if name == "avg":
            return sum(items) / len(items)
        if name == "median":
            return FUNCTIONS["mv_median"](items)
        if name == "top":
            count = int(self.eval(call.args[1], {}))
            descending = str(self.eval(call.args[2], {})).lower() == "desc"
            return pack(sorted(items, key=_sort_key, reverse=descending)[:count])
        raise self.error(f"Unknown aggregate [{name}]")

    # ---- expressions ---------------------------------------------------------------------

    def eval(self, expr: ast.Expr, row: Row, *, rows: list[Row] | None = None) -> Any:
        if rows is None:
            return self.compiled(expr)(row)
        return self._eval(expr, row, rows=rows)

    def _eval(self, expr: ast.Expr, row: Row, *, rows: list[Row] | None = None) -> Any:
        """An expression over aggregates (``rows`` is the group): evaluated as it is walked."""
        if isinstance(expr, ast.Literal):
            if isinstance(expr.value, tuple):
                return list(expr.value) if len(expr.value) > 1 else pack(expr.value)
            return expr.value
        if isinstance(expr, ast.Field):
            if expr.name in row:
                return row[expr.name]
            return None
        if isinstance(expr, ast.Call):
            if rows is not None and expr.name in _AGGREGATES:
                return self._call_aggregate(expr, rows)
            return self._call(expr, row, rows)
        if isinstance(expr, ast.And):
            left = self.eval(expr.left, row, rows=rows)
            if left is False:
                return False
            right = self.eval(expr.right, row, rows=rows)
            if right is False:
                return False
            return True if left is True and right is True else None
        if isinstance(expr, ast.Or):
            left = self.eval(expr.left, row, rows=rows)
            if left is True:
                return True
            right = self.eval(expr.right, row, rows=rows)
            if right is True:
                return True
            return False if left is False and right is False else None
        if isinstance(expr, ast.Not):
            value = self.eval(expr.expr, row, rows=rows)
            return None if value is None else not value
        if isinstance(expr, ast.Comparison):
            return _compare(
                expr.op, self.eval(expr.left, row, rows=rows), self.eval(expr.right, row, rows=rows)
            )
        if isinstance(expr, ast.Arithmetic):
            return _arithmetic(
                expr.op, self.eval(expr.left, row, rows=rows), self.eval(expr.right, row, rows=rows)
            )
        if isinstance(expr, ast.Negate):
            value = single(self.eval(expr.expr, row, rows=rows))
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            return overflow(-value)
        if isinstance(expr, ast.IsNull):
            is_null = self.eval(expr.expr, row, rows=rows) is None
            return not is_null if expr.negated else is_null
        if isinstance(expr, ast.In):
            value = self.eval(expr.expr, row, rows=rows)
            if value is None or isinstance(value, list):
                return None
            options = [self.eval(v, row, rows=rows) for v in expr.values]
            hit = any(_compare("==", value, o) is True for o in options)
            if not hit and any(o is None for o in options):
                return None
            return (not hit) if expr.negated else hit
        if isinstance(expr, ast.Like):
            value = self.eval(expr.expr, row, rows=rows)
            patterns = list(expr.patterns)
            for computed in expr.computed:
                pattern = single(self.eval(computed, row, rows=rows))
                if pattern is None:
                    return None
                patterns.append(str(pattern))
            if all(p == (".*" if expr.regex else "*") for p in patterns):
                # Elasticsearch rewrites a match-everything pattern to IS NOT NULL.
                return (value is None) if expr.negated else (value is not None)
            if value is None or isinstance(value, list):
                return None
            hit = any(_like(p, str(value), expr.regex) for p in patterns)
            return (not hit) if expr.negated else hit
        if isinstance(expr, ast.TimeSpan):
            return _span(expr)
        if isinstance(expr, ast.Cast):
            return self._call(
                ast.Call(name=_CASTS.get(expr.type, "to_string"), args=(expr.expr,)), row, rows
            )
        if isinstance(expr, ast.Match):
            value = values(self.eval(expr.field, row, rows=rows))
            target = str(expr.value).lower()
            return any(target in str(v).lower() for v in value) if value else None
        raise self.error(f"{type(expr).__name__} is not supported")

    def _call(self, call: ast.Call, row: Row, rows: list[Row] | None) -> Any:
        name = call.name
        if name == "now":
            return self.now
        if name == "kql":
            if self.kql is None:
                raise self.error("KQL() is not available here")
            return self.kql(row, str(_literal(call.args[0])))
        if name == "case":
            args = call.args
            for i in range(0, len(args) - 1, 2):
                if self.eval(args[i], row, rows=rows) is True:
                    return self.eval(args[i + 1], row, rows=rows)
            return self.eval(args[-1], row, rows=rows) if len(args) % 2 else None
        if name == "date_trunc":
            span = call.args[0]
            if not isinstance(span, ast.TimeSpan):
                raise self.error("DATE_TRUNC takes a time span such as 1 hour")
            return date_trunc((span.value, span.unit), self.eval(call.args[1], row, rows=rows))
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.error(f"Unknown function [{name}]")
        return function(*(self.eval(a, row, rows=rows) for a in call.args))

    # ---- expressions compiled to functions of the row -------------------------------------

    def compiled(self, expr: ast.Expr) -> Callable[[Row], Any]:
        """``expr`` as a function of one row, built once: the same values as walking the tree
        (``_eval``), without dispatching on every node of every row."""
        found = self._compiled.get(id(expr))
        if found is not None and found[0] is expr:
            return found[1]
        function = self._build(expr)
        self._compiled[id(expr)] = (expr, function)
        return function

    def _build(self, expr: ast.Expr) -> Callable[[Row], Any]:
        if isinstance(expr, ast.Literal):
            constant = expr.value
            if isinstance(constant, tuple):
                if len(constant) > 1:
                    items = constant
                    return lambda row: list(items)  # a fresh list: callers may keep it
                packed = pack(constant)
                return lambda row: packed
            return lambda row: constant
        if isinstance(expr, ast.Field):
            return operator.methodcaller("get", expr.name)
        if isinstance(expr, ast.Call):
            return self._build_call(expr)
        if isinstance(expr, ast.And | ast.Or | ast.Not):
            return self._build_logic(expr)
        if isinstance(expr, ast.Comparison):
            op, left, right = expr.op, self.compiled(expr.left), self.compiled(expr.right)
            return lambda row: _compare(op, left(row), right(row))
        if isinstance(expr, ast.Arithmetic):
            math_op, left, right = expr.op, self.compiled(expr.left), self.compiled(expr.right)
            return lambda row: _arithmetic(math_op, left(row), right(row))
        if isinstance(expr, ast.Negate):
            inner = self.compiled(expr.expr)

            def negate(row: Row) -> Any:
                value = single(inner(row))
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return None
                return overflow(-value)

            return negate
        if isinstance(expr, ast.IsNull):
            inner, negated = self.compiled(expr.expr), expr.negated
            if negated:
                return lambda row: inner(row) is not None
            return lambda row: inner(row) is None
        if isinstance(expr, ast.In):
            return self._build_in(expr)
        if isinstance(expr, ast.Like):
            return self._build_like(expr)
        if isinstance(expr, ast.TimeSpan):
            span = expr
            return lambda row: _span(span)  # a fresh Span each time, as walking makes it
        if isinstance(expr, ast.Cast):
            call = ast.Call(name=_CASTS.get(expr.type, "to_string"), args=(expr.expr,))
            built = self._build_call(call)
            self._compiled[id(call)] = (call, built)  # keeps ``call`` alive with its id
            return built
        if isinstance(expr, ast.Match):
            field_of, target = self.compiled(expr.field), str(expr.value).lower()

            def match(row: Row) -> Any:
                found = values(field_of(row))
                return any(target in str(v).lower() for v in found) if found else None

            return match
        message = f"{type(expr).__name__} is not supported"

        def unsupported(row: Row) -> Any:
            raise self.error(message)

        return unsupported

    def _build_logic(self, expr: ast.And | ast.Or | ast.Not) -> Callable[[Row], Any]:
        if isinstance(expr, ast.And):
            left, right = self.compiled(expr.left), self.compiled(expr.right)

            def both(row: Row) -> Any:
                first = left(row)
                if first is False:
                    return False
                second = right(row)
                if second is False:
                    return False
                return True if first is True and second is True else None

            return both
        if isinstance(expr, ast.Or):
            left, right = self.compiled(expr.left), self.compiled(expr.right)

            def either(row: Row) -> Any:
                first = left(row)
                if first is True:
                    return True
                second = right(row)
                if second is True:
                    return True
                return False if first is False and second is False else None

            return either
        inner = self.compiled(expr.expr)

        def negation(row: Row) -> Any:
            value = inner(row)
            return None if value is None else not value

        return negation

    def _build_call(self, call: ast.Call) -> Callable[[Row], Any]:
        name = call.name
        if name == "now":
            return lambda row: self.now
        if name == "kql":
            text = str(_literal(call.args[0]))

            def kql(row: Row) -> Any:
                if self.kql is None:
                    raise self.error("KQL() is not available here")
                return self.kql(row, text)

            return kql
        args = [self.compiled(a) for a in call.args]
        if name == "case":

            def case(row: Row) -> Any:
                for i in range(0, len(args) - 1, 2):
                    if args[i](row) is True:
                        return args[i + 1](row)
                return args[-1](row) if len(args) % 2 else None

            return case
        if name == "date_trunc":
            span = call.args[0]
            if not isinstance(span, ast.TimeSpan):

                def not_a_span(row: Row) -> Any:
                    raise self.error("DATE_TRUNC takes a time span such as 1 hour")

                return not_a_span
            unit = (span.value, span.unit)
            return lambda row: date_trunc(unit, args[1](row))
        function = FUNCTIONS.get(name)
        if function is None:

            def unknown(row: Row) -> Any:
                raise self.error(f"Unknown function [{name}]")

            return unknown
        if len(args) == 1:
            (only,) = args
            return lambda row: function(only(row))
        return lambda row: function(*[a(row) for a in args])

    def _build_in(self, expr: ast.In) -> Callable[[Row], Any]:
        inner, negated = self.compiled(expr.expr), expr.negated
        options = [self.compiled(v) for v in expr.values]

        def within(row: Row) -> Any:
            value = inner(row)
            if value is None or isinstance(value, list):
                return None
            found = [o(row) for o in options]
            hit = any(_compare("==", value, o) is True for o in found)
            if not hit and any(o is None for o in found):
                return None
            return (not hit) if negated else hit

        return within

    def _build_like(self, expr: ast.Like) -> Callable[[Row], Any]:
        inner, negated, regex = self.compiled(expr.expr), expr.negated, expr.regex
        fixed = list(expr.patterns)
        computed = [self.compiled(c) for c in expr.computed]
        everything = ".*" if regex else "*"

        def like(row: Row) -> Any:
            value = inner(row)
            patterns = list(fixed)
            for pattern_of in computed:
                pattern = single(pattern_of(row))
                if pattern is None:
                    return None
                patterns.append(str(pattern))
            if all(p == everything for p in patterns):
                # Elasticsearch rewrites a match-everything pattern to IS NOT NULL.
                return (value is None) if negated else (value is not None)
            if value is None or isinstance(value, list):
                return None
            hit = any(_like(p, str(value), regex) for p in patterns)
            return (not hit) if negated else hit

        return like


_AGGREGATES = frozenset(
    {"count", "count_distinct", "values", "min", "max", "sum", "avg", "top", "median"}
)
_CASTS = {
    "keyword": "to_string", "text": "to_string", "string": "to_string", "long": "to_long",
    "integer": "to_integer", "int": "to_integer", "double": "to_double", "boolean": "to_boolean",
    "bool": "to_boolean", "datetime": "to_datetime", "date": "to_datetime", "ip": "to_ip",
}  # fmt: skip


# Commands that keep every row and its order: a LIMIT after them caps the rows before them.
_ROW_WISE = (ast.Eval, ast.Keep, ast.Drop, ast.Rename, ast.MvExpand, ast.Grok, ast.Dissect)


def _row_cap(rest: Sequence[ast.Command]) -> int | None:
    """How many rows the commands after MV_EXPAND can return at most (None: unbounded)."""
    for command in rest:
        if isinstance(command, ast.Limit):
            return command.count
        if not isinstance(command, _ROW_WISE):
            return None
    return DEFAULT_LIMIT


def _literal(expr: ast.Expr) -> Any:
    return expr.value if isinstance(expr, ast.Literal) else None


@dataclass(frozen=True, slots=True)
class Span:
    """A time span: calendar months (year, quarter, month) or a fixed duration."""

    months: int = 0
    delta: timedelta = timedelta()

    def add_to(self, date: datetime, sign: int) -> datetime:
        if self.months:
            total = date.year * 12 + date.month - 1 + sign * self.months
            year, month = divmod(total, 12)
            day = min(date.day, _month_days(year, month + 1))
            date = date.replace(year=year, month=month + 1, day=day)
        return date + sign * self.delta


def _month_days(year: int, month: int) -> int:
    import calendar

    return calendar.monthrange(year, month)[1]


_MONTHS = {"year": 12, "quarter": 3, "month": 1}
_SECONDS = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1,
            "millisecond": 0.001}  # fmt: skip


def _span(span: ast.TimeSpan) -> Span:
    if span.unit in _MONTHS:
        return Span(months=_MONTHS[span.unit] * span.value)
    return Span(delta=timedelta(seconds=_SECONDS[span.unit] * span.value))


def _keep(patterns: Sequence[str], columns: Sequence[str]) -> list[str]:
    """KEEP's columns: a column goes where its strongest pattern is (an exact name over a
    partial wildcard over ``*``; the rightmost among equals), as Elasticsearch orders them."""

    def strength(pattern: str) -> int:
        return 2 if "*" not in pattern else (0 if pattern == "*" else 1)

    winner: dict[str, tuple[int, int]] = {}
    for position, pattern in enumerate(patterns):
        # Without mappings, a field no document has is an empty column (a cluster knows it
        # from the mapping, or rejects the query).
        matched = [c for c in columns if _matches(pattern, c)]
        if not matched and "*" not in pattern:
            matched = [pattern]
        for name in matched:
            rank = (strength(pattern), position)
            winner[name] = max(winner.get(name, rank), rank)
    chosen: list[str] = []
    for position, pattern in enumerate(patterns):
        chosen += [c for c in columns if c in winner and winner[c][1] == position]
        if pattern not in columns and winner.get(pattern, (0, -1))[1] == position:
            chosen.append(pattern)
    return chosen


def _matches(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if "*" in pattern else pattern == name


def _product(lists: Sequence[list[Any]]) -> list[tuple[Any, ...]]:
    combos: list[tuple[Any, ...]] = [()]
    for items in lists:
        combos = [(*c, i) for c in combos for i in items]
    return combos


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    return (3, str(value))


def _sorted(rows: list[Row], key: Callable[[Row], Any], order: ast.Order) -> list[Row]:
    nulls_first = order.nulls_first if order.nulls_first is not None else order.descending
    present: list[tuple[tuple[int, Any], Row]] = []
    missing: list[Row] = []
    for row in rows:
        items = values(key(row))
        if not items:
            missing.append(row)
            continue
        chosen = max(items, key=_sort_key) if order.descending else min(items, key=_sort_key)
        present.append((_sort_key(chosen), row))
    present.sort(key=lambda p: p[0], reverse=order.descending)
    ordered = [r for _, r in present]
    return missing + ordered if nulls_first else ordered + missing


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, datetime) and isinstance(right, str):
        return left, to_datetime(right)
    if isinstance(right, datetime) and isinstance(left, str):
        return to_datetime(left), right
    return left, right


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None or isinstance(left, list) or isinstance(right, list):
        return None
    left, right = _coerce(left, right)
    if left is None or right is None:
        return None
    if op == "=~":
        return str(left).lower() == str(right).lower()
    numeric = isinstance(left, int | float) and isinstance(right, int | float)
    if not numeric and type(left) is not type(right):
        if isinstance(left, bool) or isinstance(right, bool):
            return None
        left, right = str(left), str(right)
    try:
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return None


_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def overflow(value: Any) -> Any:
    """Integer arithmetic beyond a long is null (Elasticsearch warns)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _LONG_MIN <= value <= _LONG_MAX else None
    return value


def _last_wins(names: Sequence[str]) -> list[str]:
    """Output columns when a name repeats: only its last occurrence stays."""
    seen: set[str] = set()
    kept: list[str] = []
    for name in reversed(names):
        if name not in seen:
            seen.add(name)
            kept.append(name)
    return kept[::-1]


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None or isinstance(left, list) or isinstance(right, list):
        return None
    if isinstance(right, Span) and isinstance(left, str):
        left = to_datetime(left)  # a string beside a time span is a date
    if isinstance(left, Span) and isinstance(right, str):
        right = to_datetime(right)
    if left is None or right is None:
        return None
    if isinstance(left, Span) and isinstance(right, Span) and op in "+-":
        sign = 1 if op == "+" else -1
        return Span(months=left.months + sign * right.months, delta=left.delta + sign * right.delta)
    if isinstance(left, datetime) and isinstance(right, Span) and op in "+-":
        return right.add_to(left, 1 if op == "+" else -1)
    if isinstance(right, datetime) and isinstance(left, Span) and op == "+":
        return left.add_to(right, 1)
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        return None
    if op == "+":
        return overflow(left + right)
    if op == "-":
        return overflow(left - right)
    if op == "*":
        return overflow(left * right)
    both_int = isinstance(left, int) and isinstance(right, int)
    if right == 0:
        return None  # Elasticsearch: null and a warning
    if op == "/":
        return int(left / right) if both_int else left / right
    result = math.fmod(left, right)
    return int(result) if both_int else result


def _like(pattern: str, value: str, regex: bool) -> bool:
    return _compiled(pattern, regex).fullmatch(value) is not None


_PATTERNS: dict[tuple[str, bool], re.Pattern[str]] = {}


def _compiled(pattern: str, regex: bool) -> re.Pattern[str]:
    key = (pattern, regex)
    found = _PATTERNS.get(key)
    if found is None:
        if regex:
            from runner.embedded.patterns import lucene_to_re2

            # RE2's \x{10FFFF} (the empty language) is \U0010FFFF in Python's re.
            python = re.sub(
                r"\\x\{([0-9A-Fa-f]+)\}",
                lambda m: f"\\U{int(m.group(1), 16):08x}",
                lucene_to_re2(pattern),
            )
            found = re.compile(python, re.DOTALL)
        else:
            out: list[str] = []
            escaped = False
            for ch in pattern:
                if escaped:
                    out.append(re.escape(ch))
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == "*":
                    out.append(".*")
                elif ch == "?":
                    out.append(".")
                else:
                    out.append(re.escape(ch))
            found = re.compile("".join(out), re.DOTALL)
        _PATTERNS[key] = found
    return found


def utc_now() -> datetime:
    return datetime.now(UTC)
