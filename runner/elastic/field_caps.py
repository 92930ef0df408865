"""The field types of a rule's index patterns, read with ``_field_caps`` and cached.

Kibana compiles a rule's KQL with its data view's fields loaded (``queryToFields``: the
fields the query names).  Here the same: ``_field_caps`` for the fields (and field-name
patterns) the KQL refers to, on the rule's index patterns, kept for ``ttl`` seconds (five
minutes), and dropped by :meth:`FieldCapsCache.clear` (the daemon's rule reload).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

from runner.elastic.client import ElasticClient
from runner.elastic.dsl import index_path
from runner.elastic.requests import NativeRequest
from runner.kql.ast import Query
from runner.kql.fields import FieldTypes, query_fields

__all__ = ["FIELD_CAPS_TTL", "FieldCapsCache", "field_caps_request"]

FIELD_CAPS_TTL = 300.0


def field_caps_request(indices: Sequence[str], names: Sequence[str]) -> NativeRequest:
    fields = ",".join(quote(n, safe="*@") for n in names)
    return NativeRequest(
        method="GET",
        path=f"/{index_path(indices)}/_field_caps?fields={fields}"
        "&ignore_unavailable=true&allow_no_indices=true",
        body={},
        description="the types of the fields the query names (Kibana's data view fields)",
    )


class FieldCapsCache:
    def __init__(
        self,
        client: ElasticClient,
        *,
        ttl: float = FIELD_CAPS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[float, FieldTypes]] = {}

    def types(self, indices: Sequence[str], query: Query) -> FieldTypes:
        names = tuple(sorted(query_fields(query)))
        if not names:
            return FieldTypes()
        key = (tuple(indices), names)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        response = self._client.send(field_caps_request(indices, names))
        found = FieldTypes.from_field_caps(response.body or {})
        with self._lock:
            self._cache[key] = (now, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
