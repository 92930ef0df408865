"""Alerts and notifications are committed together, delivered once, never lost.

In-process on the embedded store: the real executor, outbox and delivery worker against a
real HTTP receiver on loopback; time is advanced with an explicit clock where backoff matters.
"""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runner.backends.embedded import EmbeddedBackend
from runner.config import NotifySettings, Settings
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.errors import StoreError
from runner.execution.executor import Executor
from runner.notify.service import Notifications, build_notifications
from runner.notify.worker import DeliveryWorker
from runner.timeutil import utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import emond_event
from tests.notify.factories import emond_rule, write_notify_files
from tests.notify.receivers import HttpReceiver

PROCESS_INDEX = "logs-endpoint.events.process-default"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    shutil.copy(SEED_RULES / "emond_child_process.toml", tmp_path / "rules")
    return tmp_path


def load(backend: EmbeddedBackend, root: Path, entity_ids: list[str], now: datetime) -> None:
    import io
    import json

    lines = "".join(
        json.dumps(emond_event(e, now - timedelta(seconds=30 + i))) + "\n"
        for i, e in enumerate(entity_ids)
    )
    load_events(backend.store, [io.BytesIO(lines.encode())], index=PROCESS_INDEX)


def notifications(root: Path, backend: EmbeddedBackend, **notify: object) -> Notifications:
    settings = Settings(store=backend.store.path, notify=NotifySettings(**notify))  # type: ignore[arg-type]
    return build_notifications(settings, root / "rules", backend)


def hook_alerts(http: HttpReceiver) -> list[str]:
    return sorted(r.json()["alert"]["id"] for r in http.received())


def test_queued_with_the_alerts_delivered_once(root: Path, http: HttpReceiver) -> None:
    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1", "e2", "e3"], now)
    notes = notifications(root, backend)
    executor = Executor(backend=backend, notifier=notes.planner)
    [record] = executor.run(emond_rule(), now)
    assert record.alerts_created == 3
    assert notes.outbox.counts().pending == 3
    assert http.received() == []  # queued, not sent: the executor never delivers
    # The same window again: the alerts are duplicates and nothing more is queued.
    executor.run(emond_rule(), now + timedelta(seconds=1), manual=True)
    assert notes.outbox.counts().pending == 3
    assert notes.worker.run_once().sent == 3
    assert notes.worker.run_once().sent == 0
    alert_ids = sorted(a["kibana.alert.uuid"] for a in backend.list_alerts())
    assert hook_alerts(http) == alert_ids
    assert sorted(r.headers["idempotency-key"] for r in http.received()) == alert_ids
    assert notes.outbox.counts().sent == 3


def test_a_failed_write_queues_nothing(root: Path, http: HttpReceiver) -> None:
    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1"], now)
    notes = notifications(root, backend)

    def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise StoreError("disk full (simulated, inside the alert transaction)")

    planner = notes.planner
    original = planner.plan
    planner.plan = broken  # type: ignore[method-assign]
    [record] = Executor(backend=backend, notifier=planner).run(emond_rule(), now)
    assert record.status == "failed"
    assert "disk full" in record.message
    assert backend.list_alerts() == []  # rolled back together
    assert notes.outbox.counts().pending == 0
    planner.plan = original  # type: ignore[method-assign]
    [record] = Executor(backend=backend, notifier=planner).run(emond_rule(), now)
    assert record.alerts_created == 1 and notes.outbox.counts().pending == 1


def test_receiver_down_then_back_everything_arrives_once(root: Path, http: HttpReceiver) -> None:
    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1", "e2"], now)
    notes = notifications(root, backend)
    Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
    clock = [utcnow()]  # entries are due from when they were queued
    worker = DeliveryWorker(outbox=notes.outbox, connectors=notes.config.connectors,
                            types=notes.types, clock=lambda: clock[0],
                            retry_base=timedelta(seconds=10),
                            retry_max=timedelta(seconds=60))  # fmt: skip
    http.mode = 503
    delays = []
    for _ in range(5):
        result = worker.run_once()
        assert result.retried == 2 and result.sent == 0
        item = notes.outbox.items(status="pending")[0]
        assert item.next_attempt_at is not None
        delays.append((item.next_attempt_at - clock[0]).total_seconds())
        assert worker.run_once().retried == 0  # not due yet
        clock[0] = item.next_attempt_at + timedelta(seconds=1)
    assert delays == [10, 20, 40, 60, 60]  # exponential, capped
    counts = notes.outbox.counts()
    assert counts.retrying == 2 and "HTTP 503" in counts.last_error
    http.mode = "ok"
    http.requests.clear()
    assert worker.run_once().sent == 2
    assert len(hook_alerts(http)) == 2 and len(set(hook_alerts(http))) == 2
    assert notes.outbox.counts().pending == 0


