"""Elasticsearch response bodies turned into the backend-neutral results of :mod:`runner.search`.

Pure functions over decoded JSON; no client, no I/O.  Shapes: the EQL search API
(``hits.events`` / ``hits.sequences``), ``_search`` hits, ``composite`` pages with
``after_key``, ``terms`` buckets with ``min`` / ``top_hits`` sub-aggregations, and ``_bulk``
items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.elastic.source_fields import merge_missing_fields
from runner.search import EqlResult, Hit, MissingEvent, SequenceMatch, TermKey, TermValue

_SPACE = re.compile(r"\s+")
MAX_REASON = 600


def one_line(text: str, limit: int = MAX_REASON) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- errors --------------------------------------------------------------------------------


def error_cause(body: Any) -> tuple[str, str]:
    """``(type, reason)`` of an error body, the most specific one Elasticsearch gives:
    a shard failure's reason for ``search_phase_execution_exception``, else the top error
    (with its ``caused_by``)."""
    error = _dict(body).get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return "", one_line(error)
    error = _dict(error)
    kind = str(error.get("type", ""))
    reason = str(error.get("reason", ""))
    for failure in _list(error.get("failed_shards")):
        inner = _dict(_dict(failure).get("reason"))
        if inner.get("type"):
            kind, reason = str(inner["type"]), str(inner.get("reason", ""))
            error = inner
            break
    caused = _dict(error.get("caused_by"))
    if caused.get("reason") and str(caused["reason"]) not in reason:
        reason = f"{reason}; caused by: {caused.get('type', '')}: {caused['reason']}"
    return kind, one_line(reason)


def error_types(body: Any) -> set[str]:
    """Every ``type`` anywhere in an error body (root causes, shard failures, causes)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("type"), str):
                found.add(value["type"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(body)
    return found


def shard_failures(failures: Sequence[Any], total: int | None = None) -> str:
    parts = []
    for failure in failures[:3]:
        item = _dict(failure)
        where = f"[{item.get('index', '?')}][{item.get('shard', '?')}]"
        kind, reason = error_cause({"error": item.get("reason")})
        parts.append(f"{where} {kind}: {reason}" if kind else f"{where} {reason}")
    count = total if total is not None else len(failures)
    more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
    return one_line(f"{count} shard(s) failed: " + "; ".join(parts) + more)


def partial_reason(body: Mapping[str, Any]) -> str | None:
    """Why a ``_search`` answer is incomplete (failed shards, timeout), None when complete."""
    shards = _dict(body.get("_shards"))
    reasons = []
    failed = shards.get("failed")
    if isinstance(failed, int) and failed > 0:
        reasons.append(shard_failures(_list(shards.get("failures")), failed))
    if body.get("timed_out") is True:
        reasons.append("the search timed out before all shards answered")
    return "; ".join(reasons) or None


# --- EQL -----------------------------------------------------------------------------------


def _hit(raw: Any) -> Hit:
    """A hit; values only its ``fields`` hold are merged into the source, as Kibana does."""
    item = _dict(raw)
    source = _dict(item.get("_source"))
    fields = item.get("fields")
    if isinstance(fields, dict) and fields:
        source = merge_missing_fields(source, fields)
    return Hit(index=str(item.get("_index", "")), id=str(item.get("_id", "")), source=source)


def eql_result(body: Mapping[str, Any]) -> EqlResult:
    hits = _dict(body.get("hits"))
    events = tuple(_hit(e) for e in _list(hits.get("events")))
    sequences = tuple(
        SequenceMatch(
            join_keys=tuple(_list(_dict(s).get("join_keys"))),
            events=tuple(
                MissingEvent() if _dict(e).get("missing") is True else _hit(e)
                for e in _list(_dict(s).get("events"))
            ),
        )
        for s in _list(hits.get("sequences"))
    )
    reasons = []
    failures = _list(body.get("shard_failures"))
    if failures:
        reasons.append(shard_failures(failures))
    if body.get("timed_out") is True:
        reasons.append("the search timed out")
    partial = body.get("is_partial") is True or bool(reasons)
    if partial and not reasons:
        reasons.append("Elasticsearch returned partial results (is_partial)")
    return EqlResult(
        events=events,
        sequences=sequences,
        is_partial=partial,
        partial_reason="; ".join(reasons) if partial else None,
    )


# --- _search -------------------------------------------------------------------------------


def search_hits(body: Mapping[str, Any]) -> tuple[Hit, ...]:
    return tuple(_hit(h) for h in _list(_dict(body.get("hits")).get("hits")))


def _norm(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    return ("o", repr(value))


class KeyMatcher:
    """Maps bucket keys back to the requested term keys (Elasticsearch answers booleans as
    1/0 with ``key_as_string``, numbers as floats or ints)."""

    def __init__(self, keys: Sequence[TermKey]) -> None:
        self._keys = {tuple(_norm(v) for v in key): key for key in keys}

    def __call__(self, raw: Sequence[Any]) -> TermKey | None:
        return self._keys.get(tuple(_norm(v) for v in raw))

    def bucket(self, bucket: Mapping[str, Any], fields: Sequence[str]) -> TermKey | None:
        key = bucket.get("key")
        if isinstance(key, dict):
            return self([key.get(f) for f in fields])
        found = self([key])
        text = bucket.get("key_as_string")
        if found is None and isinstance(text, str):
            found = self([text]) or self([{"true": True, "false": False}.get(text, text)])
        return found


@dataclass(frozen=True, kw_only=True, slots=True)
class AggPage:
    buckets: tuple[dict[str, Any], ...]
    after: dict[str, Any] | None  # composite after_key


def agg_page(body: Mapping[str, Any], name: str = "new_terms") -> AggPage:
    agg = _dict(_dict(body.get("aggregations")).get(name))
    after = agg.get("after_key")
    return AggPage(
        buckets=tuple(_dict(b) for b in _list(agg.get("buckets"))),
        after=after if isinstance(after, dict) else None,
    )


def _term(value: Any) -> TermValue:
    return value if isinstance(value, str | int | float | bool) else str(value)


def composite_key(bucket: Mapping[str, Any], fields: Sequence[str]) -> TermKey:
    key = _dict(bucket.get("key"))
    return tuple(_term(key.get(f)) for f in fields)


def first_seen(bucket: Mapping[str, Any]) -> datetime | None:
    value = _dict(bucket.get("first_seen")).get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def top_hit(bucket: Mapping[str, Any]) -> Hit | None:
    hits = _list(_dict(_dict(_dict(bucket.get("docs")).get("hits"))).get("hits"))
    return _hit(hits[0]) if hits else None


# --- _bulk ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BulkItem:
    id: str
    status: int
    error: str = ""  # "type: reason" when the item failed


def bulk_items(body: Mapping[str, Any]) -> list[BulkItem]:
    items = []
    for raw in _list(body.get("items")):
        result = _dict(next(iter(_dict(raw).values()), {}))
        status = result.get("status")
        error = ""
        if "error" in result:
            kind, reason = error_cause({"error": result["error"]})
            error = f"{kind}: {reason}" if kind else reason
        items.append(
            BulkItem(
                id=str(result.get("_id", "")),
                status=status if isinstance(status, int) else 0,
                error=error,
            )
        )
    return items
