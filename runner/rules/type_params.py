"""The type-specific keys of threshold, indicator match and machine learning rules.

Each reader takes the ``[rule]`` table and a ``problem(key, message)`` callback, reports every
problem it finds against the key that holds it, and returns None when the block is unusable.
Shapes follow Kibana's rule schema (``threshold.field`` is a string or an array of 0 to 3
names; ``machine_learning_job_id`` a string or an array).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from runner.errors import QueryError
from runner.kql import parse_kql
from runner.rules.filters import filter_query
from runner.rules.model import (
    Cardinality,
    MachineLearning,
    RuleFilter,
    ThreatMappingEntry,
    ThreatMatch,
    Threshold,
)

Problem = Callable[..., None]

DEFAULT_INDICATOR_PATH = "threat.indicator"
DEFAULT_ITEMS_PER_SEARCH = 9000  # Kibana's default threat items per search
MAX_THRESHOLD_FIELDS = 3


def read_threshold(rule: Mapping[str, Any], problem: Problem) -> Threshold | None:
    spec = rule.get("threshold")
    if not isinstance(spec, Mapping):
        problem("rule.threshold", "required table is missing (field, value)")
        return None
    raw_fields = spec.get("field", [])
    fields: tuple[str, ...] | None
    if isinstance(raw_fields, str):
        fields = (raw_fields,) if raw_fields else ()
    elif isinstance(raw_fields, list) and all(isinstance(f, str) and f for f in raw_fields):
        fields = tuple(raw_fields)
    else:
        fields = None
    if fields is None or len(fields) > MAX_THRESHOLD_FIELDS:
        problem("rule.threshold.field", "expected a field name or an array of 0 to 3 names")
        fields = None
    value = spec.get("value")
    if not _positive_int(value):
        problem("rule.threshold.value", f"expected an integer of at least 1, got {value!r}")
    cardinality: list[Cardinality] = []
    raw_cardinality = spec.get("cardinality", [])
    if not isinstance(raw_cardinality, list):
        problem("rule.threshold.cardinality", "expected an array of tables (field, value)")
        raw_cardinality = []
    for position, item in enumerate(raw_cardinality):
        key = f"rule.threshold.cardinality[{position}]"
        c_field = item.get("field") if isinstance(item, Mapping) else None
        c_value = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(c_field, str) or not c_field or not _positive_int(c_value):
            problem(key, "expected a table with field (a name) and value (an integer >= 1)")
            continue
        cardinality.append(Cardinality(field=c_field, value=int(c_value)))
    if fields is None or not _positive_int(value):
        return None
    return Threshold(fields=fields, value=int(value), cardinality=tuple(cardinality))


def read_threat_match(rule: Mapping[str, Any], problem: Problem) -> ThreatMatch | None:
    ok = True
    index = rule.get("threat_index")
    if not isinstance(index, list) or not index or not all(isinstance(i, str) for i in index):
        problem("rule.threat_index", "expected a non-empty array of index patterns")
        ok = False
    language = rule.get("threat_language", "kuery")
    if language != "kuery":
        problem("rule.threat_language", f"only kuery is supported, got {language!r}")
        ok = False
    query = rule.get("threat_query", "*:*")
    parsed = None
    if not isinstance(query, str):
        problem("rule.threat_query", "expected a string")
        ok = False
    else:
        try:
            parsed = parse_kql(query)
        except QueryError as exc:
            problem("rule.threat_query", f"kuery syntax error: {exc.reason}", exc)
            ok = False
    mapping = _threat_mapping(rule.get("threat_mapping"), problem)
    filters = read_filters(rule, "threat_filters", problem)
    path = rule.get("threat_indicator_path", DEFAULT_INDICATOR_PATH)
    if not isinstance(path, str) or not path:
        problem("rule.threat_indicator_path", "expected a field path")
        ok = False
    items = rule.get("items_per_search", DEFAULT_ITEMS_PER_SEARCH)
    if not _positive_int(items):
        problem("rule.items_per_search", f"expected an integer of at least 1, got {items!r}")
        ok = False
    concurrent = rule.get("concurrent_searches", 1)
    if not _positive_int(concurrent):
        problem("rule.concurrent_searches", f"expected an integer >= 1, got {concurrent!r}")
        ok = False
    if not ok or mapping is None or filters is None or parsed is None:
        return None
    return ThreatMatch(
        index=tuple(index),  # type: ignore[arg-type]  # checked above
        query=str(query),
        parsed=parsed,
        mapping=mapping,
        filters=filters,
        indicator_path=str(path),
        items_per_search=int(items),
        concurrent_searches=int(concurrent),
    )


def read_machine_learning(rule: Mapping[str, Any], problem: Problem) -> MachineLearning | None:
    jobs = rule.get("machine_learning_job_id")
    job_ids: tuple[str, ...] | None = None
    if isinstance(jobs, str) and jobs:
        job_ids = (jobs,)
    elif isinstance(jobs, list) and jobs and all(isinstance(j, str) and j for j in jobs):
        job_ids = tuple(jobs)
    if job_ids is None:
        problem("rule.machine_learning_job_id", "expected a job id or a non-empty array of ids")
    threshold = rule.get("anomaly_threshold")
    valid = isinstance(threshold, int) and not isinstance(threshold, bool)
    if not valid or not 0 <= threshold <= 100:  # type: ignore[operator]  # valid: an int
        problem("rule.anomaly_threshold", f"expected an integer from 0 to 100, got {threshold!r}")
        return None
    if job_ids is None:
        return None
    return MachineLearning(job_ids=job_ids, anomaly_threshold=int(threshold))  # type: ignore[arg-type]


def read_filters(
    rule: Mapping[str, Any], key: str, problem: Problem
) -> tuple[RuleFilter, ...] | None:
    """Kibana filters (``filters`` or ``threat_filters``) as DSL; None when one is broken."""
    raw = rule.get(key, [])
    if not isinstance(raw, list):
        problem(f"rule.{key}", "expected an array of tables")
        return None
    found: list[RuleFilter] = []
    ok = True
    for position, item in enumerate(raw):
        where = f"rule.{key}[{position}]"
        if not isinstance(item, Mapping):
            problem(where, "expected a table")
            ok = False
            continue
        meta = item.get("meta", {})
        meta = meta if isinstance(meta, Mapping) else {}
        query = filter_query(item)
        if not query:
            problem(where, "filter has no query")
            ok = False
            continue
        found.append(
            RuleFilter(
                query=dict(query),
                negate=bool(meta.get("negate", False)),
                disabled=bool(meta.get("disabled", False)),
            )
        )
    return tuple(found) if ok else None


def _threat_mapping(
    raw: object, problem: Problem
) -> tuple[tuple[ThreatMappingEntry, ...], ...] | None:
    if not isinstance(raw, list) or not raw:
        problem("rule.threat_mapping", "expected one or more [[rule.threat_mapping]] blocks")
        return None
    blocks: list[tuple[ThreatMappingEntry, ...]] = []
    ok = True
    for position, block in enumerate(raw):
        key = f"rule.threat_mapping[{position}]"
        entries = block.get("entries") if isinstance(block, Mapping) else None
        if not isinstance(entries, list) or not entries:
            problem(f"{key}.entries", "expected one or more entries (field, type, value)")
            ok = False
            continue
        found: list[ThreatMappingEntry] = []
        for e_pos, entry in enumerate(entries):
            e_key = f"{key}.entries[{e_pos}]"
            if not isinstance(entry, Mapping):
                problem(e_key, "expected a table")
                ok = False
                continue
            field, value = entry.get("field"), entry.get("value")
            kind, negate = entry.get("type", "mapping"), entry.get("negate", False)
            if not isinstance(field, str) or not field or not isinstance(value, str) or not value:
                problem(e_key, "expected field and value (field names)")
                ok = False
            elif kind != "mapping" or not isinstance(negate, bool):
                problem(e_key, f'expected type = "mapping" and a boolean negate, got {kind!r}')
                ok = False
            else:
                found.append(ThreatMappingEntry(field=field, value=value, negate=negate))
        blocks.append(tuple(found))
    return tuple(blocks) if ok else None


def _positive_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
