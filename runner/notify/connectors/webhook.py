"""``.webhook``: any HTTP endpoint (Kibana's webhook connector).

Config: ``url``, ``method`` (post | put), ``headers``, ``hasAuth``; secrets ``user`` and
``password`` (basic auth), and ``url`` when the URL itself carries a token.  Params:
``body``.  Sends ``Idempotency-Key`` (the notification's key) so a receiver can drop a repeat.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.notify.connectors.base import SendOptions
from runner.notify.connectors.http import post
from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates
from runner.notify.secrets import required_secret, secret


@dataclass(frozen=True, kw_only=True)
class WebhookSender:
    connector: Connector
    options: SendOptions

    def send(self, notification: Notification) -> Ack:
        config = self.connector.config
        env = self.options.environ
        url = config.get("url") or required_secret(self.connector, "url", environ=env)
        headers = {"Content-Type": "application/json"}
        headers.update({str(k): str(v) for k, v in (config.get("headers") or {}).items()})
        headers["Idempotency-Key"] = notification.idempotency_key
        user = secret(self.connector, "user", environ=env)
        if config.get("hasAuth", user is not None) and user is not None:
            password = required_secret(self.connector, "password", environ=env)
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        body = str(notification.params.get("body", ""))
        method = str(config.get("method") or "post").upper()
        return post(self.connector.id, str(url), body.encode(), headers=headers,
                    timeout=self.options.timeout, method=method)  # fmt: skip


class WebhookType:
    type_id = ".webhook"

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"body": templates.render(self.type_id, kind, view)}

    def sender(self, connector: Connector, options: SendOptions) -> WebhookSender:
        return WebhookSender(connector=connector, options=options)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        problems = []
        url = connector.config.get("url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            problems.append(("url", "expected an http:// or https:// URL"))
        if str(connector.config.get("method") or "post").lower() not in ("post", "put"):
            problems.append(("method", "expected post or put"))
        headers = connector.config.get("headers")
        if headers is not None and not isinstance(headers, Mapping):
            problems.append(("headers", "expected a table"))
        return problems
