"""A running daemon picks up exception files (``--watch`` / SIGHUP) and value list changes
(read at every execution) without a restart."""

from __future__ import annotations

import shutil
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.backends.embedded import EmbeddedBackend
from runner.embedded.store import Store
from runner.timeutil import utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import Processes, Workspace, emond_event

EMOND = "3e3d15c6-1509-479a-b125-21718372157e"

EXCEPTIONS = f"""
[metadata]
creation_date = "2024/05/01"
list_name = "daemon test"
rule_ids = ["{EMOND}"]
rule_names = []
updated_date = "2024/05/01"

[[exceptions]]
[exceptions.container]
description = ""
list_id = "daemon-test"
name = "daemon test"
namespace_type = "single"
tags = []
type = "detection"

[[exceptions.items]]
item_id = "no-curl"
list_id = "daemon-test"
name = "curl is fine"
entries = [{{field = "process.name", type = "match", operator = "included", value = "curl"}}]

[[exceptions.items]]
item_id = "blocked-list"
list_id = "daemon-test"
name = "names in the blocked list"
entries = [
  {{field = "process.name", type = "list", list = {{id = "blocked", type = "keyword"}}}},
]
"""


@pytest.fixture
def ws(tmp_path: Any) -> Workspace:
    workspace = Workspace(tmp_path)
    shutil.copy(SEED_RULES / "emond_child_process.toml", workspace.rules)
    return workspace


def alerted(ws: Workspace) -> list[str]:
    alerts = EmbeddedBackend(Store(ws.store)).list_alerts(rule_ids=[EMOND])
    return sorted(a["process"]["entity_id"] for a in alerts)


def test_exception_and_list_changes_apply_without_a_restart(ws: Workspace) -> None:
    names = ws.root / "blocked.txt"
    names.write_text("nothing-yet\n")
    assert (
        ws.cli("lists", "import", "--type", "keyword", "--id", "blocked", str(names)).returncode
        == 0
    )
    ws.load([emond_event("e1-curl", utcnow() - timedelta(seconds=5), child="curl")])
    processes = Processes(ws)
    try:
        daemon = processes.daemon("--interval", "1s", "--watch")
        daemon.wait_for(lambda: alerted(ws) == ["e1-curl"])

        folder: Path = ws.root / "exceptions"  # beside rules/: the default
        folder.mkdir()
        (folder / "daemon_test.toml").write_text(EXCEPTIONS)
        daemon.wait_event("exceptions_loaded", items=2, count=1)
        seen = len(daemon.events("rule_executed"))
        ws.load([emond_event("e2-curl", utcnow() - timedelta(seconds=1), child="curl"),
                 emond_event("e3-zsh", utcnow() - timedelta(seconds=1), child="zsh")])  # fmt: skip
        daemon.wait_for(lambda: "e3-zsh" in alerted(ws))
        daemon.wait_event("rule_executed", count=seen + 2)
        assert alerted(ws) == ["e1-curl", "e3-zsh"]  # the curl exception applies

        names.write_text("zsh\n")  # a value list change needs no reload at all
        assert ws.cli("lists", "import", "--type", "keyword", "--id", "blocked",
                      str(names)).returncode == 0  # fmt: skip
        seen = len(daemon.events("rule_executed"))
        at = utcnow() - timedelta(seconds=1)
        ws.load([emond_event("e4-zsh", at, child="zsh"), emond_event("e5-bash", at, child="bash")])
        daemon.wait_for(lambda: "e5-bash" in alerted(ws))
        daemon.wait_event("rule_executed", count=seen + 2)
        assert alerted(ws) == ["e1-curl", "e3-zsh", "e5-bash"]

        (folder / "daemon_test.toml").unlink()  # removing the file lifts the exceptions
        daemon.send(signal.SIGHUP)
        daemon.wait_event("exceptions_loaded", items=0)
        ws.load([emond_event("e6-curl", utcnow() - timedelta(seconds=1), child="curl")])
        daemon.wait_for(lambda: "e6-curl" in alerted(ws))
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        processes.close()
