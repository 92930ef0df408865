"""Daemons as processes (``runner --es URL daemon``) on one loopback fake cluster: a SIGKILLed
owner's rule is taken over after the lease time, no window skipped and no alert written twice;
``runner status`` names the owner; two daemons on one embedded store are refused."""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path

from runner.timeutil import parse_absolute
from tests.daemon.procs import EMOND, Processes, Workspace, emond_hit, fake_cluster


def test_a_killed_owner_s_rule_is_taken_over_with_no_window_skipped(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.add_seed_rule()
    workspace.env["RUNNER_DAEMON_LEASE_TTL"] = "2s"
    with (
        fake_cluster(emond_hit("ev-1"), emond_hit("ev-2")) as cluster,
        Processes(workspace) as processes,
    ):
        store = cluster.store
        assert store is not None
        workspace.env["RUNNER_DAEMON_NAME"] = "first"
        first = processes.daemon("--es", cluster.url, "--interval", "1s")
        first.wait_event("rule_executed", count=2)
        workspace.env["RUNNER_DAEMON_NAME"] = "second"
        second = processes.daemon("--es", cluster.url, "--interval", "1s")
        second.wait_event("daemon_started")
        status = workspace.cli("--es", cluster.url, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["owner"] == "first"
        first.kill()  # SIGKILL: no release, its lease lapses after 2s
        moved = second.wait_event("lease_taken_over", timeout=20)
        assert (moved["rule_id"], moved["previous"]) == (EMOND, "first")
        assert moved["unowned_s"] >= 2
        second.wait_event("rule_executed", count=2, timeout=20)
        status = workspace.cli("--es", cluster.url, "status", "--json")
        assert json.loads(status.stdout)["owner"] == "second"
        second.send(signal.SIGTERM)
        assert second.wait(15) == 0
    assert not first.events("lease_taken_over")
    assert len(store.docs["runner-alerts-default"]) == 2  # written once, by the first owner
    # No window skipped: no gap, and each window starts within the one before it.
    executions = sorted(store.docs["runner-executions"].values(), key=lambda d: d["started_at"])
    assert executions and not [d for d in executions if d.get("gap_seconds")]
    for before, after in itertools.pairwise(executions):
        assert parse_absolute(after["window_start"]) <= parse_absolute(before["window_end"])
    assert not second.events("lease_overlap") and not first.events("lease_overlap")
    # The clean stop released the lease: nobody owns the rule now.
    lease = store.docs["runner-leases"][f"rule:{EMOND}"]
    assert lease["owner"] is None


def test_a_second_daemon_on_one_embedded_store_exits_naming_the_first(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.add_seed_rule()
    with Processes(workspace) as processes:
        workspace.env["RUNNER_DAEMON_NAME"] = "soc-a"
        first = processes.daemon("--interval", "1s")
        first.wait_event("daemon_started")
        workspace.env["RUNNER_DAEMON_NAME"] = "soc-b"
        second = processes.daemon("--interval", "1s")
        assert second.wait(20) != 0
        refusal = "".join(second.raw)
        assert "another daemon already runs on the embedded store" in refusal
        assert "soc-a" in refusal and f"pid {first.proc.pid}" in refusal
        assert not second.events("daemon_started")
        first.send(signal.SIGTERM)
        assert first.wait(15) == 0
