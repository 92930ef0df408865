"""The time budget and the fence that keeps an abandoned execution from writing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from runner.daemon.budget import (
    MAX_BUDGET,
    MIN_BUDGET,
    AbandonedExecutionError,
    Fence,
    FencedBackend,
    time_budget,
)
from runner.execution.model import Gap, RuleState
from tests.daemon.fakes import MemoryBackend

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_budget_is_the_interval_clamped_and_an_override_wins() -> None:
    assert time_budget(timedelta(minutes=5)) == timedelta(minutes=5)
    assert time_budget(timedelta(seconds=1)) == MIN_BUDGET
    assert time_budget(timedelta(hours=6)) == MAX_BUDGET
    assert time_budget(timedelta(hours=6), timedelta(seconds=3)) == timedelta(seconds=3)


def test_fence_refuses_writes_once_abandoned() -> None:
    fence = Fence()
    assert fence.guard(lambda: 1) == 1
    assert fence.abandon("time budget exceeded (1s)")
    assert fence.settled == "abandoned" and fence.done.is_set()
    with pytest.raises(AbandonedExecutionError, match="time budget exceeded"):
        fence.guard(lambda: 2)
    assert not fence.complete()


def test_final_write_settles_as_completed_and_abandon_then_loses() -> None:
    fence = Fence()
    fence.guard(lambda: None, final=True)
    assert fence.settled == "completed"
    assert not fence.abandon("too late")
    assert fence.guard(lambda: 3) == 3  # completed executions are never fenced off


def test_abandon_waits_for_a_write_in_progress() -> None:
    fence = Fence()
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_write() -> None:
        inside.set()
        release.wait(5)
        order.append("write")

    writer = threading.Thread(target=lambda: fence.guard(slow_write, final=True))
    writer.start()
    inside.wait(5)
    threading.Timer(0.1, release.set).start()
    won = fence.abandon("budget", wait=5)
    order.append("abandon")
    writer.join(5)
    # The write settled the execution before abandon could take the lock.
    assert order == ["write", "abandon"] and not won and fence.settled == "completed"


def test_abandon_does_not_wait_forever_for_a_stuck_write() -> None:
    fence = Fence()
    inside, release = threading.Event(), threading.Event()

    def stuck() -> None:
        inside.set()
        release.wait(5)

    writer = threading.Thread(target=lambda: fence.guard(stuck))
    writer.start()
    inside.wait(5)
    assert fence.abandon("shutdown", wait=0.05)
    release.set()
    writer.join(5)
    with pytest.raises(AbandonedExecutionError):
        fence.guard(lambda: None)


def test_fenced_backend_passes_reads_and_guards_writes() -> None:
    inner = MemoryBackend()
    fence = Fence()
    backend = FencedBackend(inner, fence)
    state = RuleState(rule_id="r", covered_to=NOW)
    gap = Gap(rule_id="r", start=NOW - timedelta(hours=1), end=NOW)
    backend.record_gap(gap)
    assert backend.open_gaps("r") == [gap] and backend.name == "memory"
    fence.abandon("budget")
    for write in (
        lambda: backend.save_state(state),
        lambda: backend.write_alerts([{"kibana.alert.uuid": "a"}]),
        lambda: backend.record_gap(gap),
        lambda: backend.close_gap(gap, NOW),
    ):
        with pytest.raises(AbandonedExecutionError):
            write()
    assert inner.states == {} and inner.alerts == {}
    assert backend.load_state("r") is None and backend.existing_alert_ids(["a"]) == set()
