"""Kibana's filter migration: a rule filter's stored form to the DSL clause it applies.

As ``migrateFilter`` in kbn-es-query: the legacy phrase filter
``{"match": {f: {"query": v, "type": "phrase"}}}`` (Elasticsearch has no ``type`` there and
rejects it) becomes ``{"match_phrase": {f: {"query": v}}}``; a filter without ``query`` has its
other keys (``exists``, ``range``, ``match_all``, ...) moved under it; with ``query``, keys beside
it are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["filter_query"]

_BESIDE_QUERY = ("meta", "$state", "query")


def filter_query(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The DSL clause of one stored filter (``{}`` when it has none)."""
    phrase = _deprecated_phrase(item)
    if phrase is not None:
        return phrase
    query = item.get("query")
    if query is None:
        return {k: v for k, v in item.items() if k not in _BESIDE_QUERY}
    return query if isinstance(query, Mapping) else {}


def _deprecated_phrase(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # Kibana looks at the top-level ``match`` first, then ``query.match``, and only at its first
    # field.
    query = item.get("query")
    nested = query.get("match") if isinstance(query, Mapping) else None
    match = item.get("match") or nested
    if not isinstance(match, Mapping) or not match:
        return None
    field = next(iter(match))
    params = match[field]
    if not isinstance(params, Mapping) or params.get("type") != "phrase":
        return None
    return {"match_phrase": {field: {k: v for k, v in params.items() if k != "type"}}}
