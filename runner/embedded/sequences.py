"""Sequences and samples: stages filtered in SQL, then a state machine over the survivors.

One SQL scan returns, in result order, every event that matches any stage, with a flag per
stage and the stage's join-key values.  The state machine (as Elasticsearch's sequence
matcher) then walks them once:

* ``by`` keys, shared and per stage, are matched by position.  A key that holds several
  values joins on each of them (every combination, for several keys); a null key never joins
  unless the key is ``?field``, where null joins null.
* Each stage holds at most one pending sequence per key: a newer candidate replaces an older.
  An event moves the pending sequence of the previous stage with its key forward (stages are
  tried from the last down, so one event never fills two stages of the same sequence).
* ``maxspan``: every event within that span of the first; ``until`` drops pending sequences of
  its key; ``runs=N`` repeats a stage N times.
* Missing-event stages ``![...]`` are left out of the matching; a completed sequence is then
  checked as Elasticsearch checks it: an event of a middle missing stage (same key) strictly
  between its neighbours' timestamps rejects it; for leading and trailing ones the latest
  event before and the earliest after are looked up, and reject it only when they fall within
  ``maxspan`` of it (of each other, when the query has both).
* Results are ordered by their last event.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from runner.embedded.eql_sql import EqlCompiler
from runner.embedded.plan import HIT_COLUMNS, base_filters, fetch_hits, ordering, result_window
from runner.embedded.values import Value
from runner.eql import ast
from runner.search import EqlRequest, Hit, MissingEvent, SequenceMatch

__all__ = ["run_sample", "run_sequence"]

Key = tuple[Any, ...]
_REF = len(HIT_COLUMNS.split(","))  # leading columns of a scanned row: fetch_hits' reference


@dataclass(slots=True)  # not frozen: thousands are made per search, and frozen init is slow
class _Event:
    seq: int  # rowid
    ref: tuple[Any, ...]  # what fetch_hits reads the document back with
    ts: int
    stages: frozenset[int]  # indexes into the query's distinct stage conditions
    keys: dict[int, tuple[Key, ...]]  # per condition index: every key combination


@dataclass(frozen=True, kw_only=True, slots=True)
class _Condition:
    where: str
    keys: tuple[Value, ...]
    optional: tuple[bool, ...]
    conjuncts: frozenset[str]  # the parts ``where`` requires, each alone
    multi: bool  # some key is multi-valued


@dataclass(slots=True)
class _Partial:
    events: list[_Event] = field(default_factory=list)
    key: Key = ()


def _key_exprs(shared: Sequence[ast.Expr], own: Sequence[ast.Expr]) -> list[ast.Expr]:
    return [*shared, *own]


def _optional(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Field) and expr.optional


def _scan(
    con: duckdb.DuckDBPyConnection,
    compiler: EqlCompiler,
    request: EqlRequest,
    conditions: Sequence[_Condition],
) -> list[_Event]:
    """Every event matching any condition, in result order, with its flags and key values."""
    order = ordering(compiler, request.tiebreaker_field)
    flags = [f"coalesce({c.where}, false) AS s{i}" for i, c in enumerate(conditions)]
    keys = [f"{k.sql} AS k{i}_{j}" for i, c in enumerate(conditions) for j, k in enumerate(c.keys)]
    # What every stage requires is required of any match: stated on its own, DuckDB pushes it
    # into the scan instead of testing the stages' disjunction on every event.
    common = frozenset.intersection(*(c.conjuncts for c in conditions)) if conditions else []
    base = " AND ".join(f"({b})" for b in [*base_filters(compiler, request), *sorted(common)])
    any_stage = " OR ".join(f"coalesce({c.where}, false)" for c in conditions)
    select = ", ".join(
        [HIT_COLUMNS, f"{order.timestamp} AS ts", f"{order.tiebreaker} AS tb", *flags, *keys]
    )
    rows = con.execute(
        f"SELECT {select} FROM events WHERE ({base}) AND ({any_stage}) ORDER BY {order.asc}"
    ).fetchall()
    events: list[_Event] = []
    width = len(conditions)
    # Where each condition's key values sit in a row.
    spans: list[tuple[int, int, _Condition]] = []
    cursor = _REF + 2 + width
    for cond in conditions:
        spans.append((cursor, cursor + len(cond.keys), cond))
        cursor += len(cond.keys)
    flag_at = [(i, _REF + 2 + i) for i in range(width)]
    for row in rows:
        ts = row[_REF]
        matched = frozenset([i for i, at in flag_at if row[at]])
        key_sets: dict[int, tuple[Key, ...]] = {}
        for i in matched:
            low, high, cond = spans[i]
            key_sets[i] = _combinations(row[low:high], cond)
        events.append(
            _Event(int(row[0]), row[:_REF], int(ts) if ts is not None else 0, matched, key_sets)
        )
    return events


def _combinations(values: Sequence[Any], cond: _Condition) -> tuple[Key, ...]:
    """Every key this event joins on: one per combination of the keys' values."""
    if not cond.multi:  # the common case, one value per key: one key
        for value, optional in zip(values, cond.optional, strict=True):
            if value is None and not optional:
                return ()
        return (tuple(values),)
    choices: list[list[Any]] = []
    for value, spec, optional in zip(values, cond.keys, cond.optional, strict=True):
        if spec.multi and value is not None:
            distinct = list(dict.fromkeys(v for v in value if v is not None))
            value_set: list[Any] = distinct or [None]
        else:
            value_set = [value]
        if value_set == [None] and not optional:
            return ()
        choices.append(value_set)
    return tuple(itertools.product(*choices))