def test_a_refusal_is_recorded_as_failed_and_can_be_requeued(
    root: Path, http: HttpReceiver
) -> None:
    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1"], now)
    notes = notifications(root, backend)
    Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
    http.mode = 400
    assert notes.worker.run_once().failed == 1
    counts = notes.outbox.counts()
    assert counts.failed == 1 and counts.pending == 0 and "HTTP 400" in counts.last_error
    http.mode = "ok"
    assert notes.outbox.requeue_failed(now=utcnow()) == 1
    assert notes.worker.run_once().sent == 1


def test_two_workers_on_one_store_send_each_notification_once(
    root: Path, http: HttpReceiver
) -> None:
    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, [f"e{i}" for i in range(12)], now)
    notes = notifications(root, backend)
    Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
    workers = [DeliveryWorker(outbox=notes.outbox, connectors=notes.config.connectors,
                              types=notes.types, owner=f"w{i}", batch=3)
               for i in range(3)]  # fmt: skip
    barrier = threading.Barrier(len(workers))

    def drain(worker: DeliveryWorker) -> None:
        barrier.wait()
        for _ in range(20):
            worker.run_once()

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = hook_alerts(http)
    assert len(ids) == 12 and len(set(ids)) == 12
    assert notes.outbox.counts().sent == 12


def test_an_expired_lease_is_taken_over(root: Path, http: HttpReceiver) -> None:
    """A runner that died holding a claim: another delivers the entry once the lease ends."""
    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1"], now)
    notes = notifications(root, backend)
    Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
    start = utcnow()
    [held] = notes.outbox.claim(owner="dead", now=start, lease=timedelta(minutes=2), limit=10)
    assert notes.outbox.claim(owner="other", now=start, lease=timedelta(minutes=2), limit=10) == []
    later = utcnow() + timedelta(minutes=3)
    worker = DeliveryWorker(outbox=notes.outbox, connectors=notes.config.connectors,
                            types=notes.types, owner="other", clock=lambda: later)  # fmt: skip
    assert worker.run_once().sent == 1
    # The dead runner's late write is refused: its claim is gone.
    assert notes.outbox.mark_sent(held, now=later, detail="") is False
    assert len(http.received()) == 1


def test_throttle_and_summary_through_the_executor(root: Path, http: HttpReceiver) -> None:
    """Throttle state is read from the outbox inside the alerts' transaction."""
    write_notify_files(root, http.url, extra='throttle = "1h"\n')
    (root / "actions" / "summary.toml").write_text(
        '[[action]]\nconnector = "hook"\nfrequency = "summary"\n'
    )
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1", "e2"], now)
    notes = notifications(root, backend)
    executor = Executor(backend=backend, notifier=notes.planner)
    executor.run(emond_rule(), now)
    load(backend, root, ["e3"], now + timedelta(seconds=20))
    executor.run(emond_rule(), now + timedelta(seconds=60), manual=True)
    items = notes.outbox.items()
    kinds = sorted(i.notification.kind for i in items)
    # per alert, throttled per rule: 1 in the hour; summaries: one per execution with alerts
    assert kinds == ["alert", "summary", "summary"]
    summaries = sorted(len(i.notification.alert_ids) for i in items
                       if i.notification.kind == "summary")  # fmt: skip
    assert summaries == [1, 2]


