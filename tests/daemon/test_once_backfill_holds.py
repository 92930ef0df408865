"""``runner once`` and ``runner backfill`` run beside a daemon but never at the same time as
its execution of the same rule: while the rule's hold is taken (here by the test, standing in
for the daemon's execution), they wait, and they finish once it is released."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from runner.daemon.leases_local import LocalLeases
from runner.timeutil import isoformat, utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import Workspace, emond_event

EMOND = "3e3d15c6-1509-479a-b125-21718372157e"


@pytest.mark.parametrize("command", ["once", "backfill"])
def test_once_and_backfill_wait_for_the_daemon_s_execution_of_the_rule(
    tmp_path: Path, command: str
) -> None:
    workspace = Workspace(tmp_path)
    (workspace.rules / "emond.toml").write_text(
        (SEED_RULES / "emond_child_process.toml").read_text()
    )
    now = utcnow()
    workspace.load([emond_event("e1", now - timedelta(minutes=2))])
    args = (
        ["once", "--rule", "emond"]
        if command == "once"
        else ["backfill", "--rule", "emond", "--from", isoformat(now - timedelta(minutes=10)),
              "--to", isoformat(now)]
    )  # fmt: skip
    daemon = LocalLeases(workspace.store, name="the-daemon")
    with daemon.hold(EMOND, wait=timedelta(0), ttl=timedelta(minutes=1)):
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner", *args], cwd=tmp_path, env=workspace.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # However long we wait here, it cannot finish: the rule is held.
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(3)
        except BaseException:
            proc.kill()
            raise
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    alerts = workspace.cli("alerts", "list")  # it ran once released: the event alerted
    assert "Emond" in alerts.stdout, (out, alerts.stdout)
