"""``runner notify ...`` and ``runner once`` with actions, through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.timeutil import utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import Workspace, emond_event
from tests.notify.receivers import HttpReceiver, free_port

SECRET = "xoxb-SECRET-9f8e7d"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path)
    shutil.copy(SEED_RULES / "emond_child_process.toml", workspace.rules)
    return workspace


def connectors(ws: Workspace, http: HttpReceiver) -> None:
    folder = ws.root / "action_connectors"
    folder.mkdir()
    (folder / "c.toml").write_text(
        '[[connector]]\nid = "chat"\ntype = ".slack"\n'
        '[connector.secrets]\nwebhookUrl = { env = "CHAT_HOOK" }\n\n'
        f'[[connector]]\nid = "hook"\ntype = ".webhook"\nurl = "{http.url}/in"\n'
    )
    ws.env["CHAT_HOOK"] = f"{http.url}/services/{SECRET}"


def test_notify_test_sends_a_sample_and_keeps_the_secret_out(
    ws: Workspace, http: HttpReceiver
) -> None:
    connectors(ws, http)
    done = ws.cli("notify", "test", "--connector", "chat")
    assert done.returncode == 0, done.stderr
    assert "delivered to chat (.slack)" in done.stdout
    [request] = http.acknowledged()
    assert SECRET in request.path  # the secret was used ...
    assert "runner notify test" in request.json()["text"] or "emond" in request.json()["text"]
    http.mode = 500
    failed = ws.cli("notify", "test", "--connector", "chat")
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    for output in (done.stdout, done.stderr, failed.stdout, failed.stderr):
        assert SECRET not in output  # ... and never shown


def test_notify_test_unknown_connector_and_unset_secret(ws: Workspace, http: HttpReceiver) -> None:
    connectors(ws, http)
    unknown = ws.cli("notify", "test", "--connector", "nope")
    assert unknown.returncode == 2 and "no connector 'nope' (known: chat, hook)" in unknown.stderr
    del ws.env["CHAT_HOOK"]
    unset = ws.cli("notify", "test", "--connector", "chat")
    assert (
        unset.returncode == 1 and "secret 'webhookUrl' is not set (env CHAT_HOOK)" in unset.stderr
    )


def test_notify_list_shows_where_secrets_come_from(ws: Workspace, http: HttpReceiver) -> None:
    connectors(ws, http)
    (ws.root / "actions").mkdir()
    (ws.root / "actions" / "a.toml").write_text(
        '[[action]]\nconnector = "hook"\nfrequency = "summary"\nthrottle = "1h"\n'
    )
    done = ws.cli("notify", "list")
    assert done.returncode == 0, done.stderr
    assert "webhookUrl (env CHAT_HOOK)" in done.stdout
    assert SECRET not in done.stdout
    assert "summary" in done.stdout and "1h" in done.stdout


def test_once_queues_and_delivers_then_status(ws: Workspace, http: HttpReceiver) -> None:
    connectors(ws, http)
    (ws.root / "actions").mkdir()
    (ws.root / "actions" / "a.toml").write_text('[[action]]\nconnector = "hook"\n')
    now = utcnow()
    ws.load([emond_event("e1", now), emond_event("e2", now)])
    done = ws.cli("once", "--rule", "emond", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0])["alerts_created"] == 2
    assert "notifications: 2 sent, 0 waiting" in done.stderr
    assert sorted(r.json()["alert"]["process"] for r in http.acknowledged()) == ["bash", "bash"]
    status = ws.cli("notify", "status", "--json")
    assert json.loads(status.stdout)["sent"] == 2


def test_once_with_the_receiver_down_leaves_them_queued(ws: Workspace) -> None:
    (ws.root / "action_connectors").mkdir()
    (ws.root / "action_connectors" / "c.toml").write_text(
        f'[[connector]]\nid = "hook"\ntype = ".webhook"\nurl = "http://127.0.0.1:{free_port()}/"\n'
    )
    (ws.root / "actions").mkdir()
    (ws.root / "actions" / "a.toml").write_text('[[action]]\nconnector = "hook"\n')
    ws.load([emond_event("e1", utcnow())])
    done = ws.cli("once", "--rule", "emond")
    assert "notifications: 0 sent, 1 waiting" in done.stderr
    status = ws.cli("notify", "status")
    assert "1 pending (1 retrying)" in status.stdout
    assert "hook" in status.stdout
