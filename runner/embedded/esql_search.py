"""ES|QL on the embedded store: ``FROM`` and the request's window in SQL, the rest in memory.

The documents ``FROM`` names (index patterns), inside the window (``timestamp_override`` with
the ``@timestamp`` fallback), matching the request's DSL filters and the ``WHERE`` conjuncts
that compile exactly and may move in front of the commands before them
(:mod:`runner.embedded.esql_sql`), up to the query's ``LIMIT`` when only one-row-per-row
commands come before it, are selected in SQL, with each ``KQL()`` call of the query compiled
to SQL beside them (Elasticsearch evaluates ``KQL()`` against the indexed documents, before
any command changes the rows).  The commands then run over those documents in
:class:`runner.esql.engine.Engine`; a query that starts ``WHERE ... | STATS`` of simple forms
is aggregated in SQL instead (:mod:`runner.embedded.esql_stats_sql`) and only the commands
after ``STATS`` run there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.esql_sql import pushed_filter, pushed_limit
from runner.embedded.esql_stats_sql import compile_stats
from runner.embedded.indices import index_filter
from runner.embedded.kql_sql import KqlCompiler
from runner.embedded.plan import all_of, hit_from_row, time_range_filter
from runner.embedded.store import Store
from runner.errors import QueryError, StoreError
from runner.esql import ast
from runner.esql.engine import Document, Engine, Row, Table
from runner.esql.functions import to_datetime, to_string
from runner.esql.needed import needed_fields
from runner.kql import parse_kql
from runner.search import EsqlColumn, EsqlRequest, EsqlResult, Hit
from runner.timeutil import utcnow

__all__ = [
    "documents_by_id", "flatten", "leading_paths", "run_esql", "search_esql", "table_result"
]  # fmt: skip


def search_esql(store: Store, request: EsqlRequest, now: datetime | None = None) -> EsqlResult:
    reasons = request.query.cluster_only()
    if reasons:
        raise QueryError(
            "this ES|QL query cannot run on the embedded store: " + "; ".join(reasons),
            query=request.query.text, line=1, column=1,
        )  # fmt: skip
    try:
        with store.connect() as con:
            return table_result(run_esql(con, request, now or utcnow()))
    except duckdb.Error as exc:
        raise StoreError(f"ES|QL search failed: {exc}") from exc


def run_esql(
    con: duckdb.DuckDBPyConnection, request: EsqlRequest, now: datetime, *, pushdown: bool = True
) -> Table:
    """The query's result table.  ``pushdown=False`` runs every command in the interpreter:
    no ``WHERE`` or ``LIMIT`` in the selection, no ``STATS`` in SQL (the rows are the same)."""
    query = request.query
    if request.size is not None:
        query = ast.Query(
            source=query.source,
            commands=(*query.commands, ast.Limit(count=request.size)),
            text=query.text,
        )
    catalog = Catalog.load(con)
    documents: list[Document] = []
    kql_texts = sorted(_kql_texts(query))
    if isinstance(query.source, ast.From):
        compiler = KqlCompiler(catalog, query_text=query.text)
        kql_columns = "".join(
            f", ({compiler.query(parse_kql(text))}) IS TRUE" for text in kql_texts
        )
        where = all_of(
            [
                index_filter(query.source.sources),
                time_range_filter(catalog, request.time_range),
                *(dsl_filter(catalog, f) for f in request.filters),
                pushed_filter(query, catalog) if pushdown else "true",
            ]
        )
        plan = compile_stats(query, catalog) if pushdown and not kql_texts else None
        if plan is not None:
            # The leading WHERE and STATS run as one GROUP BY; the rest in the interpreter.
            table = plan.table(con.execute(plan.sql(where)).fetchall())
            return Engine(query=query, now=now).run_from(table, plan.rest)
        dates = {name for name, info in catalog.fields.items() if info.ms_column}
        dates.add("@timestamp")
        limit = pushed_limit(query, catalog) if pushdown else None
        wanted = needed_fields(query)
        paths = None if wanted is None else leading_paths(wanted)
        rows = con.execute(
            f"SELECT _index, _id, _source{kql_columns} FROM events WHERE {where} ORDER BY rowid"
            + ("" if limit is None else f" LIMIT {int(limit)}")
        ).fetchall()
        for row in rows:
            fields = flatten(json.loads(str(row[2])), dates, paths)
            matches = {text: bool(row[3 + i]) for i, text in enumerate(kql_texts)}
            documents.append(
                Document(index=str(row[0]), id=str(row[1]), fields={**fields, "\0kql": matches})
            )

    def kql(row: Row, text: str) -> bool:
        return bool(row.get("\0kql", {}).get(text, False))

    return Engine(query=query, now=now, kql=kql).run(documents)


def table_result(table: Table) -> EsqlResult:
    """The ``_query`` answer shape: dates as ISO strings, multi-values as lists."""
    columns = tuple(EsqlColumn(name=c, type=table.column_type(c)) for c in table.columns)
    values = tuple(tuple(_json_value(row.get(c)) for c in table.columns) for row in table.rows)
    return EsqlResult(columns=columns, values=values)


def _json_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, datetime):
        return to_string(value)
    return value


def documents_by_id(store: Store, indices: Sequence[str], ids: Sequence[str]) -> dict[str, Hit]:
    if not ids:
        return {}
    try:
        with store.connect() as con:
            marks = ", ".join("?" for _ in ids)
            rows = con.execute(
                f"SELECT _index, _id, _source FROM events WHERE _id IN ({marks}) "
                f"AND {index_filter(indices)}",
                list(ids),
            ).fetchall()
    except duckdb.Error as exc:
        raise StoreError(f"fetching source documents failed: {exc}") from exc
    return {hit.id: hit for hit in map(hit_from_row, rows)}


def flatten(
    source: Mapping[str, Any],
    dates: set[str] | frozenset[str] = frozenset(),
    paths: frozenset[str] | None = None,
) -> Row:
    """A document's fields as ES|QL sees them: dotted names, arrays as multi-values.  With
    ``paths`` (:func:`leading_paths` of the query's needed fields), only the objects on the
    way to those fields are read."""
    found: dict[str, Any] = {}
    multi: set[str] = set()  # names whose value in ``found`` is a list of several leaves
    _collect("", source, found, multi, paths)
    fields: Row = {}
    for name, value in found.items():
        items = value if name in multi else [value]
        if name in dates:
            items = [to_datetime(v) for v in items]
        if len(items) == 1:
            if items[0] is not None:
                fields[name] = items[0]
            continue
        kept = [v for v in items if v is not None]
        if kept:
            fields[name] = kept[0] if len(kept) == 1 else kept
    return fields


_LEAF = frozenset({str, int, float, bool, type(None)})


def _collect(
    prefix: str,
    value: Any,
    found: dict[str, Any],
    multi: set[str],
    paths: frozenset[str] | None,
) -> None:
    # JSON gives dicts, lists and scalars; exact type checks keep this hot loop cheap.
    kind = type(value)
    if kind not in _LEAF:
        if kind is dict or (kind is not list and isinstance(value, Mapping)):
            for key, child in value.items():
                path = f"{prefix}.{key}" if prefix else str(key)
                if paths is None or path in paths:
                    _collect(path, child, found, multi, paths)
            return
        if kind is list:
            for item in value:
                _collect(prefix, item, found, multi, paths)
            return
    if prefix not in found:
        found[prefix] = value
    elif prefix in multi:
        found[prefix].append(value)
    else:
        found[prefix] = [found[prefix], value]
        multi.add(prefix)


def leading_paths(names: frozenset[str]) -> frozenset[str]:
    """Every dotted path that leads to one of ``names`` (``a``, ``a.b`` and ``a.b.c`` for
    ``a.b.c``): a source key whose path is not among them holds none of the fields."""
    return frozenset(n.rsplit(".", i)[0] for n in names for i in range(n.count(".") + 1))


def _kql_texts(query: ast.Query) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ast.Call) and node.name == "kql" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Literal) and isinstance(arg.value, str):
                found.add(arg.value)
        if hasattr(node, "__slots__"):
            for slot in node.__slots__:
                child = getattr(node, slot, None)
                if isinstance(child, tuple):
                    for item in child:
                        walk(item)
                else:
                    walk(child)

    for command in query.commands:
        walk(command)
    return found
