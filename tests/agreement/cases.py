"""One rule's test events, built from its own syntax tree.

A :class:`RuleCase` holds the rule (its index patterns narrowed to one concrete index of its
own, so rules never see each other's events) and its events: two matches (first and last
branches of every ``or``), near misses (a match with one committed test flipped), for EQL
sequences the stages joined on their keys, and for new_terms a history event, a repeat of the
history's terms in the window (must not alert) and an event with new terms (must).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from runner.eql import ast as eql
from runner.rules.model import Rule
from runner.timeutil import isoformat, parse_datemath
from tests.agreement import from_eql, from_kql
from tests.agreement.formula import (
    Equals,
    Formula,
    Leaf,
    NotGenerated,
    Present,
    all_of,
    negate,
)
from tests.agreement.solver import Solution, first, near_misses, solutions
from tests.agreement.values import MISSING, NUMERIC_NAMES, Value, kind_of

NEAR_MISSES = 3
TYPES = ("eql", "query", "new_terms", "esql")


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    index: str
    id: str
    source: Mapping[str, Any]
    role: str  # match, near-miss, history, repeat, new

    def hit(self) -> dict[str, Any]:
        return {"_index": self.index, "_id": self.id, "_source": dict(self.source)}


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleCase:
    rule: Rule
    events: tuple[Event, ...]


def concrete_index(pattern: str, slot: str) -> str:
    """An index name of this rule's own that ``pattern`` matches: a ``logs-<dataset>-<slot>``
    data stream for ``logs-*`` patterns (so it gets the ECS mappings), else the pattern with
    its last ``*`` read as the slot."""
    if pattern.startswith("logs-"):
        dataset = pattern[len("logs-") :].split("-", 1)[0].rstrip("*").replace("*", "x")
        dataset = dataset + "x" if not dataset or dataset.endswith(".") else dataset
        name = f"logs-{dataset}-{slot}"
    elif "*" in pattern:
        head, _, tail = pattern.rpartition("*")
        name = head.replace("*", "x") + slot + tail.replace("*", "x")
    else:
        name = pattern
    if not fnmatch.fnmatchcase(name, pattern):
        raise NotGenerated(f"no concrete index name for pattern {pattern!r}")
    return name


def nest(fields: Mapping[str, Value]) -> dict[str, Any]:
    """Dotted field names as nested objects."""
    out: dict[str, Any] = {}
    for name in sorted(fields, key=lambda n: n.count(".")):
        node = out
        parts = name.split(".")
        for part in parts[:-1]:
            inner = node.setdefault(part, {})
            if not isinstance(inner, dict):
                raise NotGenerated(f"field {name!r} under a field that has a value")
            node = inner
        if parts[-1] in node:
            raise NotGenerated(f"field {name!r} is both a value and an object")
        node[parts[-1]] = fields[name]
    return out


class Builder:
    def __init__(
        self, rule: Rule, slot: str, now: datetime, index: str, patterns: Sequence[str] = ()
    ) -> None:
        self.rule, self.slot, self.now, self.index = rule, slot, now, index
        self.patterns = patterns
        start = parse_datemath(rule.from_, now)
        self.base = now - min((now - start) / 2, timedelta(seconds=60))
        self.events: list[Event] = []

    def add(self, fields: Mapping[str, Value], role: str, at: datetime) -> None:
        source = nest({k: v for k, v in fields.items() if v is not MISSING})
        stamp = isoformat(at)
        source.setdefault("@timestamp", stamp)
        event = source.setdefault("event", {})
        if isinstance(event, dict):
            event.setdefault("ingested", stamp)
        number = sum(1 for e in self.events if e.role == role)
        self.events.append(Event(index=self._index_for(source), source=source, role=role,
                                 id=f"{self.slot}-{role}-{number}"))  # fmt: skip

    def _index_for(self, source: Mapping[str, Any]) -> str:
        """A document naming its ``data_stream.dataset`` goes to that data stream when one of
        the rule's patterns covers it (a sequence over two integrations), as on a cluster."""
        stream = source.get("data_stream")
        dataset = stream.get("dataset") if isinstance(stream, dict) else None
        if isinstance(dataset, str) and "-" not in dataset:
            name = f"logs-{dataset}-{self.slot}"
            if any(fnmatch.fnmatchcase(name, p) for p in self.patterns):
                return name
        return self.index

    def at(self, offset_ms: int) -> datetime:
        return self.base + timedelta(milliseconds=offset_ms)


