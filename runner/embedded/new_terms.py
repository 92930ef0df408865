"""Store-level primitives for ``new_terms`` rules, mirroring Kibana's three aggregation phases.

All three are filtered by the rule's KQL query (and its DSL filters), the index patterns and a
time range.  A *term* is a tuple with one value per new-terms field (1 to 3 fields):

1. :func:`term_page` - the distinct terms in a window, in composite-aggregation order (each
   field ascending: keywords bytewise, numbers numerically), paged with an after-key.  Each
   value of a multi-valued field counts on its own (several fields: every combination), and a
   document that lacks one of the fields produces no term.
2. :func:`first_seen` - for given terms, the earliest timestamp of each in a (history) range.
3. :func:`oldest_documents` - for given terms, the oldest matching document carrying each.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.eql_sql import EqlCompiler
from runner.embedded.indices import index_filter
from runner.embedded.kql_sql import KqlCompiler
from runner.embedded.plan import fetch_hits, time_range_filter
from runner.embedded.store import Store
from runner.embedded.values import Value
from runner.errors import StoreError, UsageError
from runner.kql.ast import Query as KqlQuery
from runner.search import Hit, TimeRange

__all__ = ["Term", "TermPage", "TermsScope", "first_seen", "oldest_documents", "term_page"]

Term = tuple[Any, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class TermsScope:
    """What the three phases search: the rule's query, new-terms fields, indices, filters."""

    query: KqlQuery
    fields: tuple[str, ...]
    indices: tuple[str, ...] = ()
    filters: tuple[Mapping[str, Any], ...] = ()
    timestamp_field: str = "@timestamp"
    # Kibana's combined timestamp: the override where a document has it, else timestamp_field.
    timestamp_override: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.fields) <= 3:
            raise UsageError("new_terms needs 1 to 3 fields")


@dataclass(frozen=True, kw_only=True, slots=True)
class TermPage:
    """One page of distinct terms; ``after`` is the key to ask for the next page (None: done)."""

    terms: tuple[Term, ...]
    after: Term | None


def term_page(
    store: Store,
    scope: TermsScope,
    time_range: TimeRange,
    *,
    after: Term | None = None,
    size: int = 100,
) -> TermPage:
    """Distinct terms in ``time_range``, ordered, at most ``size``, after ``after``."""
    with _session(store) as (con, catalog):
        exploded = _exploded(catalog, scope, time_range)
        if exploded is None:
            return TermPage(terms=(), after=None)
        names = [f"v{i}" for i in range(len(scope.fields))]
        params: list[Any] = []
        where = "true"
        if after is not None:
            where, params = _after_clause(names, after)
        rows = con.execute(
            f"SELECT DISTINCT {', '.join(names)} FROM ({exploded}) WHERE {where} "
            f"ORDER BY {', '.join(names)} LIMIT {int(size) + 1}",
            params,
        ).fetchall()
    terms = tuple(tuple(r) for r in rows[:size])
    more = len(rows) > size
    return TermPage(terms=terms, after=terms[-1] if more and terms else None)


def first_seen(
    store: Store, scope: TermsScope, terms: Sequence[Term], time_range: TimeRange
) -> dict[Term, datetime]:
    """The earliest timestamp of each term in ``time_range`` (terms never seen are left out)."""
    if not terms:
        return {}
    with _session(store) as (con, catalog):
        exploded = _exploded(catalog, scope, time_range)
        if exploded is None:
            return {}
        joined, params = _joined(exploded, len(scope.fields), terms)
        rows = con.execute(
            f"SELECT {_names(len(scope.fields))}, min(ts) FROM ({joined}) GROUP BY ALL", params
        ).fetchall()
    return {
        tuple(r[:-1]): datetime.fromtimestamp(int(r[-1]) / 1000, tz=UTC)
        for r in rows
        if r[-1] is not None
    }


