"""The connector interface: one module per connector type implements it.

A connector type knows two things: the params runner renders for it when an action gives
none (from the shipped or user templates), and how to send one rendered notification,
returning an :class:`~runner.notify.model.Ack` only when the receiver acknowledged it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates


@dataclass(frozen=True, kw_only=True, slots=True)
class SendOptions:
    timeout: float = 10.0  # seconds for one attempt; the outbox lease is longer
    environ: Mapping[str, str] | None = None  # None: os.environ (tests pass their own)


class Sender(Protocol):
    def send(self, notification: Notification) -> Ack: ...


class ConnectorType(Protocol):
    @property
    def type_id(self) -> str: ...

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    def sender(self, connector: Connector, options: SendOptions) -> Sender: ...

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        """Problems with the connector's config as (key, message); empty when usable."""
        ...
