"""``runner --es URL daemon``: the daemon on the Elasticsearch backend (a fake cluster on
127.0.0.1 that answers with Elasticsearch's documented shapes and keeps written documents)."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.daemon.procs import EQL_PATH, Processes, Workspace, emond_hit, fake_cluster


def test_daemon_runs_on_elasticsearch_when_configured(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.add_seed_rule()
    with (
        fake_cluster(emond_hit("ev-1"), emond_hit("ev-2")) as cluster,
        Processes(workspace) as processes,
    ):
        store = cluster.store
        assert store is not None
        daemon = processes.daemon("--es", cluster.url, "--interval", "1s")
        daemon.wait_event("rule_executed", count=3)
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0
    assert daemon.events("daemon_started")[0]["backend"] == "elasticsearch"
    lines = daemon.events("rule_executed")
    assert [line["status"] for line in lines] == ["succeeded"] * len(lines)
    assert (lines[0]["alerts_created"], lines[-1]["alerts_created"], lines[-1]["duplicates"]) == (
        2,
        0,
        2,
    )
    assert len(store.docs["runner-alerts-default"]) == 2  # written once, re-found every second
    assert len(cluster.calls("POST", EQL_PATH)) >= 3
    assert not [r for r in cluster.unexpected if r.path != "/"], cluster.unexpected[:3]
    # Execution records go in batches (one _bulk of index actions a second, the rest at the
    # stop), never one request per execution; every one of them is there after the stop.
    assert len(store.docs["runner-executions"]) == len(lines)
    assert not [c for c in cluster.calls("PUT") if c.path.startswith("/runner-executions/")]
    batches = [
        c for c in cluster.calls("POST", "/_bulk") if "index" in c.body[0]
    ]  # fmt: skip
    assert sum(len(c.body) // 2 for c in batches) == len(lines)
