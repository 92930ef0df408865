"""Values of notifications: connectors, rule actions, and the outbox entries they produce.

Connectors and actions mirror Kibana's (as elastic/detection-rules stores them in
``action_connectors/`` and ``actions/``); an outbox entry is one rendered notification, the
unit that is queued with its alerts, claimed, delivered and marked sent exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

# Kibana's RuleNotifyWhenTypeValues.
NotifyWhen = Literal["onActionGroupChange", "onActiveAlert", "onThrottleInterval"]
Kind = Literal["alert", "summary"]
OutboxStatus = Literal["pending", "sent", "failed"]

CONNECTOR_TYPES = (
    ".webhook",
    ".slack",
    ".teams",
    ".email",
    ".pagerduty",
    ".server-log",
    ".index",
    ".file",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Secret:
    """Where a secret comes from; the value is read only when a notification is sent."""

    env: str | None = None
    file: str | None = None

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Connector:
    """One configured receiver (Kibana's action connector saved object)."""

    id: str
    name: str
    type: str  # actionTypeId: .webhook, .slack, ...
    config: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict, repr=False)
    source: str = ""  # file it came from, for errors


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertsFilter:
    """Kibana's ``alerts_filter``: a KQL query over the alerts and a time-of-day frame."""

    kql: str | None = None
    days: tuple[int, ...] = ()  # ISO weekdays 1 (Monday) .. 7; empty: every day
    hours_start: str | None = None  # "HH:MM"
    hours_end: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True, kw_only=True, slots=True)
class Action:
    """One rule action: a connector, rendered params, how often, for which alerts."""

    rule_ids: tuple[str, ...]  # "*" matches every rule
    connector_id: str
    action_type_id: str
    group: str = "default"
    params: Mapping[str, Any] | None = None  # None: runner's own template for the type
    # runner's plain form: ``params`` only add to (or replace keys of) the template's params
    merge_defaults: bool = False
    summary: bool = False
    notify_when: NotifyWhen = "onActiveAlert"
    throttle: timedelta | None = None
    throttle_fields: tuple[str, ...] = ()  # runner extension: throttle per group of values
    alerts_filter: AlertsFilter | None = None
    uuid: str = ""  # stable identity (file, position): keys throttling and outbox ids
    source: str = ""

    def applies_to(self, rule_id: str) -> bool:
        return "*" in self.rule_ids or rule_id in self.rule_ids

    @property
    def on_interval(self) -> bool:
        """Kibana's isActionOnInterval: throttled."""
        return self.notify_when == "onThrottleInterval" and self.throttle is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    """One rendered notification, as queued in the outbox."""

    id: str  # deterministic: the same alerts and action always give the same id
    connector_id: str
    connector_type: str
    rule_id: str
    rule_name: str
    action_uuid: str
    kind: Kind
    alert_ids: tuple[str, ...]
    idempotency_key: str  # PagerDuty dedup_key, webhook Idempotency-Key, e-mail Message-ID
    params: Mapping[str, Any]  # rendered connector params
    queued_at: datetime
    throttle_key: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxItem:
    """A notification with its delivery state."""

    notification: Notification
    status: OutboxStatus = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    version: tuple[int, int] = (0, 0)  # (seq_no, primary_term) on a cluster; a counter in DuckDB


@dataclass(frozen=True, kw_only=True, slots=True)
class Ack:
    """What the receiver answered: delivery is only recorded on one."""

    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxCounts:
    pending: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0  # pending with at least one failed attempt
    last_error: str = ""
    last_error_connector: str = ""


# Given the ids of the alerts a write is about to create, the notifications to queue with them
# (called inside the write, so both are committed together).
NotifyHook = Callable[[Sequence[str]], Sequence[Notification]]
