"""Indicator pages on the store: the threat query, filters and index patterns, in load order.

Each page is read in its own short connection (rowid after the last one read), so a rule can
walk a large indicator set holding one page at a time, as Kibana walks a point in time.
Date math in the threat query (``@timestamp >= "now-30d/d"``) is resolved against the
request's ``now`` (the execution's time).
"""

from __future__ import annotations

from collections.abc import Generator

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.indices import index_filter
from runner.embedded.kql_sql import KqlCompiler
from runner.embedded.plan import HIT_COLUMNS, fetch_hits
from runner.embedded.store import Store
from runner.errors import StoreError
from runner.search import Hit, IndicatorRequest

__all__ = ["indicator_pages"]


def indicator_pages(
    store: Store, request: IndicatorRequest
) -> Generator[tuple[Hit, ...], None, None]:
    last = -1
    while True:
        try:
            with store.connect() as con:
                catalog = Catalog.load(con)
                compiler = KqlCompiler(catalog, now=request.now, query_text=request.query.text)
                where = [
                    compiler.query(request.query),
                    index_filter(request.indices),
                    *(dsl_filter(catalog, f, now=request.now) for f in request.filters),
                ]
                rows = con.execute(
                    f"SELECT {HIT_COLUMNS} FROM events "
                    f"WHERE {' AND '.join(f'({w})' for w in where)} AND rowid > ? "
                    f"ORDER BY rowid LIMIT {int(request.size)}",
                    [last],
                ).fetchall()
                hits = fetch_hits(con, rows)
        except duckdb.Error as exc:
            raise StoreError(f"indicator search failed: {exc}") from exc
        if rows:
            yield tuple(hits[int(str(r[0]))] for r in rows)
        if len(rows) < request.size:
            return
        last = int(str(rows[-1][0]))
