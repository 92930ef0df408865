"""Query rules page through a point in time with ``search_after`` (Kibana's
``searchAfterAndBulkCreate``), never with ``from``: no 10,000-hit ceiling, no 400 when
``max_signals`` does not divide 10,000, and documents indexed meanwhile do not shift pages.

A page answered by only some shards (failures, timeout) is kept with its reason: its alerts
are written and the execution is a partial failure that does not advance the rule's covered
mark, so the window is searched again.  The point in time is closed when paging ends or the
caller stops early; failing to close it never hides the error that ended the paging (it
expires after its keep-alive anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from runner.cleanup import after
from runner.elastic.client import ElasticClient
from runner.elastic.requests import (
    NativeRequest,
    close_pit_request,
    open_pit_request,
    pit_page_request,
)
from runner.elastic.responses import partial_reason, search_hits
from runner.errors import BackendError
from runner.kql.fields import FieldTypes
from runner.search import HitPage, KqlRequest

Search = Callable[[NativeRequest], dict[str, Any]]  # raises on errors, not on partial answers


def pit_pages(
    client: ElasticClient, search: Search, request: KqlRequest, fields: FieldTypes | None = None
) -> Generator[HitPage, None, None]:
    opened = client.send(open_pit_request(request.indices)).body
    pit_id = str((opened or {}).get("id") or "")
    if not pit_id:
        raise BackendError("Elasticsearch opened a point in time without an id")
    current = [pit_id]

    def close() -> None:
        client.send(close_pit_request(current[0]), allow=(404,))

    with after(close):
        cursor: list[Any] | None = None
        while True:
            body = search(pit_page_request(request, current[0], cursor, fields=fields))
            # Elasticsearch may hand back a new id: always page with the latest one.
            current[0] = str(body.get("pit_id") or current[0])
            hits = search_hits(body)
            reason = partial_reason(body)
            if hits or reason:
                yield HitPage(hits=hits, partial_reason=reason)
            raw = body.get("hits", {}).get("hits", [])
            if len(hits) < request.size or not raw or not raw[-1].get("sort"):
                return
            cursor = list(raw[-1]["sort"])
