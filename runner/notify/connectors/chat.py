"""``.slack`` and ``.teams``: incoming webhooks (Kibana's Slack webhook and Teams connectors).

Secret ``webhookUrl`` (the URL is the credential); params ``message``, posted as
``{"text": message}``.  Neither service takes an idempotency key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.notify.connectors.base import SendOptions
from runner.notify.connectors.http import post
from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates
from runner.notify.secrets import required_secret

# Teams answers a rate limit with 200 and this in the body (as Kibana's connector checks).
_THROTTLED = {".teams": lambda body: b"ErrorCode:ApplicationThrottled" in body}

# Slack truncates text past 40,000 characters; Teams refuses payloads over 28 KB.
LIMITS = {".slack": 40000, ".teams": 20000}


@dataclass(frozen=True, kw_only=True)
class ChatSender:
    connector: Connector
    options: SendOptions

    def send(self, notification: Notification) -> Ack:
        url = required_secret(self.connector, "webhookUrl", environ=self.options.environ)
        text = _clip(str(notification.params.get("message", "")), LIMITS[self.connector.type])
        body = json.dumps({"text": text}, ensure_ascii=False).encode()
        return post(
            self.connector.id, url, body, headers={"Content-Type": "application/json"},
            timeout=self.options.timeout, throttled=_THROTTLED.get(self.connector.type),
        )  # fmt: skip


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + "... [truncated]"


@dataclass(frozen=True)
class ChatType:
    type_id: str

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"message": templates.render(self.type_id, kind, view)}

    def sender(self, connector: Connector, options: SendOptions) -> ChatSender:
        return ChatSender(connector=connector, options=options)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        return []