def build_case(rule: Rule, slot: str, now: datetime) -> RuleCase:
    """The rule's events (raises :class:`NotGenerated` with the reason when it cannot)."""
    if rule.type not in TYPES:
        raise NotGenerated(f"rule type {rule.type}")
    if rule.type == "esql":
        from tests.agreement.from_esql import esql_case

        return esql_case(rule, slot, now)
    patterns = [p for p in rule.index if not p.startswith("-")]
    if not patterns:
        raise NotGenerated("the rule names no index pattern")
    if any(p.startswith(".alerts-") for p in patterns):
        raise NotGenerated("reads the alerts index (alerts as a source)")
    index = concrete_index(patterns[0], slot)
    builder = Builder(rule, slot, now, index, patterns)
    if rule.type == "eql":
        _eql(builder, rule.eql)
    elif rule.type == "query":
        _single(builder, from_kql.query(rule.kql))
    else:
        _new_terms(builder, from_kql.query(rule.kql))
    events = consistent(builder.events)
    narrowed = replace(rule, index=tuple(dict.fromkeys(e.index for e in events)))
    return RuleCase(rule=narrowed, events=events)


def consistent(events: Sequence[Event]) -> tuple[Event, ...]:
    """Events of one data stream agree on ``data_stream.*`` (constant_keyword fields): an
    event whose values differ from the first one's in its index is left out."""
    kept: list[Event] = []
    first: dict[str, dict[str, Any]] = {}
    for event in events:
        stream = event.source.get("data_stream")
        stream = stream if isinstance(stream, dict) else {}
        seen = first.setdefault(event.index, stream)
        if all(seen.get(k, v) == v for k, v in stream.items()):
            kept.append(event)
    return tuple(kept)


def _matches(formula: Formula, multi: bool) -> list[Solution]:
    found = [first(formula, multi=multi)]
    for other in solutions(formula, multi=multi, reverse=True):
        if other.values != found[0].values:
            found.append(other)
        break
    return found


def _single(builder: Builder, formula: Formula, *, multi: bool = True) -> None:
    matches = _matches(formula, multi)
    for i, solution in enumerate(matches):
        builder.add(solution.fields(), "match", builder.at(i * 100))
    for i, doc in enumerate(near_misses(matches[0], limit=NEAR_MISSES, multi=multi)):
        builder.add(doc, "near-miss", builder.at(1000 + i * 100))


# --- EQL ---------------------------------------------------------------------------------------


def _stage_formula(rule: Rule, query: eql.EventQuery) -> Formula:
    category_field = rule.event_category_override or "event.category"
    return all_of(from_eql.category_formula(category_field, query.category),
                  from_eql.condition(query.condition))  # fmt: skip


def _eql(builder: Builder, query: eql.Query) -> None:
    body = query.body
    if isinstance(body, eql.EventQuery):
        _single(builder, _stage_formula(builder.rule, body))
        return
    stages = [s for s in body.stages if not s.missing]
    keys = [_key_fields(body.keys + s.keys) for s in stages]
    formulas = [_stage_formula(builder.rule, s.query) for s in stages]
    match = _sequence(formulas, keys, builder.slot, "k")
    _add_sequence(builder, stages, match, "match", 0)
    # Near misses: the same sequence under fresh join keys, one stage's event flipped.
    for n, i in enumerate(sorted({0, len(stages) - 1})):
        try:
            other = _sequence(formulas, keys, builder.slot, f"n{n}")
        except NotGenerated:
            continue
        misses = near_misses(other[i], limit=1)
        if not misses:
            continue
        docs = [s.fields() for s in other]
        docs[i] = misses[0]
        _add_docs(builder, stages, docs, "near-miss", 2000 + 1000 * n)
    if len(stages) > 1:  # the sequence without its last stage
        try:
            other = _sequence(formulas, keys, builder.slot, "t")
        except NotGenerated:
            return
        docs = [s.fields() for s in other[:-1]]
        _add_docs(builder, stages[:-1], docs, "near-miss", 5000)


