"""``_bulk`` with ``create``: insert-if-absent, item by item (or with ``index``: write).

A 201 item is created, a 409 item already existed (a duplicate, not an error), a 429 or 5xx
item is sent again with backoff (within the client's retry policy), any other item failed.
Nothing counts as created unless Elasticsearch said 201 (with ``index``, 200 too: the document
was replaced).  :func:`event_action` turns one
NDJSON event line into its ``create`` (``runner events load`` on a cluster).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.elastic.client import ElasticClient
from runner.elastic.responses import BulkItem, bulk_items
from runner.logs import get_logger

CHUNK = 500  # documents per _bulk request


@dataclass(frozen=True, kw_only=True, slots=True)
class Create:
    """One ``create`` action; ``id`` None lets Elasticsearch pick one."""

    index: str
    id: str | None
    doc: Mapping[str, Any]


@dataclass(kw_only=True, slots=True)
class BulkOutcome:
    """Positions (in the input) of created and duplicate actions; failures with reasons."""

    created: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)  # the _id Elasticsearch answered


def _retriable(item: BulkItem) -> bool:
    return item.status == 429 or item.status >= 500


def bulk_create(
    client: ElasticClient, actions: Sequence[Create], *, refresh: str | None = "wait_for"
) -> BulkOutcome:
    return bulk_write(client, actions, op="create", refresh=refresh)


def bulk_write(
    client: ElasticClient,
    actions: Sequence[Create],
    *,
    op: Literal["create", "index"],
    refresh: str | None = "wait_for",
) -> BulkOutcome:
    outcome = BulkOutcome()
    for start in range(0, len(actions), CHUNK):
        _send_chunk(client, list(range(start, min(start + CHUNK, len(actions)))), actions,
                    op, refresh, outcome)  # fmt: skip
    return outcome


def _send_chunk(
    client: ElasticClient,
    positions: list[int],
    actions: Sequence[Create],
    op: str,
    refresh: str | None,
    outcome: BulkOutcome,
) -> None:
    path = "/_bulk" + (f"?refresh={refresh}" if refresh else "")
    started = client.clock()
    attempt = 0
    while positions:
        attempt += 1
        body: list[Mapping[str, Any]] = []
        for pos in positions:
            meta: dict[str, Any] = {"_index": actions[pos].index}
            if actions[pos].id is not None:
                meta["_id"] = actions[pos].id
            body += [{op: meta}, dict(actions[pos].doc)]
        items = bulk_items(client.request("POST", path, body).body)
        retry: list[tuple[int, str]] = []
        for i, pos in enumerate(positions):
            if i >= len(items):
                outcome.failed.append((pos, "no answer for this item in the _bulk response"))
                continue
            item = items[i]
            if item.id:
                outcome.ids[pos] = item.id
            if item.status == 201 or (op == "index" and item.status == 200):
                outcome.created.append(pos)
            elif item.status == 409:
                outcome.duplicates.append(pos)
            elif _retriable(item):
                retry.append((pos, f"HTTP {item.status} {item.error}".strip()))
            else:
                outcome.failed.append((pos, item.error or f"unexpected item status {item.status}"))
        delay = client.retry.delay(attempt)
        elapsed = client.clock() - started
        if retry and attempt <= client.retry.max_retries and elapsed + delay < client.retry.budget:
            get_logger().warning("bulk_items_retry", items=len(retry), attempt=attempt,
                                 wait_s=delay, first_error=retry[0][1])  # fmt: skip
            client.sleep(delay)
            positions = [pos for pos, _ in retry]
            continue
        for pos, reason in retry:
            outcome.failed.append((pos, f"{reason} (still failing after {attempt} attempt(s))"))
        return


def event_action(line: str, index: str | None) -> Create:
    """The ``create`` action for one NDJSON line; ValueError says what is wrong with it."""
    text = line.rstrip("\r\n")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    if "_source" in event:
        if not isinstance(event["_source"], dict):
            raise ValueError("hit without an object `_source`")
        doc, target, doc_id = event["_source"], event.get("_index") or index, event.get("_id")
    else:
        doc, target, doc_id = event, index or _data_stream(event), None
    if not isinstance(target, str) or not target:
        raise ValueError(
            "no index: pass --index NAME, or give the document data_stream.dataset and "
            "data_stream.namespace"
        )
    key = str(doc_id) if doc_id else hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return Create(index=target, id=key, doc=doc)


def _data_stream(doc: Mapping[str, Any]) -> str | None:
    nested = doc.get("data_stream")
    nested = nested if isinstance(nested, Mapping) else {}
    dataset = nested.get("dataset", doc.get("data_stream.dataset"))
    namespace = nested.get("namespace", doc.get("data_stream.namespace"))
    if isinstance(dataset, list):
        dataset = dataset[0] if dataset else None
    if isinstance(namespace, list):
        namespace = namespace[0] if namespace else None
    return f"logs-{dataset}-{namespace}" if dataset and namespace else None
