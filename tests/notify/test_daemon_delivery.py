"""The real daemon as a subprocess: notifications survive SIGKILL and receiver outages.

Each test counts, at a real HTTP receiver on loopback, the notifications it acknowledged:
every alert's notification must arrive exactly once.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from runner.backends.embedded import EmbeddedBackend
from runner.embedded.store import Store
from runner.notify.model import OutboxCounts
from runner.notify.outbox.embedded import EmbeddedOutbox
from runner.timeutil import utcnow
from tests.daemon.procs import Processes, Workspace, emond_event, eventually
from tests.notify.factories import write_notify_files
from tests.notify.receivers import HttpReceiver


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path)
    workspace.add_seed_rule()
    return workspace


@pytest.fixture
def procs(ws: Workspace) -> Iterator[Processes]:
    with Processes(ws) as processes:
        yield processes


def counts(ws: Workspace) -> OutboxCounts:
    return EmbeddedOutbox(Store(ws.store).connect).counts()


def delivered(http: HttpReceiver) -> list[str]:
    return sorted(r.json()["alert"]["id"] for r in http.acknowledged())


def alert_ids(ws: Workspace) -> list[str]:
    return sorted(a["kibana.alert.uuid"] for a in EmbeddedBackend(Store(ws.store)).list_alerts())


def feed(ws: Workspace, entity_ids: list[str]) -> None:
    now = utcnow()
    ws.load([emond_event(e, now - timedelta(seconds=20 + i)) for i, e in enumerate(entity_ids)])


def test_sigkill_between_queueing_and_delivery_then_restart(
    ws: Workspace, procs: Processes, http: HttpReceiver
) -> None:
    write_notify_files(ws.root, http.url)
    feed(ws, ["e1", "e2", "e3"])
    ws.env["RUNNER_NOTIFY_INTERVAL"] = "1h"  # queue, but do not deliver
    first = procs.daemon("--interval", "1s")
    eventually(lambda: counts(ws).pending == 3)
    first.kill()  # SIGKILL
    assert http.received() == []
    ws.env["RUNNER_NOTIFY_INTERVAL"] = "200ms"
    second = procs.daemon("--interval", "1s")
    eventually(lambda: len(http.acknowledged()) >= 3)
    seen = len(second.events("rule_executed"))
    second.wait_event("rule_executed", count=seen + 3)  # several more rounds of both loops
    assert delivered(http) == alert_ids(ws)
    assert len(alert_ids(ws)) == 3
    assert counts(ws).sent == 3 and counts(ws).pending == 0


def test_sigkill_while_a_send_hangs_is_sent_again_after_the_lease(
    ws: Workspace, procs: Processes, http: HttpReceiver
) -> None:
    write_notify_files(ws.root, http.url)
    feed(ws, ["e1"])
    http.mode = "hang"  # the receiver never acknowledges the first attempt
    ws.env.update(RUNNER_NOTIFY_INTERVAL="200ms", RUNNER_NOTIFY_TIMEOUT="0.5")
    first = procs.daemon("--interval", "1s")
    eventually(lambda: counts(ws).pending == 1)
    first.wait_event("rule_executed", count=2)
    time.sleep(0.3)  # the delivery round is now inside the hanging request
    first.kill()
    assert not first.events("notification_sent")
    http.mode = "ok"
    procs.daemon("--interval", "1s")
    eventually(lambda: len(http.acknowledged()) >= 1, timeout=40)
    time.sleep(1.0)
    assert delivered(http) == alert_ids(ws)
    assert counts(ws).sent == 1


def test_receiver_down_for_several_intervals_then_everything_arrives_once(
    ws: Workspace, procs: Processes, http: HttpReceiver
) -> None:
    write_notify_files(ws.root, http.url)
    http.mode = 500
    ws.env.update(RUNNER_NOTIFY_INTERVAL="200ms", RUNNER_NOTIFY_RETRY_BASE="200ms",
                  RUNNER_NOTIFY_RETRY_MAX="500ms")  # fmt: skip
    feed(ws, ["e1", "e2"])
    daemon = procs.daemon("--interval", "1s", "--metrics-port", "0")
    eventually(lambda: len(daemon.events("notification_retry")) >= 8)
    seen = len(daemon.events("rule_executed"))
    daemon.wait_event("rule_executed", count=seen + 3)  # down for several daemon intervals
    feed(ws, ["e3"])  # alerts keep coming during the outage
    eventually(lambda: counts(ws).pending == 3)
    assert counts(ws).retrying >= 2 and "HTTP 500" in counts(ws).last_error
    status = ws.cli("status")
    assert "notifications: 3 pending" in status.stdout, status.stdout
    assert "HTTP 500" in status.stdout
    port = daemon.wait_event("metrics_listening")["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    # (after the daemon="<name>" label every series carries)
    assert 'runner_notifications_total{daemon="' in metrics
    assert ',connector="hook",result="retry"}' in metrics
    daemon_label = daemon.events("daemon_started")[0]["daemon"]
    retrying = f'runner_outbox_retrying{{daemon="{daemon_label}"}}'
    assert f"{retrying} 3\n" in metrics or f"{retrying} 2\n" in metrics
    http.mode = "ok"
    eventually(lambda: len(http.acknowledged()) >= 3)
    seen = len(daemon.events("rule_executed"))
    daemon.wait_event("rule_executed", count=seen + 2)
    assert delivered(http) == alert_ids(ws)
    assert len(alert_ids(ws)) == 3
    assert counts(ws).sent == 3


def test_sighup_reloads_connectors_and_actions(
    ws: Workspace, procs: Processes, http: HttpReceiver
) -> None:
    ws.env["RUNNER_NOTIFY_INTERVAL"] = "200ms"
    daemon = procs.daemon("--interval", "1s")
    daemon.wait_event("rule_executed")
    write_notify_files(ws.root, http.url)  # added while the daemon runs
    daemon.send(signal.SIGHUP)
    daemon.wait_event("rules_reloaded")
    feed(ws, ["e1"])
    eventually(lambda: len(http.acknowledged()) >= 1)
    assert delivered(http) == alert_ids(ws)