def _conditions(
    compiler: EqlCompiler, shared: Sequence[ast.Expr], stages: Iterable[ast.Stage]
) -> list[_Condition]:
    out: list[_Condition] = []
    for stage in stages:
        exprs = _key_exprs(shared, stage.keys)
        category = compiler.event_type(stage.query.category)
        where = f"({category}) AND ({compiler.condition(stage.query.condition)})"
        conjuncts = {category, *_conjuncts(compiler, stage.query.condition)} - {"true"}
        keys = tuple(compiler.expr(e) for e in exprs)
        out.append(
            _Condition(
                where=where,
                keys=keys,
                optional=tuple(_optional(e) for e in exprs),
                conjuncts=frozenset(conjuncts),
                multi=any(k.multi for k in keys),
            )
        )
    return out


def _conjuncts(compiler: EqlCompiler, expr: ast.Expr) -> list[str]:
    """SQL for each term of a condition's top-level ``and``."""
    if isinstance(expr, ast.And):
        return [sql for term in expr.terms for sql in _conjuncts(compiler, term)]
    return [compiler.condition(expr)]


def run_sequence(
    con: duckdb.DuckDBPyConnection,
    compiler: EqlCompiler,
    request: EqlRequest,
    body: ast.SequenceQuery,
) -> tuple[SequenceMatch, ...]:
    stages: list[ast.Stage] = []
    for stage in body.stages:
        stages.extend([stage] * max(stage.runs, 1))
    distinct = list(dict.fromkeys(stages))
    if body.until is not None:
        distinct.append(body.until)
    conditions = _conditions(compiler, body.keys, distinct)
    index = {stage: i for i, stage in enumerate(distinct)}
    positive = [index[s] for s in stages if not s.missing]
    events = _scan(con, compiler, request, conditions)
    until = index[body.until] if body.until is not None else None
    found = _match(events, positive, until, body.maxspan_ms)

    missing_positions = [i for i, s in enumerate(stages) if s.missing]
    matches: list[tuple[Key, list[_Event | None]]] = []
    if missing_positions:
        lookup = _MissingLookup(events, [index[stages[i]] for i in missing_positions])
        for key, chain in found:
            full = _with_missing(
                chain, stages=stages, index=index, key=key, lookup=lookup, maxspan=body.maxspan_ms
            )
            if full is not None:
                matches.append((key, full))
    else:
        matches = [(key, list(chain)) for key, chain in found]

    start, end = result_window(
        request.query.pipes, request.size, request.result_position, lambda: len(matches)
    )
    kept = matches[start:end]
    hits = fetch_hits(con, sorted({e.ref for _, chain in kept for e in chain if e is not None}))
    return tuple(
        SequenceMatch(
            join_keys=key,
            events=tuple(MissingEvent() if e is None else hits[e.seq] for e in chain),
        )
        for key, chain in kept
    )


def _match(
    events: Sequence[_Event], stages: Sequence[int], until: int | None, maxspan: int | None
) -> list[tuple[Key, list[_Event]]]:
    """Complete sequences of the positive stages, in completion order."""
    last = len(stages) - 1
    pending: list[dict[Key, _Partial]] = [{} for _ in stages]
    done: list[tuple[Key, list[_Event]]] = []
    for event in events:
        for position in range(last, -1, -1):
            cond = stages[position]
            if cond not in event.stages:
                continue
            for key in event.keys[cond]:
                if position == 0:
                    partial = _Partial(events=[event], key=key)
                else:
                    previous = pending[position - 1].pop(key, None)
                    if previous is None:
                        continue
                    if maxspan is not None and event.ts - previous.events[0].ts > maxspan:
                        continue
                    partial = _Partial(events=[*previous.events, event], key=key)
                if position == last:
                    done.append((key, partial.events))
                else:
                    pending[position][key] = partial
        # An until event stops the sequences it follows (not one it completes itself).
        if until is not None and until in event.stages:
            for key in event.keys[until]:
                for level in pending:
                    level.pop(key, None)
    return done


