"""Several daemons in one process sharing one backend, their leases on the loopback fake
cluster: the rules are split, a rule never runs in two daemons at once, and the rules of a
daemon that stops are taken over with no window skipped."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runner.backends.base import Backend
from runner.daemon.leases_elastic import ElasticLeases
from runner.daemon.leases_local import LocalLeases
from runner.daemon.metrics import Metrics
from runner.daemon.scheduler import Daemon, DaemonOptions
from runner.daemon.supervisor import execute_rule
from runner.elastic.client import ElasticClient
from runner.errors import RunnerError
from runner.execution.model import ExecutionRecord
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.daemon.fakes import MemoryBackend
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import FakeCluster
from tests.helpers import write_rule

SECOND = timedelta(seconds=1)
TTL = timedelta(milliseconds=1500)


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    fake = FakeCluster().start()
    fake.enable_store()
    yield fake
    fake.stop()


class Tracker:
    """Which daemon executed what, and whether two ever ran one rule at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: Counter[str] = Counter()
        self.concurrent = 0
        self.runs: list[tuple[str, str, float]] = []  # (daemon, rule_id, monotonic start)

    def execute(self, name: str) -> Callable[[Backend, Rule, datetime], list[ExecutionRecord]]:
        def run(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
            with self.lock:
                self.active[rule.rule_id] += 1
                self.concurrent += self.active[rule.rule_id] > 1
                self.runs.append((name, rule.rule_id, time.monotonic()))
            try:
                time.sleep(0.05)  # long enough for a second execution to be seen
                return execute_rule(backend, rule, now)
            finally:
                with self.lock:
                    self.active[rule.rule_id] -= 1

        return run

    def by(self, since: float = 0.0) -> dict[str, set[str]]:
        with self.lock:
            found: dict[str, set[str]] = {}
            for name, rule_id, at in self.runs:
                if at >= since:
                    found.setdefault(rule_id, set()).add(name)
            return found


class Running:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.daemon.run(install_signals=False)
        except RunnerError as exc:
            self.error = exc

    def stop(self) -> None:
        self.daemon.request_stop()
        self.thread.join(15)


def wait_until(check: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_three_daemons_split_the_rules_and_take_over_those_of_one_that_stops(
    tmp_path: Path, cluster: FakeCluster
) -> None:
    for i in range(6):
        write_rule(tmp_path, f"rule{i}")
    backend = MemoryBackend()
    tracker = Tracker()
    clients: list[ElasticClient] = []
    running: dict[str, Running] = {}
    try:
        for name in ("d1", "d2", "d3"):
            client = ElasticClient(cluster.settings(), retry=FAST_RETRY)
            clients.append(client)
            daemon = Daemon(
                backend=backend,
                load=lambda: load_rules([tmp_path]),
                options=DaemonOptions(interval=SECOND, lease_ttl=TTL),
                execute=tracker.execute(name),
                metrics=Metrics(labels=(("daemon", name),)),
                leases=ElasticLeases(client, "runner-leases", name=name, ttl=TTL),
            )
            running[name] = Running(daemon)
            assert daemon.wait_started(10)

        def split_evenly() -> bool:
            leases = [r.daemon.leases for r in running.values()]
            owned = [sum(1 for i in range(6) if x and x.owns(f"id-rule{i}")) for x in leases]
            return owned == [2, 2, 2]

        assert wait_until(split_evenly)
        settled = time.monotonic()
        assert wait_until(lambda: len(tracker.by(settled)) == 6)  # every rule ran since
        # Each rule ran in one daemon since the split (the owner)
        assert wait_until(lambda: all(len(names) == 1 for names in tracker.by(settled).values()))
        leases_d3 = running["d3"].daemon.leases
        assert leases_d3 is not None
        of_d3 = {f"id-rule{i}" for i in range(6) if leases_d3.owns(f"id-rule{i}")}
        running["d3"].stop()  # a clean stop releases its leases at once
        stopped = time.monotonic()
        assert wait_until(lambda: of_d3 <= set(tracker.by(stopped)))
        assert all(names <= {"d1", "d2"} for names in tracker.by(stopped).values())
        metrics = running["d1"].daemon.metrics.render() + running["d2"].daemon.metrics.render()
        assert 'runner_leases_owned{daemon="d1"} 3' in metrics
        assert 'runner_leases_owned{daemon="d2"} 3' in metrics
    finally:
        for r in running.values():
            r.stop()
        for client in clients:
            client.close()
    assert tracker.concurrent == 0  # never two executions of one rule at the same time
    assert not any(r.error for r in running.values())
    # No window skipped: no gap reported, and every rule's coverage is contiguous.
    assert not [r for r in backend.executions if r.gap_seconds]
    for i in range(6):
        records = sorted(backend.records(f"id-rule{i}"), key=lambda r: r.started_at)
        assert records and all(r.status == "succeeded" for r in records)
        for before, after in itertools.pairwise(records):
            assert after.window_start is not None and before.window_end is not None
            assert after.window_start <= before.window_end
    rendered = running["d1"].daemon.metrics.render() + running["d2"].daemon.metrics.render()
    assert "runner_lease_overlaps_total{" not in rendered


def test_a_second_daemon_on_one_embedded_store_is_refused_and_the_first_runs_on(
    tmp_path: Path,
) -> None:
    write_rule(tmp_path, "rule0")
    backend = MemoryBackend()
    store = tmp_path / "runner.duckdb"

    def daemon(name: str) -> Daemon:
        return Daemon(
            backend=backend,
            load=lambda: load_rules([tmp_path]),
            options=DaemonOptions(interval=SECOND),
            leases=LocalLeases(store, name=name),
        )

    first = Running(daemon("soc-1"))
    try:
        assert first.daemon.wait_started(10)
        second = Running(daemon("soc-2"))
        second.thread.join(10)
        assert second.error is not None and "soc-1" in str(second.error)
        assert not second.daemon.wait_started(0)
        before = len(backend.records("id-rule0"))
        assert wait_until(lambda: len(backend.records("id-rule0")) > before)
    finally:
        first.stop()


def test_a_daemon_starts_with_the_cluster_down_and_runs_nothing_until_it_holds_a_lease(
    tmp_path: Path, logs: io.StringIO
) -> None:
    write_rule(tmp_path, "rule0")
    down = FakeCluster().start()
    down.stop()  # its port now refuses connections
    backend = MemoryBackend()
    client = ElasticClient(down.settings(), retry=FAST_RETRY)
    daemon = Daemon(
        backend=backend,
        load=lambda: load_rules([tmp_path]),
        options=DaemonOptions(interval=SECOND, lease_ttl=TTL),
        leases=ElasticLeases(client, "runner-leases", name="d1", ttl=TTL),
    )
    running = Running(daemon)
    try:
        assert daemon.wait_started(10)
        assert wait_until(lambda: logs.getvalue().count('"leases_not_renewed"') >= 2)
        assert backend.records("id-rule0") == []  # owns nothing: runs nothing
    finally:
        running.stop()
        client.close()
    assert running.error is None
