"""The real daemon as a subprocess on an embedded store, with 1s intervals.

Events are fed with ``runner events load`` while the daemon runs (the normal way to feed it,
which also shows the daemon does not lock the store between executions).  Downtime is
simulated honestly: the daemon uses the wall clock, so the rule's persisted run state is set
back (``covered_to`` 20 minutes or an hour ago) before it starts.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from runner.execution.model import RuleState
from runner.timeutil import utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import Processes, Workspace, emond_event, eventually
from tests.helpers import write_rule

try:
    from runner.backends.embedded import EmbeddedBackend
    from runner.embedded.store import Store
except ImportError as missing:  # the embedded backend is being written alongside
    pytest.skip(f"embedded backend not importable: {missing}", allow_module_level=True)

EMOND = "3e3d15c6-1509-479a-b125-21718372157e"
BROKEN = "id-broken"


@pytest.fixture
def ws(tmp_path: Any) -> Workspace:
    workspace = Workspace(tmp_path)
    shutil.copy(SEED_RULES / "emond_child_process.toml", workspace.rules)
    return workspace


@pytest.fixture
def procs(ws: Workspace) -> Iterator[Processes]:
    processes = Processes(ws)
    yield processes
    processes.close()


def backend(ws: Workspace) -> EmbeddedBackend:
    return EmbeddedBackend(Store(ws.store))


def alerted(ws: Workspace, rule_id: str = EMOND) -> list[str]:
    """The ``process.entity_id`` of every alert of the rule, sorted (repeats kept)."""
    found = []
    for alert in backend(ws).list_alerts(rule_ids=[rule_id]):
        process = alert.get("process")
        found.append(
            process["entity_id"] if isinstance(process, dict) else alert["process.entity_id"]
        )
    return sorted(found)


def test_events_added_between_runs_alert_exactly_once(ws: Workspace, procs: Processes) -> None:
    now = utcnow()
    ws.load(
        [
            emond_event("e1", now - timedelta(seconds=30)),
            emond_event("e2", now - timedelta(seconds=20)),
        ]
    )
    daemon = procs.daemon("--interval", "1s", "--metrics-port", "0")
    eventually(lambda: alerted(ws) == ["e1", "e2"])
    ws.load([emond_event("e3", utcnow() - timedelta(seconds=1))])  # while the daemon runs
    eventually(lambda: alerted(ws) == ["e1", "e2", "e3"])
    seen = len(daemon.events("rule_executed"))
    daemon.wait_event("rule_executed", count=seen + 2)
    assert alerted(ws) == ["e1", "e2", "e3"]  # re-found every second, written once
    lines = daemon.events("rule_executed")
    assert all(line["status"] == "succeeded" for line in lines)
    assert sum(line["alerts_created"] for line in lines) == 3
    assert (
        lines[-1]["duplicates"] == 3 and lines[-1]["window_from"] and lines[-1]["duration_ms"] >= 0
    )

    port = daemon.wait_event("metrics_listening")["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    # Every series carries the daemon's name (hostname-pid unless configured).
    daemon_label = f'daemon="{daemon.events("daemon_started")[0]["daemon"]}"'
    labels = f'{daemon_label},rule_id="{EMOND}",rule_name="Suspicious Emond Child Process"'
    assert f"runner_alerts_created_total{{{labels}}} 3\n" in metrics
    assert f'runner_executions_total{{{labels},status="succeeded"}}' in metrics
    assert f"runner_rules_scheduled{{{daemon_label}}} 1\n" in metrics
    assert f"runner_leases_owned{{{daemon_label}}} 1\n" in metrics
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0


def test_a_failing_rule_fails_alone_until_fixed_and_reloaded(
    ws: Workspace, procs: Processes
) -> None:
    # A query the engine rejects at every execution (Elasticsearch rejects the pattern too).
    write_rule(ws.rules, "broken", rule_id=BROKEN, name="Broken",
               query='process where process.name regex "[unclosed"')  # fmt: skip
    ws.load([emond_event("e1", utcnow() - timedelta(seconds=10))])
    daemon = procs.daemon("--interval", "1s")
    daemon.wait_event("rule_executed", count=3, rule_id=BROKEN, status="failed")
    daemon.wait_event("rule_executed", count=3, rule_id=EMOND, status="succeeded")
    assert alerted(ws) == ["e1"]
    failures = [line["message"] for line in daemon.events("rule_executed", rule_id=BROKEN)]
    assert any("invalid regular expression" in message for message in failures)

    status = ws.cli("status")
    assert status.returncode == 0
    row = next(line for line in status.stdout.splitlines() if line.startswith("broken"))
    assert "failed" in row and "invalid regular expression" in row

    write_rule(ws.rules, "broken", rule_id=BROKEN, name="Broken",
               query='process where process.name == "bash"')  # fmt: skip
    daemon.send(signal.SIGHUP)
    daemon.wait_event("rules_reloaded", reason="SIGHUP")
    daemon.wait_event("rule_executed", rule_id=BROKEN, status="succeeded")
    assert alerted(ws, BROKEN) == ["e1"]
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0


def test_sigterm_during_an_execution_lets_it_finish_and_exits_0(
    ws: Workspace, procs: Processes
) -> None:
    ws.load([emond_event("e1", utcnow() - timedelta(seconds=5))])
    daemon = procs.daemon("--interval", "1s", "--grace", "5s")
    daemon.wait_event("rule_executed")
    daemon.wait_event("rule_execution_started", count=2)
    stopped = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert time.monotonic() - stopped < 5  # within the grace period
    assert daemon.events("daemon_stopped") == [daemon.events("daemon_stopped")[0]]
    assert daemon.events("daemon_stopped")[0]["interrupted"] == 0
    records = backend(ws).list_executions(rule_ids=[EMOND])
    assert len(records) == len(daemon.events("rule_execution_started"))  # none left unfinished
    assert all(r.status == "succeeded" for r in records)


def test_sigkill_during_an_execution_then_restart_misses_nothing_and_duplicates_nothing(
    ws: Workspace, procs: Processes
) -> None:
    now = utcnow()
    ws.load([emond_event(f"e{i}", now - timedelta(seconds=60 - i)) for i in range(1, 4)])
    first = procs.daemon("--interval", "1s")
    first.wait_event("rule_execution_started")
    first.proc.kill()  # SIGKILL, as soon as the first execution starts
    assert first.wait(10) == -signal.SIGKILL
    assert backend(ws).list_executions() == []  # killed before the execution was recorded
    ws.load([emond_event("e4", utcnow() - timedelta(seconds=2)), emond_event("e5", utcnow())])
    second = procs.daemon("--interval", "1s")
    eventually(lambda: alerted(ws) == ["e1", "e2", "e3", "e4", "e5"])
    second.wait_event("rule_executed", count=len(second.events("rule_executed")) + 2)
    assert alerted(ws) == ["e1", "e2", "e3", "e4", "e5"]
    second.send(signal.SIGTERM)
    assert second.wait(10) == 0


def test_a_stop_of_twenty_minutes_is_caught_up_in_extra_windows(
    ws: Workspace, procs: Processes
) -> None:
    now = utcnow()
    backend(ws).save_state(RuleState(rule_id=EMOND, last_start=now - timedelta(minutes=20),
                                     covered_to=now - timedelta(minutes=20)))  # fmt: skip
    # Only a catch-up window covers 18 minutes ago (the main window is the last 9 minutes).
    ws.load([emond_event("old", now - timedelta(minutes=18)), emond_event("new", now)])
    daemon = procs.daemon("--interval", "1s")
    line = daemon.wait_event("rule_executed")
    assert (line["status"], line["windows"], line["catch_up_windows"]) == ("succeeded", 4, 3)
    assert alerted(ws) == ["new", "old"]
    assert backend(ws).open_gaps(EMOND) == []
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0


def test_an_hour_long_stop_reports_a_gap_that_backfill_closes_while_the_daemon_runs(
    ws: Workspace, procs: Processes
) -> None:
    now = utcnow()
    backend(ws).save_state(RuleState(rule_id=EMOND, last_start=now - timedelta(hours=1),
                                     covered_to=now - timedelta(hours=1)))  # fmt: skip
    ws.load([emond_event("in-gap", now - timedelta(minutes=45)), emond_event("recent", now)])
    daemon = procs.daemon("--interval", "1s")
    line = daemon.wait_event("rule_executed")
    assert line["status"] == "failed" and line["catch_up_windows"] == 4
    assert 31 * 60 - 10 < line["gap_seconds"] < 31 * 60 + 10  # 1h - 9m - 4 x 5m
    assert alerted(ws) == ["recent"]

    shown = ws.cli("status")
    assert (
        "open gaps" in shown.stdout and "runner backfill --rule emond_child_process" in shown.stdout
    )
    [status] = [json.loads(x) for x in ws.cli("status", "--json").stdout.splitlines()]
    [gap] = status["open_gaps"]
    assert status["interval"] == "1s"  # what the daemon runs it at, not the rule's 5m

    filled = ws.cli(
        "backfill", "--rule", "emond_child_process", "--from", gap["from"], "--to", gap["to"]
    )
    assert filled.returncode == 0, filled.stderr
    assert "1 alert(s) created" in filled.stdout and "gap filled" in filled.stdout
    assert alerted(ws) == ["in-gap", "recent"]
    [status] = [json.loads(x) for x in ws.cli("status", "--json").stdout.splitlines()]
    assert status["open_gaps"] == []

    again = ws.cli(
        "backfill",
        "--rule",
        "emond_child_process",
        "--from",
        gap["from"],
        "--to",
        gap["to"],
        "--json",
    )
    summary = json.loads(again.stdout)
    assert (summary["alerts_created"], summary["duplicates"]) == (0, 1)
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert alerted(ws) == ["in-gap", "recent"]
