"""Frequency, throttle, summaries and alerts_filter, as Kibana's action scheduler applies them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner.notify.connectors import connector_types
from runner.notify.loader import load_notify_config
from runner.notify.planner import Planner
from runner.notify.render import Templates
from tests.notify.factories import NOW, alert, emond_rule


class History:
    """The outbox's throttle record and the alert store, in memory."""

    def __init__(self) -> None:
        self.queued: dict[str, datetime] = {}
        self.alerts: list[dict[str, Any]] = []
        self.idle: list[Any] = []  # queued by plan_idle

    def last_queued(self, throttle_key: str) -> datetime | None:
        return self.queued.get(throttle_key)

    def alerts_since(self, rule_id: str, since: datetime) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["@timestamp"] >= since.isoformat()[:19]]

    def enqueue(self, notifications: Any) -> int:
        for n in notifications:
            if n.throttle_key:
                self.queued[n.throttle_key] = n.queued_at
        self.idle += notifications
        return len(notifications)


def planner(tmp_path: Path, actions: str) -> tuple[Planner, History]:
    (tmp_path / "c").mkdir(exist_ok=True)
    (tmp_path / "c" / "c.toml").write_text(
        '[[connector]]\nid = "out"\ntype = ".file"\npath = "-"\n'
    )
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "a" / "a.toml").write_text(actions)
    config = load_notify_config([tmp_path / "c", tmp_path / "a"])
    assert not config.errors, config.errors
    history = History()
    return Planner(config=config, templates=Templates(), types=connector_types(),
                   history=history), history  # fmt: skip


def run(p: Planner, h: History, alerts: list[dict[str, Any]], now: datetime) -> list[Any]:
    """Plan, then commit: what is queued becomes the throttle record, alerts are stored."""
    planned = p.plan(emond_rule(), alerts, now=now)
    for n in planned:
        if n.throttle_key:
            h.queued[n.throttle_key] = n.queued_at
    h.alerts += alerts
    return planned


def test_per_alert_one_notification_per_shell_alert(tmp_path: Path) -> None:
    p, h = planner(tmp_path, '[[action]]\nconnector = "out"\n')
    block = alert("bb", **{"kibana.alert.building_block_type": "default"})
    planned = run(p, h, [alert("a1"), alert("a2"), block], NOW)
    assert [n.alert_ids for n in planned] == [("a1",), ("a2",)]
    assert [n.idempotency_key for n in planned] == ["a1", "a2"]
    again = p.plan(emond_rule(), [alert("a1")], now=NOW + timedelta(minutes=5))
    assert again[0].id == planned[0].id  # same action and alert: same outbox id


def test_plain_form_params_add_to_the_template(tmp_path: Path) -> None:
    p, _ = planner(tmp_path, '[[action]]\nconnector = "out"\nparams = { channel = "#soc" }\n')
    [n] = p.plan(emond_rule(), [alert("a1")], now=NOW)
    assert n.params["channel"] == "#soc"
    assert "Suspicious Emond Child Process" in n.params["message"]  # from the template


def test_summary_per_execution(tmp_path: Path) -> None:
    p, h = planner(tmp_path, '[[action]]\nconnector = "out"\nfrequency = "summary"\n')
    [n] = run(p, h, [alert("a1"), alert("a2"), alert("a3")], NOW)
    assert n.kind == "summary" and n.alert_ids == ("a1", "a2", "a3")
    assert len(n.params["alerts"]) == 3
    assert "3 new alert(s)" in n.params["message"]
    assert run(p, h, [], NOW + timedelta(minutes=5)) == []  # no alert: no summary


def test_throttle_per_rule_counts(tmp_path: Path) -> None:
    p, h = planner(tmp_path, '[[action]]\nconnector = "out"\nthrottle = "1h"\n')
    sent = []
    for minute in range(0, 150, 10):  # an alert every 10 minutes for 2.5 hours
        sent += run(p, h, [alert(f"a{minute}")], NOW + timedelta(minutes=minute))
    # at 0, 60 and 120 minutes: at most one per hour
    assert [n.alert_ids[0] for n in sent] == ["a0", "a60", "a120"]


