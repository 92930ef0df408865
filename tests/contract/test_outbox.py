"""The outbox contract, for every implementation: a table in the embedded store, and the
runner index on a cluster (through the real client, against the loopback stand-in, whose
``if_seq_no``/``if_primary_term`` checks follow Elasticsearch's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.notify.model import Notification
from runner.notify.outbox.base import Outbox

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def note(n: int, *, throttle_key: str | None = None, at: datetime = T0) -> Notification:
    return Notification(
        id=f"id-{n:03d}", connector_id="hook", connector_type=".webhook", rule_id="r1",
        rule_name="Rule", action_uuid="a#0", kind="alert", alert_ids=(f"alert-{n}",),
        idempotency_key=f"alert-{n}", params={"body": f'{{"n": {n}}}', "nested": {"x": [1]}},
        queued_at=at + timedelta(seconds=n), throttle_key=throttle_key,
    )  # fmt: skip


@pytest.fixture(params=["embedded", "elasticsearch", "stand-in"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    if request.param == "embedded":
        from runner.embedded.store import Store
        from runner.notify.outbox.embedded import EmbeddedOutbox

        yield EmbeddedOutbox(Store(tmp_path / "s.duckdb").connect)
        return
    from runner.elastic.client import ElasticClient
    from runner.notify.outbox.elastic import MAPPINGS, ElasticOutbox
    from tests.elastic.conftest import FAST_RETRY
    from tests.elastic.engine_cluster import EngineCluster
    from tests.elastic.fake_cluster import FakeCluster

    if request.param == "stand-in":
        cluster: FakeCluster = EngineCluster(tmp_path / "cluster.duckdb").start()
        # As `runner setup` does: the outbox index with its mappings.
        ElasticClient(cluster.settings()).request("PUT", "/runner-outbox", {"mappings": MAPPINGS})
    else:
        cluster = FakeCluster().start()
        cluster.enable_store()
    client = ElasticClient(cluster.settings(), retry=FAST_RETRY)
    try:
        yield ElasticOutbox(client, "runner-outbox")
    finally:
        client.close()
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]


def test_enqueue_is_insert_if_absent(outbox: Outbox) -> None:
    assert outbox.enqueue([note(1), note(2)]) == 2
    assert outbox.enqueue([note(2), note(3)]) == 1
    counts = outbox.counts()
    assert (counts.pending, counts.sent, counts.failed) == (3, 0, 0)
    [item] = [i for i in outbox.items() if i.notification.id == "id-002"]
    assert item.notification == note(2)  # round-trips every field


def test_claim_is_exclusive_until_the_lease_ends(outbox: Outbox) -> None:
    outbox.enqueue([note(i) for i in range(5)])
    now = T0 + timedelta(minutes=1)
    first = outbox.claim(owner="a", now=now, lease=LEASE, limit=3)
    assert [i.notification.id for i in first] == ["id-000", "id-001", "id-002"]  # oldest first
    second = outbox.claim(owner="b", now=now, lease=LEASE, limit=10)
    assert [i.notification.id for i in second] == ["id-003", "id-004"]
    assert outbox.claim(owner="c", now=now, lease=LEASE, limit=10) == []
    later = now + LEASE + timedelta(seconds=1)
    taken = outbox.claim(owner="c", now=later, lease=LEASE, limit=10)
    assert len(taken) == 5  # every lease expired: another runner may deliver them
    assert outbox.mark_sent(first[0], now=later, detail="late") is False  # a's claim is gone
    assert outbox.mark_sent(taken[0], now=later, detail="ok") is True


def test_not_due_before_queued_or_before_its_retry(outbox: Outbox) -> None:
    outbox.enqueue([note(1)])
    assert outbox.claim(owner="a", now=T0, lease=LEASE, limit=10) == []  # queued at T0+1s
    [item] = outbox.claim(owner="a", now=T0 + timedelta(seconds=5), lease=LEASE, limit=10)
    retry_at = T0 + timedelta(minutes=10)
    assert outbox.mark_retry(item, now=T0, error="HTTP 503", next_attempt_at=retry_at)
    assert outbox.claim(owner="a", now=retry_at - timedelta(seconds=1), lease=LEASE,
                        limit=10) == []  # fmt: skip
    [again] = outbox.claim(owner="b", now=retry_at, lease=LEASE, limit=10)
    assert again.attempts == 1 and again.last_error == "HTTP 503"
    counts = outbox.counts()
    assert counts.retrying == 1 and counts.last_error == "HTTP 503"
    assert counts.last_error_connector == "hook"


def test_sent_and_failed_are_final_until_requeued(outbox: Outbox) -> None:
    outbox.enqueue([note(1), note(2)])
    now = T0 + timedelta(minutes=1)
    one, two = outbox.claim(owner="a", now=now, lease=LEASE, limit=10)
    assert outbox.mark_sent(one, now=now, detail="HTTP 200")
    assert outbox.mark_failed(two, now=now, error="HTTP 400")
    assert outbox.mark_sent(one, now=now, detail="twice") is False  # version moved on
    assert outbox.claim(owner="a", now=now + LEASE * 2, lease=LEASE, limit=10) == []
    counts = outbox.counts()
    assert (counts.pending, counts.sent, counts.failed) == (0, 1, 1)
    assert [i.notification.id for i in outbox.items(status="failed")] == ["id-002"]
    assert outbox.requeue_failed(now=now) == 1
    [back] = outbox.claim(owner="a", now=now, lease=LEASE, limit=10)
    assert back.notification.id == "id-002"


def test_last_queued_per_throttle_key(outbox: Outbox) -> None:
    assert outbox.last_queued("k") is None
    outbox.enqueue([note(1, throttle_key="k"), note(7, throttle_key="k"),
                    note(3, throttle_key="other")])  # fmt: skip
    assert outbox.last_queued("k") == T0 + timedelta(seconds=7)


def test_racing_claimers_never_share_an_entry(outbox: Outbox) -> None:
    outbox.enqueue([note(i) for i in range(30)])
    now = T0 + timedelta(minutes=5)
    claimed: dict[str, list[str]] = {}
    barrier = threading.Barrier(3)

    def claimer(owner: str) -> None:
        barrier.wait()
        mine: list[str] = []
        for _ in range(10):
            mine += [i.notification.id for i in
                     outbox.claim(owner=owner, now=now, lease=LEASE, limit=4)]  # fmt: skip
        claimed[owner] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == 30
