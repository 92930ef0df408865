"""``.file``: one NDJSON line per notification, to a file or stdout (``path = "-"``).

Each line carries the notification id, so a consumer can drop a line written twice (a crash
after the write and before it was recorded).  The line is flushed and fsynced before the
notification counts as delivered.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import DeliveryFailed
from runner.notify.connectors.base import SendOptions
from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates
from runner.timeutil import isoformat

_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class FileSender:
    connector: Connector
    options: SendOptions

    def send(self, notification: Notification) -> Ack:
        line = json.dumps({
            "notification_id": notification.id, "idempotency_key": notification.idempotency_key,
            "kind": notification.kind, "rule_id": notification.rule_id,
            "rule_name": notification.rule_name, "alert_ids": list(notification.alert_ids),
            "queued_at": isoformat(notification.queued_at), **dict(notification.params),
        }, default=str, ensure_ascii=False) + "\n"  # fmt: skip
        path = str(self.connector.config.get("path") or "-")
        with _LOCK:
            if path == "-":
                sys.stdout.write(line)
                sys.stdout.flush()
                return Ack(detail="stdout")
            try:
                with open(path, "a", encoding="utf-8") as out:
                    out.write(line)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                raise DeliveryFailed(
                    f"connector {self.connector.id}: cannot write {path}: "
                    f"{exc.strerror or type(exc).__name__}",
                    retryable=True,
                ) from None
        return Ack(detail=path)


class FileType:
    type_id = ".file"

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "message": templates.render(self.type_id, kind, view),
            "alerts": view["context"]["alerts"],
        }

    def sender(self, connector: Connector, options: SendOptions) -> FileSender:
        return FileSender(connector=connector, options=options)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        path = connector.config.get("path", "-")
        return [] if isinstance(path, str) and path else [("path", "expected a file path or -")]
