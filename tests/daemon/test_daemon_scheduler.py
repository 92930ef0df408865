"""The daemon in-process: real APScheduler, in-memory backend, 1s intervals."""

from __future__ import annotations

import io
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.backends.base import Backend
from runner.daemon.scheduler import Daemon, DaemonOptions, due_time, first_run, spread_for
from runner.daemon.status import collect_status
from runner.daemon.supervisor import execute_rule
from runner.execution.model import ExecutionRecord
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.daemon.fakes import MemoryBackend
from tests.helpers import write_rule

SECOND = timedelta(seconds=1)


def test_first_runs_spread_over_the_interval_as_kibana_spreads_its_tasks() -> None:
    assert spread_for(SECOND) == SECOND
    assert spread_for(timedelta(minutes=5)) == timedelta(minutes=5)
    assert spread_for(timedelta(hours=1)) == timedelta(minutes=5)  # Kibana's cap
    now = datetime(2024, 5, 1, tzinfo=UTC)
    rng = random.Random(1)
    assert first_run(now, timedelta(minutes=5), rng, first=True) == now
    firsts = [first_run(now, timedelta(minutes=5), rng, first=False) for _ in range(1000)]
    assert all(now <= t <= now + timedelta(minutes=5) for t in firsts)
    # Evenly over the interval: every 30 s slice of the 5 minutes gets about a tenth.
    slices = [0] * 10
    for t in firsts:
        slices[min(int((t - now).total_seconds() // 30), 9)] += 1
    assert all(60 <= count <= 140 for count in slices), slices
    hourly = [first_run(now, timedelta(hours=1), rng, first=False) for _ in range(200)]
    assert max(hourly) <= now + timedelta(minutes=5)


def test_due_time_is_the_latest_slot_of_the_rule_phase() -> None:
    anchor = datetime(2024, 5, 1, 12, 0, 7, tzinfo=UTC)
    five = timedelta(minutes=5)
    assert due_time(anchor, five, anchor - SECOND) == anchor
    assert due_time(anchor, five, anchor + timedelta(milliseconds=3)) == anchor
    assert due_time(anchor, five, anchor + five + SECOND) == anchor + five
    # A coalesced run (two slots missed) answers the latest slot.
    assert due_time(anchor, five, anchor + 3 * five - SECOND) == anchor + 2 * five


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


# Generous: on a loaded 2-core machine a 1s-interval rule can take several seconds to run twice;
# a passing check returns at once, so the bound only matters when something is wrong.
def wait_until(check: Callable[[], bool], timeout: float = 20) -> bool:
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


def test_rules_start_at_spread_phases_and_each_run_logs_its_lateness(
    tmp_path: Path, start: Callable[..., Running], logs: io.StringIO
) -> None:
    for stem in ("a", "b", "c", "d", "e", "f"):
        write_rule(tmp_path, stem)
    backend = MemoryBackend()
    running = start(tmp_path, backend, workers=2)
    assert wait_until(lambda: all(len(backend.records(f"id-{s}")) >= 3 for s in "abcdef"))
    assert running.stop() == 0
    executed = [json.loads(line) for line in logs.getvalue().splitlines()]
    executed = [e for e in executed if e.get("event") == "rule_executed"]
    phases: dict[str, set[int]] = {}
    for entry in executed:
        due = datetime.fromisoformat(entry["scheduled_at"].replace("Z", "+00:00"))
        assert 0 <= entry["lateness_ms"] < 1000
        phases.setdefault(entry["rule_id"], set()).add(round(due.timestamp() * 1000) % 1000)
    # One phase per rule (every run a whole interval after the first; ms rounding aside) ...
    for rule_id, seen in phases.items():
        assert max(seen) - min(seen) <= 2 or {0, 999} & seen, (rule_id, seen)
    # ... and the six rules do not share one.
    assert len({min(seen) // 10 for seen in phases.values()}) >= 3, phases


def test_batched_execution_records_are_all_written_by_the_stop(
    tmp_path: Path, start: Callable[..., Running]
) -> None:
    write_rule(tmp_path, "a")
    write_rule(tmp_path, "b")
    backend = MemoryBackend()
    running = start(tmp_path, backend, batch_records=True)
    log = running.daemon.execution_log
    assert log is not None
    assert wait_until(lambda: len(backend.states) == 2 and log.pending() == 0)
    assert wait_until(lambda: len(backend.records("id-a")) >= 2)  # flushed while running
    assert running.stop() == 0
    assert log.pending() == 0
    runs = [r for r in backend.executions if r.rule_id in ("id-a", "id-b")]
    assert {r.rule_id for r in runs} == {"id-a", "id-b"}
    assert len({r.execution_id for r in runs}) == len(runs)  # each written once
