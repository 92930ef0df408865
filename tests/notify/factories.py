"""Rules, alerts and notifications for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.notify.context import build_view
from runner.notify.model import Connector, Kind, Notification, Secret
from runner.notify.render import Templates
from runner.rules.loader import load_rule_file
from runner.rules.model import Rule
from tests.conftest import SEED_RULES

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def emond_rule() -> Rule:
    rule, errors = load_rule_file(SEED_RULES / "emond_child_process.toml")
    assert isinstance(rule, Rule), errors
    return rule


def alert(alert_id: str, *, host: str = "mac-01", when: str = "2024-05-01T11:58:00.000Z",
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {
        "@timestamp": when,
        "kibana.alert.uuid": alert_id,
        "kibana.alert.rule.rule_id": emond_rule().rule_id,
        "kibana.alert.rule.name": "Suspicious Emond Child Process",
        "kibana.alert.severity": "medium",
        "kibana.alert.reason": f"process event with process bash, parent process emond, by root "
                               f"on {host} created medium alert Suspicious Emond Child Process.",
        "host": {"name": host}, "user": {"name": "root"},
        "process": {"name": "bash", "command_line": "bash -c id", "parent": {"name": "emond"}},
    }  # fmt: skip
    doc.update(extra)
    return doc


def connector(type_: str, connector_id: str = "c1", secrets: dict[str, str] | None = None,
              **config: Any) -> Connector:  # fmt: skip
    return Connector(id=connector_id, name=connector_id, type=type_, config=config,
                     secrets={k: Secret(env=v) for k, v in (secrets or {}).items()})  # fmt: skip


def notification(connector_type: str, *, kind: Kind = "alert", alerts: list[dict[str, Any]]
                 | None = None, templates: Templates | None = None) -> Notification:  # fmt: skip
    from runner.notify.connectors import connector_types

    docs = alerts or [alert("a-1")]
    view = build_view(emond_rule(), docs, now=NOW, kind=kind)
    params = connector_types()[connector_type].default_params(templates or Templates(), kind, view)
    return Notification(
        id="n" * 64, connector_id="c1", connector_type=connector_type,
        rule_id=emond_rule().rule_id, rule_name=emond_rule().name, action_uuid="a#0", kind=kind,
        alert_ids=tuple(d["kibana.alert.uuid"] for d in docs),
        idempotency_key=docs[0]["kibana.alert.uuid"] if kind == "alert" else "n" * 64,
        params=params, queued_at=NOW,
    )  # fmt: skip


def write_notify_files(root: Path, url: str, *, frequency: str = "per_alert",
                       extra: str = "") -> None:  # fmt: skip
    (root / "action_connectors").mkdir(exist_ok=True)
    (root / "actions").mkdir(exist_ok=True)
    (root / "action_connectors" / "hook.toml").write_text(
        f'[[connector]]\nid = "hook"\ntype = ".webhook"\nurl = "{url}"\n'
    )
    (root / "actions" / "emond.toml").write_text(
        f'[[action]]\nrules = ["*"]\nconnector = "hook"\nfrequency = "{frequency}"\n{extra}'
    )
