"""``runner --es URL daemon``: the daemon on the Elasticsearch backend (a fake cluster on
127.0.0.1 that answers with Elasticsearch's documented shapes and keeps written documents)."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.timeutil import isoformat, utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import Processes, Workspace
from tests.elastic.fake_cluster import FakeCluster, Reply

EQL_PATH = "/logs-endpoint.events.process*/_eql/search"


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    fake = FakeCluster().start()
    yield fake
    fake.stop()


def hit(doc_id: str) -> dict[str, Any]:
    stamp = isoformat(utcnow() - timedelta(seconds=30))
    return {
        "_index": ".ds-logs-endpoint.events.process-default-000001",
        "_id": doc_id,
        "_source": {
            "@timestamp": stamp,
            "event": {"category": ["process"], "type": ["start"], "ingested": stamp},
            "host": {"name": "mac-01", "os": {"type": "macos"}},
            "process": {"name": "bash", "parent": {"name": "emond"}},
        },
    }


def test_daemon_runs_on_elasticsearch_when_configured(tmp_path: Path, cluster: FakeCluster) -> None:
    store = cluster.enable_store()
    events = [hit("ev-1"), hit("ev-2")]
    body = {
        "is_partial": False,
        "is_running": False,
        "took": 3,
        "timed_out": False,
        "hits": {"total": {"value": 2, "relation": "eq"}, "events": events},
    }
    cluster.script("POST", EQL_PATH, Reply(200, body), repeat_last=True)
    workspace = Workspace(tmp_path)
    shutil.copy(SEED_RULES / "emond_child_process.toml", workspace.rules)
    processes = Processes(workspace)
    try:
        daemon = processes.daemon("--es", cluster.url, "--interval", "1s")
        daemon.wait_event("rule_executed", count=3)
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        processes.close()
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
