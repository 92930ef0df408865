"""Pieces every search shares: base filters, the time window, result order and slicing.

Used by event queries, sequences and samples (:mod:`.search`, :mod:`.sequences`) and by the
new-terms primitives.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.dates import datetime_ms
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.eql_sql import EqlCompiler
from runner.embedded.indices import index_filter
from runner.embedded.values import Value
from runner.eql import ast
from runner.search import EqlRequest, Hit, TimeRange

__all__ = [
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
        return "".join(f"{k} ASC NULLS LAST, " for k in self._keys()) + "_seq ASC"

    @property
    def desc(self) -> str:
        return "".join(f"{k} DESC NULLS FIRST, " for k in self._keys()) + "_seq DESC"


def ordering(compiler: EqlCompiler, tiebreaker_field: str | None) -> Ordering:
    timestamp = compiler.field(compiler.timestamp_field)
    tiebreaker = "NULL"
    if tiebreaker_field:
        value: Value = compiler.field(tiebreaker_field).scalar()
        tiebreaker = value.sql
    return Ordering(timestamp=timestamp.sql, tiebreaker=tiebreaker)


def timestamp_order(catalog: Catalog, timestamp_field: str) -> str:
    compiler = EqlCompiler(catalog, timestamp_field=timestamp_field)
    return ordering(compiler, None).asc


def base_filters(compiler: EqlCompiler, request: EqlRequest) -> list[str]:
    """Index patterns, the time window and the request's DSL filters."""
    where = [index_filter(request.indices), time_range_filter(compiler.catalog, request.time_range)]
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


def all_of(parts: Sequence[str]) -> str:
    kept = [p for p in parts if p != "true"]
    return " AND ".join(f"({p})" for p in kept) if kept else "true"


def hit_from_row(row: tuple[object, ...]) -> Hit:
    index, doc_id, source = row
    return Hit(index=str(index), id=str(doc_id), source=json.loads(str(source)))


def fetch_hits(con: duckdb.DuckDBPyConnection, seqs: Sequence[int]) -> dict[int, Hit]:
    """The stored documents for these load-order numbers."""
    if not seqs:
        return {}
    rows = con.execute(
        "SELECT _seq, _index, _id, _source FROM events WHERE _seq IN (SELECT unnest(?))",
        [list(seqs)],
    ).fetchall()
    return {int(r[0]): hit_from_row(r[1:]) for r in rows}


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
