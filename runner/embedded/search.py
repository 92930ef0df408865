"""Running searches on the store: the embedded backend's ``_eql/search`` and KQL ``_search``.

Results come back in Elasticsearch's order: ascending timestamp, then tiebreaker, then load
order (Elasticsearch's last resort is the shard document order, which load order mirrors).
``size`` and ``result_position`` pick the head or the tail of the results after the query's
own ``head``/``tail`` pipes.
"""

from __future__ import annotations

from collections.abc import Generator

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.eql_sql import EqlCompiler
from runner.embedded.indices import index_filter
from runner.embedded.plan import (
    HIT_COLUMNS,
    all_of,
    base_filters,
    fetch_hits,
    last_only,
    ordering,
    result_window,
    time_range_filter,
    timestamp_order,
)
from runner.embedded.sequences import run_sample, run_sequence
from runner.embedded.store import Store
from runner.eql import ast
from runner.errors import StoreError
from runner.search import EqlRequest, EqlResult, Hit, HitPage, KqlRequest

__all__ = ["query_pages", "search_eql", "search_kql"]


def search_eql(store: Store, request: EqlRequest) -> EqlResult:
    """Run an EQL request; raises :class:`~runner.errors.QueryError` for invalid queries."""
    try:
        with store.connect() as con:
            catalog = Catalog.load(con)
            compiler = EqlCompiler(
                catalog,
                query_text=request.query.text,
                timestamp_field=request.timestamp_field,
                event_category_field=request.event_category_field,
            )
            body = request.query.body
            if isinstance(body, ast.EventQuery):
                return EqlResult(events=_event_query(con, compiler, request, body))
            if isinstance(body, ast.SequenceQuery):
                return EqlResult(sequences=run_sequence(con, compiler, request, body))
            return EqlResult(sequences=run_sample(con, compiler, request, body))
    except duckdb.Error as exc:
        raise StoreError(f"search failed: {exc}") from exc


def search_kql(store: Store, request: KqlRequest) -> tuple[Hit, ...]:
    """Events matching a KQL query, oldest first, at most ``request.size``."""
    return _kql_page(store, request, offset=0, upto=None)


def query_pages(store: Store, request: KqlRequest) -> Generator[HitPage, None, None]:
    """Every match, oldest first, ``request.size`` at a time, over the events stored when
    paging began (``_seq`` only grows, so later loads neither appear nor shift the pages)."""
    try:
        with store.connect() as con:
            row = con.execute("SELECT coalesce(max(_seq), 0) FROM events").fetchone()
    except duckdb.Error as exc:
        raise StoreError(f"search failed: {exc}") from exc
    upto = int(row[0]) if row else 0
    offset = 0
    while True:
        hits = _kql_page(store, request, offset=offset, upto=upto)
        if hits:
            yield HitPage(hits=hits)
        if len(hits) < request.size:
            return
        offset += len(hits)


def _kql_page(
    store: Store, request: KqlRequest, *, offset: int, upto: int | None
) -> tuple[Hit, ...]:
    # Imported here: an EQL search (a hunt's process) loads no KQL or DSL compiler.
    from runner.embedded.dsl_sql import dsl_filter
    from runner.embedded.kql_sql import KqlCompiler

    try:
        with store.connect() as con:
            catalog = Catalog.load(con)
            compiler = KqlCompiler(catalog, query_text=request.query.text)
            where = [
                compiler.query(request.query),
                index_filter(request.indices),
                time_range_filter(catalog, request.time_range),
                *(dsl_filter(catalog, f) for f in request.filters),
            ]
            if upto is not None:
                where.append(f"_seq BETWEEN 1 AND {int(upto)}")
            order = timestamp_order(catalog, request.timestamp_field, descending=request.descending)
            rows = con.execute(
                f"SELECT {HIT_COLUMNS} FROM events WHERE {all_of(where)} "
                f"ORDER BY {order} LIMIT {int(request.size)} OFFSET {int(offset)}"
            ).fetchall()
            return _hits_in_order(con, rows)
    except duckdb.Error as exc:
        raise StoreError(f"search failed: {exc}") from exc


# ---------------------------------------------------------------------------------------------


def _event_query(
    con: duckdb.DuckDBPyConnection,
    compiler: EqlCompiler,
    request: EqlRequest,
    body: ast.EventQuery,
) -> tuple[Hit, ...]:
    where = all_of(
        [
            compiler.event_type(body.category),
            compiler.condition(body.condition),
            *base_filters(compiler, request),
        ]
    )
    order = ordering(compiler, request.tiebreaker_field)
    counted: list[int] = []

    def total() -> int:
        if not counted:
            row = con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchone()
            counted.append(int(row[0]) if row else 0)
        return counted[0]

    # Sort and cut on the narrow columns first; _source is read for the kept events only.
    tail = last_only(request.query.pipes, request.size, request.result_position)
    if tail is not None:
        rows = con.execute(
            f"SELECT {HIT_COLUMNS} FROM events WHERE {where} ORDER BY {order.desc} LIMIT {tail}"
        ).fetchall()
        rows.reverse()
        return _hits_in_order(con, rows)
    start, end = result_window(request.query.pipes, request.size, request.result_position, total)
    if end <= start:
        return ()
    if counted and start > counted[0] - end:
        # Nearer the end: read backwards so the sort keeps only what it returns.
        rows = con.execute(
            f"SELECT {HIT_COLUMNS} FROM events WHERE {where} ORDER BY {order.desc} "
            f"LIMIT {end - start} OFFSET {counted[0] - end}"
        ).fetchall()
        rows.reverse()
    else:
        rows = con.execute(
            f"SELECT {HIT_COLUMNS} FROM events WHERE {where} ORDER BY {order.asc} "
            f"LIMIT {end - start} OFFSET {start}"
        ).fetchall()
    return _hits_in_order(con, rows)


def _hits_in_order(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]
) -> tuple[Hit, ...]:
    hits = fetch_hits(con, rows)
    return tuple(hits[int(str(r[0]))] for r in rows)
