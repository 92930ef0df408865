"""Indicator pages on a cluster, as Kibana's ``getThreatList`` reads them.

A point in time over the threat indices (``keep_alive`` 5m, Kibana's ``THREAT_PIT_KEEP_ALIVE``)
is opened once; pages are ``_search`` requests on it sorted by ``_shard_doc`` with
``search_after``, ``track_total_hits: false``; the point in time is closed when the pages are
done or abandoned (a failed close is logged, as Kibana does, and never hides an error).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from runner.cleanup import after
from runner.elastic import requests
from runner.elastic.client import ElasticClient
from runner.elastic.dsl import kql_query
from runner.elastic.events import ElasticEventSource
from runner.elastic.requests import NativeRequest
from runner.elastic.responses import search_hits
from runner.errors import RunnerError
from runner.kql.fields import FieldTypes
from runner.logs import get_logger
from runner.search import Hit, IndicatorRequest

KEEP_ALIVE = requests.PIT_KEEP_ALIVE  # Kibana's THREAT_PIT_KEEP_ALIVE is 5m too
PIT_PLACEHOLDER = "<point in time id>"

__all__ = ["indicator_pages", "indicator_search", "open_pit_request"]


def open_pit_request(indices: tuple[str, ...]) -> NativeRequest:
    return requests.open_pit_request(
        indices, "indicator match: open a point in time over the threat indices"
    )


def indicator_search(
    request: IndicatorRequest,
    pit_id: str,
    search_after: list[Any] | None = None,
    fields: FieldTypes | None = None,
) -> NativeRequest:
    """One page of indicators; the threat query compiled with ``fields``' types (the threat
    indices', from ``_field_caps``) when given."""
    body: dict[str, Any] = {
        "size": request.size,
        "query": kql_query(request.query, None, request.filters, fields=fields),
        "pit": {"id": pit_id, "keep_alive": KEEP_ALIVE},
        "sort": ["_shard_doc"],
        "track_total_hits": False,
    }
    if search_after is not None:
        body["search_after"] = search_after
    return NativeRequest(
        method="POST",
        path="/_search",
        body=body,
        description="indicator match: one page of indicators (threat query, filters, mapping)",
    )


def indicator_pages(
    client: ElasticClient, events: ElasticEventSource, request: IndicatorRequest
) -> Generator[tuple[Hit, ...], None, None]:
    types = events.field_types(request.indices, request.query)
    opened = client.send(open_pit_request(request.indices)).body
    pit = {"id": str(opened.get("id", ""))}

    def close() -> None:
        try:
            client.send(requests.close_pit_request(pit["id"]), allow=(404,))
        except RunnerError as exc:  # it expires after keep_alive anyway
            get_logger().warning("point_in_time_not_closed", error=str(exc))

    with after(close):
        search_after: list[Any] | None = None
        while True:
            body = events.search(indicator_search(request, pit["id"], search_after, types))
            pit["id"] = str(body.get("pit_id") or pit["id"])
            raw = body.get("hits", {}).get("hits", [])
            hits = search_hits(body)
            if hits:
                yield hits
            if len(raw) < request.size or not raw:
                return
            search_after = raw[-1].get("sort")
