"""Notifications on a cluster: queued in the alerts' ``_bulk``, delivered once even by two
runners sharing the cluster (through the real client, against the loopback stand-in)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.config import Settings
from runner.execution.executor import Executor
from runner.notify.service import build_notifications
from runner.rules.model import Rule
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import FakeCluster
from tests.elastic.test_es_end_to_end import EQL_PATH, NOW, emond, eql_answer, event
from tests.notify.factories import write_notify_files
from tests.notify.receivers import HttpReceiver

__all__ = ["emond"]


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


def test_alerts_and_notifications_share_one_bulk_and_two_runners_send_once(
    cluster: FakeCluster, emond: Rule, tmp_path: Path, http: HttpReceiver
) -> None:
    store = cluster.enable_store()
    write_notify_files(tmp_path, http.url)
    events = [event(f"ev-{i}", "bash", i % 9) for i in range(8)]
    cluster.script("POST", EQL_PATH, eql_answer(*events), repeat_last=True)
    runners = [ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) for _ in range(2)]
    try:
        # Connectors and actions are read beside the rules directory: tmp_path's.
        notes = [build_notifications(Settings(), tmp_path / "rules", b) for b in runners]
        assert all(n.active for n in notes)
        for backend, n in zip(runners, notes, strict=True):  # both run the same window
            Executor(backend=backend, notifier=n.planner, clock=lambda: NOW).run(emond, NOW)
        bulks = cluster.calls("POST", "/_bulk")
        assert len(bulks) == 1  # the second runner found every alert already there
        targets = [a["create"]["_index"] for a in bulks[0].body[::2]]
        assert targets == ["runner-alerts-default"] * 8 + ["runner-outbox"] * 8
        assert len(store.docs["runner-outbox"]) == 8
        barrier = threading.Barrier(2)

        def drain(worker: object) -> None:
            barrier.wait()
            for _ in range(10):
                worker.run_once()  # type: ignore[attr-defined]

        threads = [threading.Thread(target=drain, args=(n.worker,)) for n in notes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for backend in runners:
            backend.close()
    ids = sorted(r.json()["alert"]["id"] for r in http.acknowledged())
    assert ids == sorted(store.docs["runner-alerts-default"])
    assert {d["status"] for d in store.docs["runner-outbox"].values()} == {"sent"}
    conflicts = [r for r in cluster.requests if r.method == "PUT" and "if_seq_no" in r.query]
    assert conflicts  # every claim and mark went through optimistic concurrency


def test_index_connector_on_a_cluster_creates_each_document_once(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    from runner.notify.connectors import SendOptions, connector_types
    from runner.notify.service import index_writer
    from tests.notify.factories import alert, connector, notification

    store = cluster.enable_store()
    with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as backend:
        types = connector_types(index_writer(backend))
        c = connector(".index", index="soc-copies", executionTimeField="copied_at")
        n = notification(".index", kind="summary", alerts=[alert("a-1"), alert("a-2")])
        first = types[".index"].sender(c, SendOptions(environ={})).send(n)
        again = types[".index"].sender(c, SendOptions(environ={})).send(n)
    assert first.detail == again.detail == "2 document(s) in soc-copies"
    assert sorted(store.docs["soc-copies"]) == ["a-1", "a-2"]
    assert store.docs["soc-copies"]["a-1"]["copied_at"] == "2024-05-01T12:00:00.000Z"
