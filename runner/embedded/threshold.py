"""Threshold groups on the store: the SQL twin of Kibana's ``thresholdTerms`` aggregation.

Documents matching the rule's query, filters, index patterns and window, less those the signal
history covers (Kibana's ``must_not`` of ``timestamp <= last signal AND term(field, value)...``
per alerted group), are grouped by the threshold fields as a ``composite`` of ``terms``
sources groups them:

- each value of a multi-valued field is a group of its own (several fields: every
  combination), a document lacking a field is in no group, and a document counts once per group;
- groups come in composite order (each field ascending: keywords bytewise, numbers
  numerically), paged by an after-key over *all* groups, then filtered by the count and
  cardinality conditions (Elasticsearch computes ``after_key`` before its ``bucket_selector``);
- ``min``/``max`` time is the rule's timestamp, or with ``timestamp_override`` the override
  where a document has it, else ``@timestamp`` (Kibana's ``kibana.combined_timestamp``);
- cardinality counts the distinct values of its field over the group's documents.

Without fields the whole set is one group (Kibana's single-bucket request).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.eql_sql import EqlCompiler
from runner.embedded.indices import index_filter
from runner.embedded.kql_sql import KqlCompiler
from runner.embedded.plan import time_range_filter
from runner.embedded.store import Store
from runner.embedded.values import Value
from runner.errors import StoreError
from runner.search import (
    SignalHistoryEntry,
    ThresholdBucket,
    ThresholdPage,
    ThresholdRequest,
    TimeRange,
)

__all__ = ["threshold_page"]


def threshold_page(store: Store, request: ThresholdRequest) -> ThresholdPage:
    try:
        with store.connect() as con:
            return _page(con, Catalog.load(con), request)
    except duckdb.Error as exc:
        raise StoreError(f"threshold search failed: {exc}") from exc


def _page(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, request: ThresholdRequest
) -> ThresholdPage:
    compiler = EqlCompiler(catalog, timestamp_field=request.time_range.field)
    values: list[Value] = []
    for name in request.fields:
        value = compiler.field(name)
        if value.kind == "null":
            return ThresholdPage(buckets=(), after=None)  # an unknown field is in no document
        values.append(value)
    card = compiler.field(request.cardinality_field) if request.cardinality_field else None
    where = [
        KqlCompiler(catalog, query_text=request.query.text).query(request.query),
        index_filter(request.indices),
        time_range_filter(catalog, request.time_range),
        *(dsl_filter(catalog, f) for f in request.filters),
        *(_not_covered(catalog, request.time_range, entry) for entry in request.history),
    ]
    lists = [f"{_as_list(v)} AS l{i}" for i, v in enumerate(values)]
    if card is not None:
        lists.append(f"{'[]' if card.kind == 'null' else _as_list(card)} AS lc")
    base = (
        f"SELECT rowid AS seq, {_timestamp_sql(catalog, request.time_range)} AS ts"
        + "".join(f", {item}" for item in lists)
        + f" FROM events WHERE {' AND '.join(f'({w})' for w in where)}"
    )
    names = [f"v{i}" for i in range(len(values))]
    unnests = "".join(f", unnest(b.l{i}) AS u{i}(v{i})" for i in range(len(values)))
    grouped = f"SELECT DISTINCT b.seq, b.ts{''.join(f', {n}' for n in names)} FROM base b{unnests}"
    card_sql = "NULL"
    join = ""
    if card is not None:
        join = " LEFT JOIN (SELECT seq, unnest(lc) AS c FROM base) AS cv ON cv.seq = g.seq"
        card_sql = "count(DISTINCT cv.c)"
    after_sql, params = _after_clause(names, request.after)
    group_by = f" GROUP BY {', '.join(f'g.{n}' for n in names)}" if names else ""
    order = f" ORDER BY {', '.join(f'g.{n}' for n in names)}" if names else ""
    select = "".join(f"g.{n}, " for n in names)
    sql = (
        f"WITH base AS ({base}), groups AS ({grouped}) "
        f"SELECT {select}count(DISTINCT g.seq), min(g.ts), max(g.ts), {card_sql} "
        f"FROM groups g{join} WHERE {after_sql}{group_by}{order}"
    )
    if names:
        sql += f" LIMIT {int(request.size) + 1}"
    rows = con.execute(sql, params).fetchall()
    width = len(names)
    more = bool(names) and len(rows) > request.size
    rows = rows[: request.size] if names else rows
    buckets = []
    for row in rows:
        count = int(row[width])
        if count == 0:
            continue  # no fields and no document: no group
        cardinality = None if card is None else int(row[width + 3] or 0)
        if count < request.value or (
            cardinality is not None and cardinality < request.cardinality_value
        ):
            continue
        buckets.append(
            ThresholdBucket(
                key=tuple(row[:width]),
                count=count,
                min_time=_time(row[width + 1]),
                max_time=_time(row[width + 2]),
                cardinality=cardinality,
            )
        )
    after = tuple(rows[-1][:width]) if more and rows else None
    return ThresholdPage(buckets=tuple(buckets), after=after)


def _not_covered(catalog: Catalog, time_range: TimeRange, entry: SignalHistoryEntry) -> str:
    """Kibana's bucket filter for one alerted group: not (time <= last signal and terms)."""
    until = TimeRange(field=time_range.field, fallback=time_range.fallback, end=entry.last_signal)
    terms = [dsl_filter(catalog, {"term": {field: text}}) for field, text in entry.term_texts()]
    covered = " AND ".join(f"({c})" for c in [time_range_filter(catalog, until), *terms])
    return f"NOT coalesce({covered}, false)"


def _as_list(value: Value) -> str:
    return value.sql if value.multi else f"[{value.sql}]"


def _timestamp_sql(catalog: Catalog, time_range: TimeRange) -> str:
    """Epoch ms: the range field where a document has it, else its fallback."""
    main = EqlCompiler(catalog, timestamp_field=time_range.field).field(time_range.field)
    main_sql = "NULL" if main.kind == "null" else main.scalar().sql
    if time_range.fallback is None:
        return main_sql
    fallback = EqlCompiler(catalog, timestamp_field=time_range.fallback).field(time_range.fallback)
    if fallback.kind == "null":
        return main_sql
    return f"coalesce({main_sql}, {fallback.scalar().sql})"


def _after_clause(names: Sequence[str], after: Sequence[Any] | None) -> tuple[str, list[Any]]:
    """Lexicographic ``(v0, v1, ...) > after`` over the grouped rows."""
    if after is None:
        return "true", []
    if len(after) != len(names):
        raise StoreError("after-key has the wrong number of values")
    ors: list[str] = []
    params: list[Any] = []
    for i in range(len(names)):
        ands = [f"g.{names[j]} = ?" for j in range(i)] + [f"g.{names[i]} > ?"]
        params += [*after[:i], after[i]]
        ors.append("(" + " AND ".join(ands) + ")")
    return "(" + " OR ".join(ors) + ")", params


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value) / 1000, tz=UTC)