class _MissingLookup:
    """Per missing-stage condition and join key: the sorted timestamps of its events."""

    def __init__(self, events: Sequence[_Event], conditions: Sequence[int]) -> None:
        self.times: dict[int, dict[Key, list[int]]] = {}
        for cond in set(conditions):
            groups: dict[Key, list[int]] = {}
            for event in events:
                if cond in event.stages:
                    for key in event.keys[cond]:
                        groups.setdefault(key, []).append(event.ts)
            self.times[cond] = {k: sorted(v) for k, v in groups.items()}

    def between(self, cond: int, key: Key, low: int, high: int) -> bool:
        """Any event strictly between the two timestamps."""
        times = self.times[cond].get(key, [])
        i = bisect.bisect_right(times, low)
        return i < len(times) and times[i] < high

    def last_before(self, cond: int, key: Key, limit: int) -> int | None:
        times = self.times[cond].get(key, [])
        i = bisect.bisect_left(times, limit)
        return times[i - 1] if i > 0 else None

    def first_after(self, cond: int, key: Key, limit: int) -> int | None:
        times = self.times[cond].get(key, [])
        i = bisect.bisect_right(times, limit)
        return times[i] if i < len(times) else None


def _with_missing(
    chain: Sequence[_Event],
    *,
    stages: Sequence[ast.Stage],
    index: dict[ast.Stage, int],
    key: Key,
    lookup: _MissingLookup,
    maxspan: int | None,
) -> list[_Event | None] | None:
    """The chain with ``None`` at its missing stages, or None when the sequence is rejected.

    As Elasticsearch: an event of a middle missing stage strictly between its neighbours'
    timestamps rejects the sequence.  Leading and trailing ones are looked up as the latest
    event before the first one and the earliest after the last one; the sequence is rejected
    only when those found (both, if the query has both kinds) lie within ``maxspan`` of the
    sequence (with no ``maxspan``, when any is found).
    """
    positives = iter(chain)
    slots: list[_Event | None] = [None if s.missing else next(positives) for s in stages]
    first, last = chain[0], chain[-1]
    last_leading: int | None = None
    first_trailing: int | None = None
    leading = True
    for position, stage in enumerate(stages):
        if not stage.missing:
            leading = False
            continue
        cond = index[stage]
        following = next((e for e in slots[position + 1 :] if e is not None), None)
        if leading:
            found = lookup.last_before(cond, key, first.ts)
            if found is not None:
                last_leading = found if last_leading is None else max(last_leading, found)
        elif following is None:
            found = lookup.first_after(cond, key, last.ts)
            if found is not None:
                first_trailing = found if first_trailing is None else min(first_trailing, found)
        else:
            previous = next(e for e in reversed(slots[:position]) if e is not None)
            if lookup.between(cond, key, previous.ts, following.ts):
                return None
    starts_missing, ends_missing = stages[0].missing, stages[-1].missing

    def apart(start: int | None, end: int | None) -> bool:
        if start is None or end is None:
            return True
        return maxspan is not None and end - start > maxspan

    accepted = (
        (last_leading is None and first_trailing is None)
        or (last_leading is None and starts_missing)
        or (first_trailing is None and ends_missing)
        or (starts_missing and ends_missing and apart(last_leading, first_trailing))
        or (starts_missing and not ends_missing and apart(last_leading, last.ts))
        or (ends_missing and not starts_missing and apart(first.ts, first_trailing))
    )
    return slots if accepted else None


# ---------------------------------------------------------------------------------------------


def run_sample(
    con: duckdb.DuckDBPyConnection,
    compiler: EqlCompiler,
    request: EqlRequest,
    body: ast.SampleQuery,
) -> tuple[SequenceMatch, ...]:
    """``sample by``: per join key, one event for each stage (any order, each used once)."""
    conditions = _conditions(compiler, body.keys, body.stages)
    events = _scan(con, compiler, request, conditions)
    by_key: dict[Key, list[list[_Event]]] = {}
    for event in events:
        for cond in event.stages:
            for key in event.keys[cond]:
                lists = by_key.setdefault(key, [[] for _ in conditions])
                lists[cond].append(event)
    samples: list[tuple[Key, list[_Event]]] = []
    for key, lists in by_key.items():
        chosen = _pick_distinct(lists)
        if chosen is not None:
            samples.append((key, chosen))
    samples.sort(key=lambda item: tuple(_sortable(v) for v in item[0]))
    start, end = result_window(
        request.query.pipes, request.size, request.result_position, lambda: len(samples)
    )
    kept = samples[start:end]
    hits: dict[int, Hit] = fetch_hits(con, sorted({e.ref for _, chain in kept for e in chain}))
    return tuple(
        SequenceMatch(join_keys=key, events=tuple(hits[e.seq] for e in chain))
        for key, chain in kept
    )


def _pick_distinct(lists: Sequence[Sequence[_Event]]) -> list[_Event] | None:
    """The earliest events, one per stage, no event used twice (None if impossible)."""
    used: set[int] = set()
    chosen: list[_Event] = []
    for candidates in lists:
        pick = next((e for e in candidates if e.seq not in used), None)
        if pick is None:
            return None
        used.add(pick.seq)
        chosen.append(pick)
    return chosen


def _sortable(value: Any) -> tuple[int, str]:
    return (0, "") if value is None else (1, str(value))
