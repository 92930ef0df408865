"""Which notifications one execution's new alerts produce, rendered and ready to queue.

Follows Kibana's action scheduler (``task_runner/action_scheduler``):

- per-alert actions: one notification per new alert that passes ``alerts_filter``; with a
  throttle, at most one per throttle period per rule, or per group of alert field values
  (runner's ``throttle_by``);
- summary actions without a throttle (``onActiveAlert``): one notification per execution
  holding the alerts that pass the filter, none when no alert does;
- summary actions on an interval (``onThrottleInterval``): skipped while the last one is
  younger than the throttle; otherwise the alerts of the last throttle period.

Building-block alerts (EQL sequence members) are never notified on their own: the sequence's
shell alert stands for them.  Notification ids are hashes of the action and the alerts, so
queueing the same alerts twice (a retried window, a second runner) queues nothing new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import jinja2

from runner.alerts.fields import lodash_get
from runner.logs import get_logger
from runner.notify.alerts_filter import matches
from runner.notify.connectors import ConnectorType
from runner.notify.context import build_view
from runner.notify.loader import NotifyConfig
from runner.notify.model import Action, Kind, Notification
from runner.notify.render import ESCAPE_OF, Templates, render_params
from runner.rules.model import Rule


class History(Protocol):
    def last_queued(self, throttle_key: str) -> datetime | None: ...

    def alerts_since(self, rule_id: str, since: datetime) -> list[dict[str, Any]]: ...

    def enqueue(self, notifications: Sequence[Notification]) -> int: ...


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def is_shell(alert: Mapping[str, Any]) -> bool:
    return alert.get("kibana.alert.building_block_type") is None


@dataclass(kw_only=True)
class Planner:
    config: NotifyConfig
    templates: Templates
    types: Mapping[str, ConnectorType]
    history: History

    def plan(
        self, rule: Rule, alerts: Sequence[Mapping[str, Any]], *, now: datetime
    ) -> list[Notification]:
        shells = [a for a in alerts if is_shell(a)]
        # Planned but not yet committed: they throttle the rest of this plan.
        pending: dict[str, datetime] = {}
        out: list[Notification] = []
        for action in self.config.actions_for(rule.rule_id):
            try:
                if action.summary:
                    out += self._summary(action, rule, shells, now, pending)
                else:
                    out += self._per_alert(action, rule, shells, now, pending)
            except (jinja2.TemplateError, ValueError, KeyError, TypeError) as exc:
                # A broken template skips its own action, never the alerts or other actions.
                get_logger().error(
                    "notification_render_failed", rule=rule.name, action=action.uuid,
                    connector=action.connector_id, error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
        return out

    def plan_idle(self, rule: Rule, *, now: datetime) -> int:
        """An execution without new alerts: a throttled summary may still be due, covering
        alerts held back earlier (Kibana queries the throttle period, whatever this run found).
        Nothing is written with it, so it is queued on its own; returns how many were new."""
        if not any(a.summary and a.on_interval for a in self.config.actions_for(rule.rule_id)):
            return 0
        due = self.plan(rule, [], now=now)
        return self.history.enqueue(due) if due else 0

    def _throttled(
        self, key: str, action: Action, now: datetime, pending: Mapping[str, datetime]
    ) -> bool:
        assert action.throttle is not None
        last = pending.get(key) or self.history.last_queued(key)
        return last is not None and last + action.throttle > now

    def _per_alert(
        self,
        action: Action,
        rule: Rule,
        shells: Sequence[Mapping[str, Any]],
        now: datetime,
        pending: dict[str, datetime],
    ) -> list[Notification]:
        out = []
        for alert in shells:
            if not matches(action.alerts_filter, alert):
                continue
            throttle_key = None
            if action.throttle is not None:
                group = [json.dumps(lodash_get(alert, f), default=str, sort_keys=True)
                         for f in action.throttle_fields]  # fmt: skip
                throttle_key = _hash(action.uuid, rule.rule_id, *group)
                if self._throttled(throttle_key, action, now, pending):
                    continue
                pending[throttle_key] = now
            alert_id = str(alert["kibana.alert.uuid"])
            out.append(self._render(
                action, rule, [alert], "alert", now,
                notification_id=_hash(action.uuid, alert_id), idempotency_key=alert_id,
                throttle_key=throttle_key,
            ))  # fmt: skip
        return out

    def _summary(
        self,
        action: Action,
        rule: Rule,
        shells: Sequence[Mapping[str, Any]],
        now: datetime,
        pending: dict[str, datetime],
    ) -> list[Notification]:
        throttle_key = None
        alerts = list(shells)
        if action.on_interval:
            assert action.throttle is not None
            throttle_key = _hash(action.uuid, rule.rule_id, "summary")
            if self._throttled(throttle_key, action, now, pending):
                return []
            # Kibana summarises the alerts of the whole throttle period, not only this run's.
            seen = {a["kibana.alert.uuid"] for a in alerts}
            earlier = self.history.alerts_since(rule.rule_id, now - action.throttle)
            alerts += [a for a in earlier if is_shell(a) and a["kibana.alert.uuid"] not in seen]
        chosen = [a for a in alerts if matches(action.alerts_filter, a)]
        if not chosen:
            return []
        if throttle_key is not None:
            pending[throttle_key] = now
        ids = sorted(str(a["kibana.alert.uuid"]) for a in chosen)
        notification_id = _hash(action.uuid, "summary", *ids)
        return [self._render(action, rule, chosen, "summary", now,
                             notification_id=notification_id, idempotency_key=notification_id,
                             throttle_key=throttle_key)]  # fmt: skip

    def _render(
        self,
        action: Action,
        rule: Rule,
        alerts: Sequence[Mapping[str, Any]],
        kind: Kind,
        now: datetime,
        *,
        notification_id: str,
        idempotency_key: str,
        throttle_key: str | None,
    ) -> Notification:
        connector = self.config.connectors[action.connector_id]
        view = build_view(rule, alerts, now=now, kind=kind)
        params: dict[str, Any] = {}
        if not action.params or action.merge_defaults:
            params = self.types[connector.type].default_params(self.templates, kind, view)
        if action.params:
            params.update(render_params(action.params, view, ESCAPE_OF.get(connector.type, "none")))
        return Notification(
            id=notification_id, connector_id=connector.id, connector_type=connector.type,
            rule_id=rule.rule_id, rule_name=rule.name, action_uuid=action.uuid, kind=kind,
            alert_ids=tuple(str(a["kibana.alert.uuid"]) for a in alerts),
            idempotency_key=idempotency_key, params=params, queued_at=now,
            throttle_key=throttle_key,
        )  # fmt: skip
