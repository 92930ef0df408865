"""The daemon in-process: real APScheduler, in-memory backend, 1s intervals."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.backends.base import Backend
from runner.daemon.scheduler import Daemon, DaemonOptions, first_run, jitter_for
from runner.daemon.status import collect_status
from runner.daemon.supervisor import execute_rule
from runner.execution.model import ExecutionRecord
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.daemon.fakes import MemoryBackend
from tests.helpers import write_rule

SECOND = timedelta(seconds=1)


def test_jitter_is_small_and_the_first_run_comes_soon() -> None:
    assert jitter_for(SECOND) == pytest.approx(0.05)
    assert jitter_for(timedelta(minutes=5)) == 10.0
    assert jitter_for(timedelta(hours=1)) == 10.0
    now = datetime(2024, 5, 1, tzinfo=UTC)
    rng = random.Random(1)
    firsts = [first_run(now, timedelta(minutes=5), rng) for _ in range(200)]
    assert all(now <= t <= now + timedelta(seconds=10) for t in firsts)
    assert len({t.second for t in firsts}) > 5  # spread over the seconds, not one burst


class Running:
    """A daemon on a thread; always stopped at the end of the test."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.code = self.daemon.run(install_signals=False)

    def stop(self, timeout: float = 10) -> int | None:
        self.daemon.request_stop()
        self.thread.join(timeout)
        return self.code


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def launch(folder: Path, backend: MemoryBackend, **options: object) -> Running:
        execute = options.pop("execute", execute_rule)
        daemon = Daemon(
            backend=backend,
            load=lambda: load_rules([folder]),
            watch_paths=[folder],
            options=DaemonOptions(interval=SECOND, **options),  # type: ignore[arg-type]
            execute=execute,  # type: ignore[arg-type]
        )
        running = Running(daemon)
        running.thread.start()
        assert daemon.wait_started(5)
        started.append(running)
        return running

    yield launch
    for running in started:
        running.stop()


def wait_until(check: Callable[[], bool], timeout: float = 8) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_hanging_rule_is_abandoned_and_the_other_keeps_running_on_one_worker(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    write_rule(tmp_path, "hang")
    write_rule(tmp_path, "fine")
    release = threading.Event()

    def execute(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        if rule.stem == "hang":
            release.wait(20)
        return execute_rule(backend, rule, now)

    backend = MemoryBackend()
    running = start(tmp_path, backend, workers=1, budget=timedelta(milliseconds=300),
                    execute=execute)  # fmt: skip
    try:
        assert wait_until(lambda: len(backend.records("id-fine")) >= 3)
        hang = backend.records("id-hang")
        assert hang and all(r.status == "failed" for r in hang)
        assert hang[0].message.startswith("time budget exceeded (300ms)")
        assert all(r.status == "succeeded" for r in backend.records("id-fine"))
        assert "id-hang" not in backend.states
    finally:
        release.set()
    assert running.stop() == 0


def test_reload_starts_new_rules_stops_removed_ones_and_reschedules(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    write_rule(tmp_path, "a")
    backend = MemoryBackend()
    running = start(tmp_path, backend)
    daemon = running.daemon
    assert daemon.scheduled() == {"id-a": SECOND}
    assert wait_until(lambda: len(backend.records("id-a")) >= 1)

    write_rule(tmp_path, "b")
    (tmp_path / "a.toml").unlink()
    daemon.request_reload()
    assert wait_until(lambda: set(daemon.scheduled()) == {"id-b"})
    assert wait_until(lambda: len(backend.records("id-b")) >= 1)
    count = len(backend.records("id-a"))
    time.sleep(1.5)
    assert len(backend.records("id-a")) == count  # removed: no further executions

    write_rule(tmp_path, "b", query="process where process.name = 'broken'")
    daemon.request_reload()
    time.sleep(0.5)
    assert set(daemon.scheduled()) == {"id-b"}  # the broken edit keeps the previous version
    assert running.stop() == 0


def test_watch_reloads_on_file_changes(tmp_path: Path, start: Callable[..., Running]) -> None:
    write_rule(tmp_path, "a")
    backend = MemoryBackend()
    running = start(tmp_path, backend, watch=True, watch_every=0.2)
    write_rule(tmp_path, "c")
    assert wait_until(lambda: set(running.daemon.scheduled()) == {"id-a", "id-c"})
    assert running.stop() == 0


def test_stop_cuts_a_running_execution_after_the_grace_period(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    write_rule(tmp_path, "slow")
    release = threading.Event()

    def execute(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        release.wait(20)
        return execute_rule(backend, rule, now)

    backend = MemoryBackend()
    running = start(tmp_path, backend, grace=timedelta(milliseconds=500), execute=execute)
    try:
        assert wait_until(lambda: bool(running.daemon.supervisor.running()))
        started = time.monotonic()
        assert running.stop() == 0
        assert time.monotonic() - started < 3
        [record] = backend.records("id-slow")
        assert record.message.startswith("interrupted by shutdown (grace period 500ms")
    finally:
        release.set()


def test_an_interval_override_is_what_the_rule_runs_and_status_shows(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    write_rule(tmp_path, "a")  # its own interval is 5m
    seen: list[str] = []

    def execute(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        seen.append(rule.scheduled_interval or rule.interval)
        return execute_rule(backend, rule, now)

    backend = MemoryBackend()
    running = start(tmp_path, backend, execute=execute)
    assert wait_until(lambda: len(backend.records("id-a")) >= 1)
    assert running.stop() == 0
    assert set(seen) == {"1s"}
    assert {r.extra.get("interval") for r in backend.records("id-a")} == {"1s"}
    (status,) = collect_status(load_rules([tmp_path]).rules, backend, datetime.now(UTC))
    assert status.interval == SECOND
