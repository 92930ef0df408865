"""Leases and holds (runner.daemon.leases): one contract over both implementations, then what
only the cluster's leases do (split, take over) and what only the embedded store's do (one
daemon per store file)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.daemon.leases import DaemonRefused, Leases, RuleBusyError
from runner.daemon.leases_elastic import ElasticLeases
from runner.daemon.leases_local import LocalLeases
from runner.elastic.client import ElasticClient
from runner.execution.model import ExecutionRecord
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import FakeCluster

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)
NO_WAIT = timedelta(0)


@dataclass
class Clock:
    now: datetime = T0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, by: timedelta) -> None:
        with self.lock:
            self.now += by


Factory = Callable[[str], Leases]


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    fake = FakeCluster().start()
    fake.enable_store()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def on_cluster(cluster: FakeCluster, clock: Clock) -> Iterator[Factory]:
    clients: list[ElasticClient] = []

    def factory(name: str) -> Leases:
        client = ElasticClient(cluster.settings(), retry=FAST_RETRY)
        clients.append(client)
        return ElasticLeases(client, "runner-leases", name=name, ttl=TTL, clock=clock)

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(params=["embedded", "elasticsearch"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    if request.param == "embedded":
        return lambda name: LocalLeases(tmp_path / "runner.duckdb", name=name)
    factory: Factory = request.getfixturevalue("on_cluster")
    return factory


def window(end: datetime, minutes: int = 5) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"x-{end.isoformat()}", rule_id="r1", rule_name="R1", started_at=end,
        ended_at=end, window_start=end - timedelta(minutes=minutes), window_end=end,
        status="succeeded",
    )  # fmt: skip


# -- the contract ----------------------------------------------------------------------------
def test_a_lone_daemon_owns_every_rule_and_status_names_it(make: Factory) -> None:
    leases = make("d1")
    result = leases.start(["r1", "r2"])
    assert sorted(result.owned) == ["r1", "r2"]
    assert leases.owns("r1") and leases.owns("r2")
    observer = make("status")
    assert {o.rule_id: o.owner for o in observer.owners(["r1", "r2"]).values()} == {
        "r1": "d1",
        "r2": "d1",
    }
    leases.stop()
    assert not leases.owns("r1")
    assert [o.owner for o in observer.owners(["r1"]).values()] == [None]


def test_a_hold_keeps_out_a_second_execution_of_the_rule_until_released(make: Factory) -> None:
    owner, once = make("d1"), make("once:host-1")
    with owner.hold("r1", wait=NO_WAIT, ttl=TTL):
        busy = pytest.raises(RuleBusyError, match="rule r1 is being executed by d1")
        with busy, once.hold("r1", wait=timedelta(milliseconds=200), ttl=TTL):
            pass
        with once.hold("r2", wait=NO_WAIT, ttl=TTL):  # another rule is free
            pass
    with once.hold("r1", wait=NO_WAIT, ttl=TTL) as hold:
        assert hold.holder == "once:host-1"


def test_a_waiting_hold_runs_right_after_the_first_is_released(make: Factory) -> None:
    first, second = make("d1"), make("backfill:host-1")
    order: list[str] = []
    entered = threading.Event()

    def later() -> None:
        entered.wait(5)
        with second.hold("r1", wait=timedelta(seconds=10), ttl=TTL):
            order.append("backfill")

    thread = threading.Thread(target=later)
    thread.start()
    with first.hold("r1", wait=NO_WAIT, ttl=TTL):
        entered.set()
        threading.Event().wait(0.3)  # the backfill is waiting now, or soon
        order.append("owner")
    thread.join(10)
    assert order == ["owner", "backfill"]


def test_a_window_executed_again_by_another_process_is_counted_as_an_overlap(
    make: Factory,
) -> None:
    a, b = make("d1"), make("d2")
    with a.hold("r1", wait=NO_WAIT, ttl=TTL) as hold:
        assert hold.executed([window(T0), window(T0 + timedelta(minutes=5))]) == 0
    with a.hold("r1", wait=NO_WAIT, ttl=TTL) as hold:  # the same process again: not an overlap
        assert hold.executed([window(T0 + timedelta(minutes=5))]) == 0
    with b.hold("r1", wait=NO_WAIT, ttl=TTL) as hold:
        assert (hold.previous_by, hold.previous_end) == ("d1", T0 + timedelta(minutes=5))
        # One window the first already executed, one new: one overlap.
        found = hold.executed([window(T0 + timedelta(minutes=5)), window(T0 + timedelta(10))])
        assert found == 1
    assert make("status").owners(["r1"])["r1"].overlaps == 1
    with a.hold("r1", wait=NO_WAIT, ttl=TTL) as hold:
        assert hold.previous_by == "d2"


def test_the_first_error_wins_over_releasing_the_hold(make: Factory) -> None:
    leases = make("d1")
    with pytest.raises(ZeroDivisionError), leases.hold("r1", wait=NO_WAIT, ttl=TTL):
        _ = 1 / 0
    with make("d2").hold("r1", wait=NO_WAIT, ttl=TTL):  # released although the body raised
        pass


# -- several daemons on a cluster ------------------------------------------------------------
RULES = [f"rule-{i}" for i in range(10)]


def test_daemons_split_the_rules_and_a_newcomer_gets_its_share(on_cluster: Factory) -> None:
    make = on_cluster
    a, b = make("d1"), make("d2")
    assert len(a.start(RULES).owned) == 10
    assert b.start(RULES).owned == ()  # all taken; d1 hands some over at its next renewal
    assert len(a.tick(RULES).released) == 5
    assert len(b.tick(RULES).claimed) == 5
    owned_a = {r for r in RULES if a.owns(r)}
    owned_b = {r for r in RULES if b.owns(r)}
    assert len(owned_a) == len(owned_b) == 5 and not owned_a & owned_b
    # Steady state: renewals change nothing.
    assert (a.tick(RULES).claimed, b.tick(RULES).claimed) == ((), ())


def test_the_rules_of_a_daemon_that_stops_renewing_are_taken_over_after_the_lease_time(
    on_cluster: Factory, clock: Clock
) -> None:
    make = on_cluster
    a, b, c = make("d1"), make("d2"), make("d3")
    for leases in (a, b, c):
        leases.start(RULES)
    for _ in range(2):
        for leases in (a, b, c):
            leases.tick(RULES)
    assert sorted(len([r for r in RULES if x.owns(r)]) for x in (a, b, c)) == [3, 3, 4]
    lost = {r for r in RULES if c.owns(r)}
    # d3 is stuck (or cut off): it renews nothing; d1 and d2 keep renewing.
    clock.advance(TTL / 2)
    a.tick(RULES), b.tick(RULES)
    assert not (set(a.tick(RULES).claimed) | set(b.tick(RULES).claimed)) & lost
    clock.advance(TTL / 2 + timedelta(seconds=1))
    assert not any(c.owns(r) for r in RULES)  # by its own clock, d3 stopped running them
    moved = [*a.tick(RULES).moved, *b.tick(RULES).moved]
    assert {m.rule_id for m in moved} == lost
    assert {m.previous for m in moved} == {"d3"}
    assert all(m.unowned >= TTL for m in moved)
    assert all(a.owns(r) != b.owns(r) for r in RULES)  # every rule has exactly one owner
    owners = make("status").owners(RULES)
    assert {o.owner for o in owners.values()} == {"d1", "d2"}
    # d3 comes back: it learns it lost them, and gets a share once the others release theirs.
    assert set(c.tick(RULES).lost) == lost
    a.tick(RULES), b.tick(RULES), c.tick(RULES)
    assert sorted(len([r for r in RULES if x.owns(r)]) for x in (a, b, c)) == [3, 3, 4]


def test_an_expired_hold_taken_over_counts_as_an_overlap(on_cluster: Factory, clock: Clock) -> None:
    make = on_cluster
    stuck, other = make("d1"), make("d2")
    with stuck.hold("r1", wait=NO_WAIT, ttl=TTL):
        clock.advance(TTL + timedelta(seconds=1))
        with other.hold("r1", wait=NO_WAIT, ttl=TTL) as hold:
            assert hold.stolen_from == "d1"
            assert hold.executed([]) == 1


# -- one daemon per embedded store -----------------------------------------------------------
def test_a_second_daemon_on_the_same_store_file_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    first = LocalLeases(tmp_path / "runner.duckdb", name="soc-1-4242")
    first.start(["r1"])
    second = LocalLeases(tmp_path / "runner.duckdb", name="soc-2-77")
    with pytest.raises(DaemonRefused) as refused:
        second.start(["r1"])
    message = str(refused.value)
    assert "soc-1-4242" in message and "pid " in message and str(tmp_path) in message
    assert not second.owns("r1")
    first.stop()
    assert len(second.start(["r1"]).owned) == 1  # free again once the first stopped
    second.stop()


def test_a_killed_daemon_s_hold_lapses_a_budget_and_a_lease_time_after_it_was_taken(
    on_cluster: Factory, clock: Clock
) -> None:
    """Found by the process drill: the hold outlived the budget by 30s whatever
    ``daemon.lease_ttl`` said, so a killed daemon kept the rule from its next owner that long."""
    from runner.daemon.leases import leased_execute
    from tests.notify.factories import emond_rule

    rule = emond_rule()
    budget, lease_ttl = timedelta(seconds=4), timedelta(seconds=2)
    ran: list[str] = []

    def execute(name: str) -> Callable[..., list[ExecutionRecord]]:
        def run(backend: object, rule: object, now: datetime) -> list[ExecutionRecord]:
            ran.append(name)
            if name == "killed":  # dies inside its execution: the hold is never released
                raise KeyboardInterrupt
            return []

        return run

    first = on_cluster("d1")
    killed = leased_execute(first, execute("killed"), budget=lambda r: budget,
                            lease_ttl=lease_ttl)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(first, "_release", lambda *a: None)  # the release never reaches the cluster
        killed(None, rule, clock())  # type: ignore[arg-type]
    successor = leased_execute(on_cluster("d1"), execute("restarted"), budget=lambda r: budget,
                               wait=NO_WAIT, lease_ttl=lease_ttl)  # fmt: skip
    clock.advance(budget + lease_ttl - timedelta(seconds=1))
    with pytest.raises(RuleBusyError):
        successor(None, rule, clock())  # type: ignore[arg-type]
    clock.advance(timedelta(seconds=2))
    assert successor(None, rule, clock()) == []  # type: ignore[arg-type]
    assert ran == ["killed", "restarted"]
