"""Pieces every search shares: base filters, the time window, result order and slicing.

Used by event queries, sequences and samples (:mod:`.search`, :mod:`.sequences`) and by the
new-terms primitives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from runner.cleanup import after
from runner.embedded.catalog import Catalog
from runner.embedded.dates import datetime_ms
from runner.embedded.eql_sql import EqlCompiler
from runner.embedded.fields import quote_ident
from runner.embedded.indices import index_filter
from runner.embedded.store import database_of
from runner.embedded.values import Value
from runner.eql import ast
from runner.search import EqlRequest, Hit, TimeRange

__all__ = [
    "HIT_COLUMNS",
    "Ordering",
    "all_of",
    "base_filters",
    "fetch_hits",
    "hit_from_row",
    "last_only",
    "ordering",
    "result_window",
    "time_range_filter",
    "timestamp_order",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Ordering:
    """SQL for the sort keys of events: timestamp (ms), tiebreaker, load order."""

    timestamp: str
    tiebreaker: str

    def _keys(self) -> list[str]:
        # DuckDB refuses a constant sort key (an unknown field compiles to NULL).
        return [k for k in (self.timestamp, self.tiebreaker) if k != "NULL"]

    @property
    def asc(self) -> str:
        return "".join(f"{k} ASC NULLS LAST, " for k in self._keys()) + "rowid ASC"

    @property
    def desc(self) -> str:
        return "".join(f"{k} DESC NULLS FIRST, " for k in self._keys()) + "rowid DESC"


def ordering(compiler: EqlCompiler, tiebreaker_field: str | None) -> Ordering:
    timestamp = compiler.field(compiler.timestamp_field)
    tiebreaker = "NULL"
    if tiebreaker_field:
        value: Value = compiler.field(tiebreaker_field).scalar()
        tiebreaker = value.sql
    return Ordering(timestamp=timestamp.sql, tiebreaker=tiebreaker)


def timestamp_order(catalog: Catalog, timestamp_field: str, *, descending: bool = False) -> str:
    """Oldest first; ``descending``: newest first, as Elasticsearch sorts ``desc`` (documents
    lacking the field still last, ties in index order)."""
    compiler = EqlCompiler(catalog, timestamp_field=timestamp_field)
    if not descending:
        return ordering(compiler, None).asc
    timestamp = compiler.field(timestamp_field).sql
    return ("" if timestamp == "NULL" else f"{timestamp} DESC NULLS LAST, ") + "rowid ASC"


def base_filters(compiler: EqlCompiler, request: EqlRequest) -> list[str]:
    """Index patterns, the time window and the request's DSL filters."""
    where = [index_filter(request.indices), time_range_filter(compiler.catalog, request.time_range)]
    if request.filters:  # the DSL compiler only when there are filters (never in a hunt)
        from runner.embedded.dsl_sql import dsl_filter

        where += [dsl_filter(compiler.catalog, f) for f in request.filters]
    return where


def time_range_filter(catalog: Catalog, time_range: TimeRange | None) -> str:
    """``field`` in range, or (``field`` missing and ``fallback`` in range)."""
    if time_range is None or (time_range.start is None and time_range.end is None):
        return "true"
    bounds: list[str] = []
    if time_range.start is not None:
        bounds.append(f">= {datetime_ms(time_range.start)}")
    if time_range.end is not None:
        bounds.append(f"<= {datetime_ms(time_range.end)}")

    def in_range(value: Value) -> str:
        return " AND ".join(f"{value.sql} {b}" for b in bounds)

    compiler = EqlCompiler(catalog, timestamp_field=time_range.field)
    primary = compiler.field(time_range.field)
    primary_sql = "NULL" if primary.kind == "null" else EqlCompiler._any(primary, in_range)
    if time_range.fallback is None:
        return primary_sql
    fallback_compiler = EqlCompiler(catalog, timestamp_field=time_range.fallback)
    fallback = fallback_compiler.field(time_range.fallback)
    if fallback.kind == "null":
        return primary_sql
    missing = "true" if primary.kind == "null" else f"{primary.sql} IS NULL"
    return f"(({primary_sql}) OR ({missing} AND {EqlCompiler._any(fallback, in_range)}))"


