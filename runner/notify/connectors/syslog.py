"""``.server-log`` (alias ``.syslog``): RFC 5424 messages over UDP or TCP.

Kibana's server-log connector writes to Kibana's own log; runner's sends to a syslog
receiver: config ``host``, ``port`` (514), ``protocol`` (udp | tcp; TCP frames by octet
counting, RFC 6587), ``facility`` (number, default 1 = user), ``app_name``.  Without a
``host`` it writes to runner's own log, as Kibana does.  Params: ``message``, ``level``.
Newlines are escaped: one notification is one syslog line.  UDP has no acknowledgement: a
datagram handed to the network counts as delivered.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import DeliveryFailed
from runner.logs import get_logger
from runner.notify.connectors.base import SendOptions
from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates
from runner.timeutil import isoformat, utcnow

_LEVELS = {"trace": 7, "debug": 7, "info": 6, "warn": 4, "warning": 4, "error": 3, "fatal": 2}
MAX_MESSAGE = 8000  # octets of MSG; receivers must accept 480 and should accept 2048


def _sd_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _token(text: str, limit: int) -> str:
    cleaned = "".join(c for c in text if 33 <= ord(c) <= 126)
    return cleaned[:limit] or "-"


def format_message(
    notification: Notification, *, facility: int, app_name: str, hostname: str
) -> bytes:
    params = notification.params
    severity = _LEVELS.get(str(params.get("level") or "info").lower(), 6)
    text = str(params.get("message", ""))
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    data = text.encode("utf-8")[:MAX_MESSAGE].decode("utf-8", "ignore")
    sd = (f'[runner@32473 notification="{_sd_value(notification.id)}" '
          f'rule="{_sd_value(notification.rule_id)}"]')  # fmt: skip
    line = (f"<{facility * 8 + severity}>1 {isoformat(utcnow())} {_token(hostname, 255)} "
            f"{_token(app_name, 48)} - {_token(notification.kind, 32)} {sd} {data}")  # fmt: skip
    return line.encode("utf-8")


@dataclass(frozen=True, kw_only=True)
class SyslogSender:
    connector: Connector
    options: SendOptions

    def send(self, notification: Notification) -> Ack:
        config = self.connector.config
        host = config.get("host")
        if not host:
            get_logger().info("server_log", rule=notification.rule_name,
                              message=notification.params.get("message", ""))  # fmt: skip
            return Ack(detail="runner log")
        port = int(config.get("port") or 514)
        protocol = str(config.get("protocol") or "udp").lower()
        line = format_message(
            notification,
            facility=int(config.get("facility", 1)),
            app_name=str(config.get("app_name") or "runner"),
            hostname=socket.gethostname(),
        )
        try:
            if protocol == "tcp":
                with socket.create_connection((host, port), timeout=self.options.timeout) as s:
                    s.sendall(f"{len(line)} ".encode() + line)
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(self.options.timeout)
                    s.sendto(line, (host, port))
        except OSError as exc:
            raise DeliveryFailed(
                f"connector {self.connector.id}: syslog {protocol} {host}:{port}: "
                f"{exc.strerror or type(exc).__name__}",
                retryable=True,
            ) from None
        return Ack(detail=f"{protocol} {host}:{port}")


class SyslogType:
    type_id = ".server-log"

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {"message": templates.render(self.type_id, kind, view), "level": "warn"}

    def sender(self, connector: Connector, options: SendOptions) -> SyslogSender:
        return SyslogSender(connector=connector, options=options)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        protocol = str(connector.config.get("protocol") or "udp").lower()
        return [] if protocol in ("udp", "tcp") else [("protocol", "expected udp or tcp")]
