"""``runner status``: the per-rule report, from what executions persisted."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from runner.cli.daemon_cmd import print_status
from runner.daemon.status import collect_status
from runner.execution.model import ExecutionRecord, Gap, RuleState
from tests.daemon.fakes import MemoryBackend
from tests.helpers import make_rule

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
A = make_rule(rule_id="id-a", name="Rule A", interval="5m")
B = replace(make_rule(rule_id="id-b", name="Rule B"), path=A.path.with_name("rule_b.toml"))
OFF = replace(
    make_rule(rule_id="id-off", name="Off"), path=A.path.with_name("off.toml"), enabled=False
)


def execution(
    rule_id: str, started: datetime, status: str = "succeeded", message: str = ""
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"{rule_id}-{started.isoformat()}", rule_id=rule_id, rule_name=rule_id,
        started_at=started, ended_at=started + timedelta(seconds=1),
        window_start=started - timedelta(minutes=9), window_end=started,
        status=status, message=message,  # type: ignore[arg-type]
    )  # fmt: skip


def alert(rule_id: str, when: datetime, building_block: bool = False) -> dict[str, object]:
    doc: dict[str, object] = {
        "kibana.alert.uuid": f"{rule_id}{when}{building_block}",
        "kibana.alert.rule.rule_id": rule_id,
        "@timestamp": when.isoformat(),
    }
    if building_block:
        doc["kibana.alert.building_block_type"] = "default"
    return doc


def backend() -> MemoryBackend:
    store = MemoryBackend()
    store.executions += [
        execution("id-a", NOW - timedelta(minutes=12)),
        execution("id-a", NOW - timedelta(minutes=2), "failed", "cluster unavailable"),
    ]
    store.states["id-a"] = RuleState(rule_id="id-a", last_start=NOW - timedelta(minutes=7))
    for doc in (
        alert("id-a", NOW - timedelta(hours=1)),
        alert("id-a", NOW - timedelta(hours=1), building_block=True),
        alert("id-a", NOW - timedelta(hours=30)),
    ):
        store.alerts[str(doc["kibana.alert.uuid"])] = doc
    store.record_gap(
        Gap(rule_id="id-b", start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=2))
    )
    return store


def test_collect_status() -> None:
    a, b, off = collect_status([A, B, OFF], backend(), NOW)
    assert a.last is not None and a.last.status == "failed"
    assert a.last.message == "cluster unavailable"
    # Next run: the latest of state and execution starts, plus the interval.
    assert a.next_run == NOW - timedelta(minutes=2) + timedelta(minutes=5)
    assert a.alerts_24h == 1 and a.gaps == ()
    assert b.last is None and b.next_run is None and b.gap_seconds == 3600
    assert not off.enabled and off.next_run is None
    assert not a.overdue(NOW) and a.overdue(NOW + timedelta(minutes=10))
    data = b.as_json()
    assert data["open_gaps"] == [
        {"from": "2024-05-01T09:00:00.000Z", "to": "2024-05-01T10:00:00.000Z", "seconds": 3600.0}
    ]
    json.dumps(a.as_json())


def test_print_status_shows_gaps_with_the_backfill_command() -> None:
    out = io.StringIO()
    print_status(collect_status([A, B, OFF], backend(), NOW), NOW, out)
    text = out.getvalue()
    header = text.splitlines()[0]
    for column in (
        "rule",
        "enabled",
        "interval",
        "last run",
        "status",
        "next run",
        "alerts 24h",
        "gaps",
    ):
        assert column in header
    assert "cluster unavailable" in text and "1 (1h)" in text and "never" in text
    assert (
        "runner backfill --rule rule_b --from 2024-05-01T09:00:00.000Z "
        "--to 2024-05-01T10:00:00.000Z" in text
    )


def test_the_interval_a_daemon_ran_the_rule_at_is_the_one_shown() -> None:
    store = backend()
    last = replace(store.executions[-1], extra={"interval": "1m"})
    store.executions[-1] = last
    (a,) = collect_status([A], store, NOW)
    assert a.interval == timedelta(minutes=1)
    assert a.next_run == NOW - timedelta(minutes=1)
    # Overdue one interval after its next run: at 12:00 with 1m, not with the rule's 5m.
    assert a.overdue(NOW + timedelta(seconds=1)) and not a.overdue(NOW - timedelta(seconds=1))
    # An unreadable record falls back to the rule's own interval; an explicit one wins.
    store.executions[-1] = replace(last, extra={"interval": "soon"})
    assert collect_status([A], store, NOW)[0].interval == timedelta(minutes=5)
    store.executions[-1] = last
    assert collect_status([A], store, NOW, interval=timedelta(hours=1))[0].interval == (
        timedelta(hours=1)
    )
