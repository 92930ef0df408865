"""``.pagerduty``: PagerDuty Events API v2 (Kibana's PagerDuty connector).

Config ``apiUrl`` (default PagerDuty's; tests point it at loopback); secret ``routingKey``.
Params as Kibana's: ``eventAction``, ``dedupKey``, ``summary``, ``source``, ``severity``,
``timestamp``, ``component``, ``group``, ``class``, ``customDetails``, ``links``.  The
``dedup_key`` defaults to the alert id (per-alert actions) or the notification id
(summaries), so PagerDuty itself folds a repeated event into the same incident.
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

API_URL = "https://events.pagerduty.com/v2/enqueue"
_SEVERITY = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}


def event_body(routing_key: str, params: Mapping[str, Any], dedup_key: str) -> dict[str, Any]:
    action = str(params.get("eventAction") or "trigger")
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": str(params.get("dedupKey") or dedup_key)[:255],
    }
    if action == "trigger":
        payload: dict[str, Any] = {
            "summary": str(params.get("summary") or "runner alert")[:1024],
            "source": str(params.get("source") or "runner"),
            "severity": str(params.get("severity") or "info"),
        }
        for key, name in (("timestamp", "timestamp"), ("component", "component"),
                          ("group", "group"), ("class", "class"),
                          ("customDetails", "custom_details")):  # fmt: skip
            if params.get(key):
                payload[name] = params[key]
        body["payload"] = payload
        if params.get("links"):
            body["links"] = params["links"]
    return body


@dataclass(frozen=True, kw_only=True)
class PagerDutySender:
    connector: Connector
    options: SendOptions

    def send(self, notification: Notification) -> Ack:
        key = required_secret(self.connector, "routingKey", environ=self.options.environ)
        body = event_body(key, notification.params, notification.idempotency_key)
        url = str(self.connector.config.get("apiUrl") or API_URL)
        return post(self.connector.id, url, json.dumps(body, default=str).encode(),
                    headers={"Content-Type": "application/json"},
                    timeout=self.options.timeout)  # fmt: skip


class PagerDutyType:
    type_id = ".pagerduty"

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        alerts = view["context"]["alerts"]
        first = alerts[0] if alerts else {}
        host = (first.get("host") or {}).get("name") if isinstance(first, dict) else None
        severity = view["context"]["rule"].get("severity", "low")
        return {
            "eventAction": "trigger",
            "summary": templates.render(self.type_id, kind, view),
            "source": host if isinstance(host, str) and kind == "alert" else "runner",
            "severity": _SEVERITY.get(str(severity), "info"),
            "timestamp": view["date"],
            "component": view["context"]["rule"]["name"],
            "class": "detection",
            "customDetails": {"rule_id": view["rule"]["id"], "alerts": len(alerts)},
        }

    def sender(self, connector: Connector, options: SendOptions) -> PagerDutySender:
        return PagerDutySender(connector=connector, options=options)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        url = connector.config.get("apiUrl")
        if url is not None and not str(url).startswith(("http://", "https://")):
            return [("apiUrl", "expected an http:// or https:// URL")]
        return []