def _key_fields(keys: Sequence[eql.Expr]) -> list[str]:
    out = []
    for key in keys:
        if not isinstance(key, eql.Field):
            raise NotGenerated("EQL: a join key that is not a field")
        out.append(key.name)
    return out


def _sequence(
    formulas: Sequence[Formula], keys: Sequence[Sequence[str]], slot: str, tag: str
) -> list[Solution]:
    """One solution per stage, the stages' key fields equal position by position."""
    values: list[Value] = []
    for j, name in enumerate(keys[0]):
        # A fresh key value unless the first stage's own tests fix it.
        fresh = _fresh_key(name, slot, tag, j)
        try:
            first(formulas[0], fixed={name: (Leaf(field=name, test=Equals(values=(fresh,))),)})
            values.append(fresh)
        except NotGenerated:
            values.append(None)
    out: list[Solution] = []
    for i, formula in enumerate(formulas):
        fixed: dict[str, tuple[Leaf, ...]] = {}
        for j, name in enumerate(keys[i]):
            if values[j] is None:
                solved = first(all_of(formula, Leaf(field=name, test=Present())))
                value = solved.values.get(name, MISSING)
                if value is MISSING or isinstance(value, list):
                    raise NotGenerated("EQL: a join key without a single value")
                values[j] = value
            fixed.setdefault(name, ())
            fixed[name] += (Leaf(field=name, test=Equals(values=(values[j],))),)
        out.append(first(formula, fixed=fixed))
    return out


def _fresh_key(name: str, slot: str, tag: str, position: int) -> Value:
    number = 7000 + 100 * sum(map(ord, slot + tag)) % 90000 + position
    kind = kind_of(name, [])
    if name.rsplit(".", 1)[-1] in NUMERIC_NAMES:
        kind = "number"
    if kind == "ip":
        return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
    if kind == "number" or name.rsplit(".", 1)[-1] in ("pid", "ppid", "pgid"):
        return number
    return f"{slot}-{tag}{position}"


def _add_sequence(builder: Builder, stages: Sequence[eql.Stage], match: Sequence[Solution],
                  role: str, offset: int) -> None:  # fmt: skip
    _add_docs(builder, stages, [s.fields() for s in match], role, offset)


def _add_docs(builder: Builder, stages: Sequence[eql.Stage],
              docs: Sequence[Mapping[str, Value]], role: str, offset: int) -> None:  # fmt: skip
    step = 0
    for stage, doc in zip(stages, docs, strict=False):
        for _ in range(stage.runs):
            # 20 ms apart: a `with runs=20` stage still fits a one-second maxspan.
            builder.add(doc, role, builder.at(offset + step * 20))
            step += 1


# --- new_terms ---------------------------------------------------------------------------------


def _new_terms(builder: Builder, formula: Formula) -> None:
    rule = builder.rule
    assert rule.new_terms is not None
    fields = [from_kql.concrete_field(f) for f in rule.new_terms.fields]
    present = all_of(formula, *(Leaf(field=f, test=Present()) for f in fields))
    seen = first(present)
    start = parse_datemath(rule.from_, builder.now)
    history = parse_datemath(rule.new_terms.history_window_start, builder.now)
    if history >= start:
        raise NotGenerated("new_terms: the history starts after the window")
    builder.add(seen.fields(), "history", history + (start - history) / 2)
    builder.add(seen.fields(), "repeat", builder.at(0))
    for name in fields:
        old = seen.values[name]
        olds = tuple(old) if isinstance(old, list) else (old,)
        try:
            fresh = first(all_of(present, negate(Leaf(field=name, test=Equals(values=olds)))))
        except NotGenerated:
            continue
        builder.add(fresh.fields(), "new", builder.at(100))
        break
    else:
        raise NotGenerated("new_terms: no second value passes the query")
    for i, doc in enumerate(near_misses(seen, limit=2)):
        builder.add(doc, "near-miss", builder.at(1000 + i * 100))
