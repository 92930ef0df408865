"""The daemon's execution log: records are written in batches (Kibana's event log buffering),
never lost on a clean stop, kept and retried while the store refuses them."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from runner.daemon.execution_log import BufferedLog
from runner.errors import BackendUnavailable
from runner.execution.model import ExecutionRecord
from tests.daemon.fakes import MemoryBackend

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class CountingBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.refuse = 0  # refuse this many batches

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        if self.refuse:
            self.refuse -= 1
            raise BackendUnavailable("Elasticsearch is overloaded or unavailable (HTTP 503)")
        with self.lock:
            self.batches.append(len(records))
        super().record_executions(records)


def record(rule_id: str = "r1") -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=str(uuid.uuid4()), rule_id=rule_id, rule_name="Rule", started_at=NOW,
        ended_at=NOW + timedelta(seconds=1), window_start=NOW - timedelta(minutes=9),
        window_end=NOW, status="succeeded", message="", backend="memory",
    )  # fmt: skip


def wait_until(check: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_records_are_buffered_and_written_in_one_batch() -> None:
    backend = CountingBackend()
    log = BufferedLog(backend, every=60, batch=100)  # no thread: flushed by hand
    made = [record() for _ in range(5)]
    for item in made:
        log.record_execution(item)
    assert backend.executions == [] and log.pending() == 5
    log.flush()
    assert backend.batches == [5]
    assert backend.executions == made  # in order
    log.flush()
    assert backend.batches == [5]  # nothing left: no request


def test_the_thread_writes_every_interval_and_when_a_batch_is_full() -> None:
    backend = CountingBackend()
    log = BufferedLog(backend, every=0.05, batch=100).start()
    try:
        log.record_execution(record())
        assert wait_until(lambda: backend.batches == [1])
    finally:
        log.close()
    full = CountingBackend()
    log = BufferedLog(full, every=3600, batch=3).start()
    try:
        for _ in range(3):
            log.record_execution(record())
        assert wait_until(lambda: full.batches == [3])  # long before the hour
    finally:
        log.close()


def test_close_writes_what_is_left() -> None:
    backend = CountingBackend()
    log = BufferedLog(backend, every=3600, batch=100).start()
    log.record_executions([record(), record("r2")])
    log.close()
    assert [r.rule_id for r in backend.executions] == ["r1", "r2"]


def test_refused_records_are_kept_for_the_next_flush(logs: io.StringIO) -> None:
    backend = CountingBackend()
    backend.refuse = 1
    log = BufferedLog(backend, every=3600, batch=100)
    first = record()
    log.record_execution(first)
    log.flush()
    assert backend.executions == [] and log.pending() == 1
    line = json.loads(logs.getvalue().splitlines()[-1])
    assert line["event"] == "execution_records_not_written" and line["records"] == 1
    second = record()
    log.record_execution(second)
    log.flush()
    assert backend.executions == [first, second]  # the refused one first, still in order


def test_a_store_refusing_for_long_keeps_only_the_newest(logs: io.StringIO) -> None:
    backend = CountingBackend()
    backend.refuse = 2
    log = BufferedLog(backend, every=3600, batch=100, max_pending=3)
    made = [record() for _ in range(5)]
    for item in made[:2]:
        log.record_execution(item)
    log.flush()
    for item in made[2:]:
        log.record_execution(item)
    log.flush()
    assert json.loads(logs.getvalue().splitlines()[-1])["dropped"] == 2
    log.flush()
    assert backend.executions == made[2:]


def test_readers_see_buffered_records() -> None:
    backend = CountingBackend()
    log = BufferedLog(backend, every=3600, batch=100)
    log.record_execution(record())
    assert len(log.list_executions(rule_ids=["r1"])) == 1