def test_retry_after_is_honoured(root: Path) -> None:
    from tests.notify.receivers import HttpReceiver as Receiver

    http = Receiver(mode=429, headers={"Retry-After": "120"})
    try:
        write_notify_files(root, http.url)
        backend = EmbeddedBackend(Store(root / "s.duckdb"))
        now = utcnow()
        load(backend, root, ["e1"], now)
        notes = notifications(root, backend)
        Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
        before = utcnow()
        assert notes.worker.run_once().retried == 1
        [item] = notes.outbox.items(status="pending")
        assert item.next_attempt_at is not None
        assert item.next_attempt_at - before >= timedelta(seconds=120)  # not the 5s backoff
    finally:
        http.stop()


def test_a_send_whose_record_fails_is_recorded_later_never_sent_again(
    root: Path, http: HttpReceiver
) -> None:
    """Found by the network drill: the cluster answered 503 to the "sent" record longer than
    the client retries; the entry stayed claimed, its lease ran out and it was sent again."""
    from runner.errors import BackendUnavailable
    from runner.notify.model import OutboxItem

    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1", "e2"], now)
    notes = notifications(root, backend)
    Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
    outbox = notes.outbox
    real_mark = outbox.mark_sent
    down = [True]

    def mark_sent(item: OutboxItem, *, now: datetime, detail: str) -> bool:
        if down[0]:
            raise BackendUnavailable("cannot reach Elasticsearch: 503")
        return real_mark(item, now=now, detail=detail)

    outbox.mark_sent = mark_sent  # type: ignore[method-assign]
    clock = [utcnow()]
    worker = DeliveryWorker(outbox=outbox, connectors=notes.config.connectors, types=notes.types,
                            clock=lambda: clock[0], lease=timedelta(seconds=3))  # fmt: skip
    with pytest.raises(BackendUnavailable):
        worker.run_once()  # the first send is acknowledged, its record fails: the round stops
    assert len(http.acknowledged()) == 1
    clock[0] += timedelta(seconds=10)  # the claim's lease has run out meanwhile
    with pytest.raises(BackendUnavailable):
        worker.run_once()  # still down: nothing new is claimed or sent
    assert len(http.acknowledged()) == 1
    down[0] = False
    assert worker.run_once().sent == 1  # the record first, then the other entry
    assert worker.run_once().sent == 0
    assert len(hook_alerts(http)) == 2 and len(set(hook_alerts(http))) == 2
    assert outbox.counts().sent == 2 and outbox.counts().pending == 0


def test_an_entry_whose_claim_is_ending_is_left_for_later_not_sent(
    root: Path, http: HttpReceiver
) -> None:
    """Found by the three-daemon drill on a loaded machine: a batch is claimed at once and
    sent one by one; when sends and their records outlast the lease, another runner claims
    the batch's last entries and both send them.  An entry with less claim left than a send
    and its record may take (2 x notify.timeout) is left for a later round."""
    from runner.notify.connectors import SendOptions

    write_notify_files(root, http.url)
    backend = EmbeddedBackend(Store(root / "s.duckdb"))
    now = utcnow()
    load(backend, root, ["e1", "e2", "e3"], now)
    notes = notifications(root, backend)
    Executor(backend=backend, notifier=notes.planner).run(emond_rule(), now)
    ticks = [utcnow()]

    def slow_clock() -> datetime:  # every look at the clock is a second later: slow sends
        ticks[0] += timedelta(seconds=1)
        return ticks[0]

    first = DeliveryWorker(outbox=notes.outbox, connectors=notes.config.connectors,
                           types=notes.types, owner="first", clock=slow_clock,
                           lease=timedelta(seconds=6), options=SendOptions(timeout=1))  # fmt: skip
    result = first.run_once()  # claimed at t+1 until t+7; sends at t+2 and t+4; t+6: 1s left
    assert (result.sent, len(http.acknowledged())) == (2, 2)
    assert notes.outbox.counts().pending == 1
    later = ticks[0] + timedelta(seconds=5)  # the claim has ended: anyone may take it
    other = DeliveryWorker(outbox=notes.outbox, connectors=notes.config.connectors,
                           types=notes.types, owner="other", clock=lambda: later)  # fmt: skip
    assert other.run_once().sent == 1
    assert len(hook_alerts(http)) == 3 and len(set(hook_alerts(http))) == 3
