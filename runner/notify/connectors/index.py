"""``.index``: documents (by default the alerts themselves) written into another index.

Config ``index`` (Kibana's), ``executionTimeField`` (stamped with the send time).  Params
``documents``.  Each document is created with a deterministic id (the alert id, else the
notification id and position), so writing it again is a no-op: on a cluster a ``_bulk``
``create`` (409 counts as done), on the embedded store an event load (dedupe by id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.errors import DeliveryFailed
from runner.notify.connectors.base import SendOptions
from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates
from runner.timeutil import isoformat

# (index, [(id, document)]) -> documents now present; raises DeliveryFailed.
IndexWriter = Callable[[str, Sequence[tuple[str, Mapping[str, Any]]]], int]


@dataclass(frozen=True, kw_only=True)
class IndexSender:
    connector: Connector
    options: SendOptions
    writer: IndexWriter | None

    def send(self, notification: Notification) -> Ack:
        if self.writer is None:
            raise DeliveryFailed(
                f"connector {self.connector.id}: no store to index into", retryable=True
            )
        documents = notification.params.get("documents") or []
        if isinstance(documents, Mapping):
            documents = [documents]
        time_field = self.connector.config.get("executionTimeField")
        items = []
        for position, doc in enumerate(documents):
            if not isinstance(doc, Mapping):
                raise DeliveryFailed(
                    f"connector {self.connector.id}: documents[{position}] is not an object",
                    retryable=False,
                )
            body = dict(doc)
            if time_field:
                body[str(time_field)] = isoformat(notification.queued_at)
            doc_id = doc.get("kibana.alert.uuid") or f"{notification.id}-{position}"
            items.append((str(doc_id), body))
        written = self.writer(str(self.connector.config["index"]), items)
        return Ack(detail=f"{written} document(s) in {self.connector.config['index']}")


@dataclass(frozen=True)
class IndexType:
    writer: IndexWriter | None = None
    type_id: str = ".index"

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"documents": list(view.get("raw_alerts", []))}

    def sender(self, connector: Connector, options: SendOptions) -> IndexSender:
        return IndexSender(connector=connector, options=options, writer=self.writer)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        index = connector.config.get("index")
        return [] if isinstance(index, str) and index else [("index", "expected an index name")]