def oldest_documents(
    store: Store, scope: TermsScope, terms: Sequence[Term], time_range: TimeRange
) -> dict[Term, Hit]:
    """For each term, the oldest matching document carrying it in ``time_range``."""
    if not terms:
        return {}
    with _session(store) as (con, catalog):
        exploded = _exploded(catalog, scope, time_range)
        if exploded is None:
            return {}
        joined, params = _joined(exploded, len(scope.fields), terms)
        names = _names(len(scope.fields))
        rows = con.execute(
            f"""
            SELECT {names}, arg_min(seq, (ts, seq)) AS seq, arg_min(key, (ts, seq)) AS key
            FROM ({joined}) GROUP BY ALL
            """,
            params,
        ).fetchall()
        width = len(scope.fields)
        hits = fetch_hits(con, [r[width:] for r in rows])
    return {tuple(r[:width]): hits[int(r[width])] for r in rows}


# ---------------------------------------------------------------------------------------------


@contextmanager
def _session(store: Store) -> Iterator[tuple[duckdb.DuckDBPyConnection, Catalog]]:
    """A connection plus the field catalog, for one primitive."""
    with store.connect() as con:
        yield con, Catalog.load(con)


def _names(count: int) -> str:
    return ", ".join(f"v{i}" for i in range(count))


def _as_list(value: Value) -> str:
    return value.sql if value.multi else f"[{value.sql}]"


def _exploded(catalog: Catalog, scope: TermsScope, time_range: TimeRange) -> str | None:
    """SQL yielding (seq, key, ts, v0...) for every term occurrence; None if a field is unknown."""
    compiler = EqlCompiler(catalog, timestamp_field=scope.timestamp_field)
    values: list[Value] = []
    for name in scope.fields:
        value = compiler.field(name)
        if value.kind == "null":
            return None
        values.append(value)
    where = [
        KqlCompiler(catalog, query_text=scope.query.text).query(scope.query),
        index_filter(scope.indices),
        time_range_filter(catalog, time_range),
        *(dsl_filter(catalog, f) for f in scope.filters),
    ]
    timestamp = _timestamp_sql(catalog, scope)
    lists = ", ".join(f"{_as_list(v)} AS l{i}" for i, v in enumerate(values))
    unnests = "".join(f", unnest(b.l{i}) AS u{i}(v{i})" for i in range(len(values)))
    base = (
        f"SELECT rowid AS seq, _seq AS key, {timestamp} AS ts, {lists} FROM events "
        f"WHERE {' AND '.join(f'({w})' for w in where)}"
    )
    return f"SELECT b.seq, b.key, b.ts, {_names(len(values))} FROM ({base}) AS b{unnests}"


def _timestamp_sql(catalog: Catalog, scope: TermsScope) -> str:
    """Epoch ms of each document: the override when present, else the timestamp field."""
    main = EqlCompiler(catalog, timestamp_field=scope.timestamp_field).field(scope.timestamp_field)
    override = scope.timestamp_override
    if not override or override == scope.timestamp_field:
        return main.sql
    value = EqlCompiler(catalog, timestamp_field=override).field(override)
    if value.kind == "null":
        return main.sql
    first = f"list_min({value.sql})" if value.multi else value.sql
    return f"coalesce({first}, {main.sql})"


def _after_clause(names: Sequence[str], after: Term) -> tuple[str, list[Any]]:
    """Lexicographic ``(v0, v1, ...) > after``."""
    if len(after) != len(names):
        raise StoreError("after-key has the wrong number of values")
    ors: list[str] = []
    params: list[Any] = []
    for i in range(len(names)):
        ands = [f"{names[j]} = ?" for j in range(i)] + [f"{names[i]} > ?"]
        params += [*after[:i], after[i]]
        ors.append("(" + " AND ".join(ands) + ")")
    return "(" + " OR ".join(ors) + ")", params


def _joined(exploded: str, width: int, terms: Sequence[Term]) -> tuple[str, list[Any]]:
    """The occurrences of the given terms only."""
    params: list[Any] = []
    rows: list[str] = []
    for term in terms:
        if len(term) != width:
            raise StoreError("a term has the wrong number of values")
        rows.append("(" + ", ".join("?" for _ in term) + ")")
        params += list(term)
    wanted = f"(VALUES {', '.join(rows)}) AS w({', '.join(f'w{i}' for i in range(width))})"
    on = " AND ".join(f"x.v{i} = w.w{i}" for i in range(width))
    select = ", ".join(f"x.v{i}" for i in range(width))
    return (
        f"SELECT x.seq, x.key, x.ts, {select} FROM ({exploded}) AS x JOIN {wanted} ON {on}",
        params,
    )