def test_throttle_per_group_of_fields(tmp_path: Path) -> None:
    p, h = planner(
        tmp_path, '[[action]]\nconnector = "out"\nthrottle = "1h"\nthrottle_by = ["host.name"]\n'
    )
    first = run(p, h, [alert("a1", host="m1"), alert("a2", host="m1"), alert("a3", host="m2")],
                NOW)  # fmt: skip
    assert [n.alert_ids[0] for n in first] == ["a1", "a3"]
    later = run(p, h, [alert("a4", host="m1"), alert("a5", host="m3")], NOW + timedelta(minutes=30))
    assert [n.alert_ids[0] for n in later] == ["a5"]
    after = run(p, h, [alert("a6", host="m1")], NOW + timedelta(minutes=61))
    assert [n.alert_ids[0] for n in after] == ["a6"]


def test_throttled_summary_covers_the_whole_period(tmp_path: Path) -> None:
    p, h = planner(tmp_path, (
        '[metadata]\nrule_id = ["3e3d15c6-1509-479a-b125-21718372157e"]\n'
        '[[actions]]\naction_type_id = ".file"\ngroup = "default"\nid = "out"\n'
        '[actions.params]\nmessage = "{{context.rule.name}}: {{alerts.all.count}}"\n'
        '[actions.frequency]\nsummary = true\nnotifyWhen = "onThrottleInterval"\n'
        'throttle = "1h"\n'
    ))  # fmt: skip
    [first] = run(p, h, [alert("a1", when="2024-05-01T11:59:00")], NOW)
    assert first.params["message"] == "Suspicious Emond Child Process: 1"
    skipped = run(p, h, [alert("a2", when="2024-05-01T12:20:00")], NOW + timedelta(minutes=20))
    assert skipped == []  # throttled
    [n] = run(p, h, [alert("a3", when="2024-05-01T13:05:00")], NOW + timedelta(minutes=65))
    # Kibana summarises the alerts of the throttle period: a2 was never notified alone.
    assert sorted(n.alert_ids) == ["a2", "a3"]


def test_alerts_filter_kql_and_timeframe(tmp_path: Path) -> None:
    p, _ = planner(tmp_path, (
        '[metadata]\nrule_id = ["*"]\n'
        '[[actions]]\naction_type_id = ".file"\ngroup = "default"\nid = "out"\n'
        '[actions.params]\nmessage = "{{alert.id}}"\n'
        '[actions.frequency]\nsummary = false\nnotifyWhen = "onActiveAlert"\n'
        '[actions.alerts_filter.query]\nkql = "host.name: mac-* and not user.name: admin"\n'
        'filters = []\n'
        '[actions.alerts_filter.timeframe]\ndays = [1, 2, 3, 4, 5]\ntimezone = "Europe/Paris"\n'
        'hours = { start = "08:00", end = "18:00" }\n'
    ))  # fmt: skip
    alerts = [
        alert("in", when="2024-05-01T10:00:00Z"),  # Wednesday 12:00 in Paris
        alert("admin", when="2024-05-01T10:00:00Z", user={"name": "admin"}),
        alert("linux", host="srv-1", when="2024-05-01T10:00:00Z"),
        alert("night", when="2024-05-01T17:30:00Z"),  # 19:30 in Paris
        alert("sunday", when="2024-05-05T10:00:00Z"),
    ]
    planned = p.plan(emond_rule(), alerts, now=NOW)
    assert [n.params["message"] for n in planned] == ["in"]


def test_a_broken_template_skips_only_its_action(tmp_path: Path) -> None:
    user = tmp_path / "templates" / "file"
    user.mkdir(parents=True)
    (user / "alert.j2").write_text("{{ context.rule.name | no_such_filter }}")
    p, _ = planner(tmp_path, (
        '[metadata]\nrule_id = ["*"]\n'
        '[[action]]\nconnector = "out"\n\n'  # the broken default template
        '[[actions]]\naction_type_id = ".file"\nid = "out"\n'  # Kibana params: no template
        '[actions.params]\nmessage = "{{context.rule.name}}"\n'
    ))  # fmt: skip
    p.templates = Templates(tmp_path / "templates")
    planned = p.plan(emond_rule(), [alert("a1")], now=NOW)
    assert [n.params["message"] for n in planned] == ["Suspicious Emond Child Process"]