# What a search selects of the events it returns, for fetch_hits.  Not ``_index`` and ``_id``:
# fetch_hits reads them with the hits' documents, for the hits only; selected by the search,
# they were read for every event its filters pushed into the scan let through (a fifth of a
# sequence scan's CPU, measured on 1M events).
HIT_COLUMNS = "rowid, _seq"
_FETCH_BATCH = 1000
_PARALLEL_FETCH = 64  # hits from which reading them in two halves at once pays


def all_of(parts: Sequence[str]) -> str:
    kept = [p for p in parts if p != "true"]
    return " AND ".join(f"({p})" for p in kept) if kept else "true"


def hit_from_row(row: tuple[object, ...]) -> Hit:
    index, doc_id, source = row
    return Hit(index=str(index), id=str(doc_id), source=json.loads(str(source)))


def fetch_hits(
    con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[object, ...]]
) -> dict[int, Hit]:
    """The stored documents of these rows, by rowid.

    ``rows`` are ``(rowid, _seq)`` (what :data:`HIT_COLUMNS` selects), or
    ``(rowid, _seq, _index, _id)``.  Documents are read through the index on ``_seq``, which
    reads only their blocks (a scan filtered on rowid reads most of the ``_source`` column), in two
    parallel halves: each hit costs a block read.  Rows a load has not numbered yet (``_seq``
    0, see runner.embedded.ingest) are read by rowid.
    """
    wanted = {int(str(r[0])): r for r in rows}
    known = all(len(r) >= 4 for r in wanted.values())
    columns = "rowid, _source" if known else "rowid, _source, _index, _id"
    seqs = sorted(int(str(r[1])) for r in wanted.values() if int(str(r[1])) > 0)
    # A literal list: DuckDB uses the index for `IN (constants)` only, and for up to
    # index_scan_max_count (2048) matches.
    parts = [seqs[i : i + _FETCH_BATCH] for i in range(0, len(seqs), _FETCH_BATCH)]
    if len(parts) == 1 and len(seqs) >= _PARALLEL_FETCH:
        parts = [seqs[: len(seqs) // 2], seqs[len(seqs) // 2 :]]
    queries = [
        f"SELECT {columns} FROM events WHERE _seq IN ({', '.join(map(str, part))})"
        for part in parts
    ]
    unnumbered = [rowid for rowid, r in wanted.items() if int(str(r[1])) <= 0]
    if unnumbered:
        queries.append(
            f"SELECT {columns} FROM events WHERE rowid IN "
            f"(SELECT unnest([{', '.join(map(str, unnumbered))}]::BIGINT[]))"
        )
    hits: dict[int, Hit] = {}
    for found in _run_parallel(con, queries):
        rowid = int(found[0])
        row = wanted.get(rowid)
        if row is None:
            continue
        index, doc_id = (row[2], row[3]) if known else (found[2], found[3])
        hits[rowid] = Hit(index=str(index), id=str(doc_id), source=json.loads(str(found[1])))
    return hits


def _run_parallel(con: duckdb.DuckDBPyConnection, queries: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows of all queries, the first run here, the others each on its own cursor."""
    if len(queries) <= 1:
        return con.execute(queries[0]).fetchall() if queries else []
    database = database_of(con)
    results: list[list[tuple[Any, ...]]] = [[] for _ in queries]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            cursor = con.cursor()
            with after(cursor.close):
                cursor.execute(f"USE {quote_ident(database)}")
                results[i] = cursor.execute(queries[i]).fetchall()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(1, len(queries))]
    for worker in workers:
        worker.start()
    try:
        results[0] = con.execute(queries[0]).fetchall()
    finally:
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return [found for result in results for found in result]


def last_only(pipes: Sequence[ast.Pipe], size: int, position: str) -> int | None:
    """When pipes and position only keep a tail: how many results from the end, else None."""
    steps = [(p.kind, p.count) for p in pipes] + [(position, size)]
    if any(kind != "tail" for kind, _ in steps):
        return None
    return max(min(count for _, count in steps), 0)


def result_window(
    pipes: Sequence[ast.Pipe], size: int, position: str, total: Callable[[], int]
) -> tuple[int, int]:
    """The ``[start, end)`` slice of all results that pipes, size and position keep."""
    start, end = 0, None
    steps: list[tuple[str, int]] = [(p.kind, p.count) for p in pipes]
    steps.append((position, size))
    for kind, wanted in steps:
        count = max(wanted, 0)
        if kind == "head":
            end = start + count if end is None else min(end, start + count)
        else:
            if end is None:
                end = total()
            start = max(start, end - count)
    if end is None:
        end = total()
    return start, max(start, end)
