"""One supervised execution: completes, raises, overruns its budget, or is cut by shutdown."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta

from runner.backends.base import Backend
from runner.daemon.metrics import Metrics, format_value
from runner.daemon.supervisor import Execute, Supervisor, execute_rule
from runner.execution.model import ExecutionRecord, Gap, RuleState
from runner.rules.model import Rule
from tests.daemon.fakes import MemoryBackend, event
from tests.helpers import make_rule

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RULE = make_rule(rule_id="rule-a", name="Rule A", interval="5m", from_="now-9m")
OTHER = make_rule(rule_id="rule-b", name="Rule B", path=RULE.path.with_name("b.toml"))
INDEX = "logs-endpoint.events.process-default"


def supervisor(
    backend: MemoryBackend,
    *,
    execute: Execute = execute_rule,
    budget: timedelta | None = None,
    metrics: Metrics | None = None,
) -> Supervisor:
    return Supervisor(
        backend=backend,
        interval_of=lambda rule: timedelta(minutes=5),
        execute=execute,
        budget=budget,
        metrics=metrics,
        clock=lambda: NOW,
    )


def test_a_completed_execution_writes_alerts_advances_state_and_counts() -> None:
    backend = MemoryBackend([event(INDEX, "e1", NOW - timedelta(minutes=1))])
    metrics = Metrics()
    summary = supervisor(backend, metrics=metrics).run(RULE)
    assert summary.outcome == "completed" and summary.status == "succeeded"
    assert len(backend.alerts) == 1
    assert backend.states[RULE.rule_id].covered_to == NOW
    text = metrics.render()
    assert (
        'runner_executions_total{rule_id="rule-a",rule_name="Rule A",status="succeeded"} 1' in text
    )
    assert 'runner_alerts_created_total{rule_id="rule-a",rule_name="Rule A"} 1' in text


def test_an_execution_that_raises_is_recorded_failed_and_state_does_not_move(
    logs: io.StringIO,
) -> None:
    backend = MemoryBackend()
    backend.states[RULE.rule_id] = RuleState(
        rule_id=RULE.rule_id, covered_to=NOW - timedelta(minutes=5)
    )

    def explode(_backend: Backend, _rule: Rule, _now: datetime) -> list[ExecutionRecord]:
        raise ValueError("boom")

    summary = supervisor(backend, execute=explode).run(RULE)
    assert summary.status == "failed"
    [record] = backend.records(RULE.rule_id)
    assert record.message == "execution raised ValueError: boom"
    assert (record.window_start, record.window_end) == (NOW - timedelta(minutes=9), NOW)
    assert backend.states[RULE.rule_id].covered_to == NOW - timedelta(minutes=5)
    assert "rule_execution_crashed" in logs.getvalue() and "Traceback" in logs.getvalue()


def test_a_hanging_execution_is_abandoned_at_its_budget_and_cannot_write_later() -> None:
    backend = MemoryBackend([event(INDEX, "e1", NOW - timedelta(minutes=1))])
    backend.block = threading.Event()
    sup = supervisor(backend, budget=timedelta(milliseconds=200))
    started = time.monotonic()
    summary = sup.run(RULE)
    assert time.monotonic() - started < 2
    assert summary.outcome == "abandoned" and summary.status == "failed"
    [record] = backend.records(RULE.rule_id)
    assert record.message.startswith("time budget exceeded (200ms); execution abandoned")
    assert len(sup.stuck()) == 1

    # While it hangs, the next run of the same rule is skipped (and says so).
    skipped = sup.run(RULE)
    assert skipped.outcome == "skipped" and "still running" in skipped.records[0].message

    # Once it ends, its alerts and state are refused: the window is searched again next time.
    job = sup.stuck()[0]
    backend.block.set()
    assert job.finished.wait(5)
    assert backend.alerts == {} and RULE.rule_id not in backend.states
    backend.block = None
    assert sup.run(RULE).outcome == "completed"
    assert len(backend.alerts) == 1 and backend.states[RULE.rule_id].covered_to == NOW


def test_a_hanging_rule_does_not_hold_up_another() -> None:
    release = threading.Event()

    def execute(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        if rule is RULE:
            release.wait(10)
        return execute_rule(backend, rule, now)

    backend = MemoryBackend()
    sup = supervisor(backend, execute=execute, budget=timedelta(seconds=5))
    hung = threading.Thread(target=sup.run, args=(RULE,))
    hung.start()
    started = time.monotonic()
    assert sup.run(OTHER).outcome == "completed"
    assert time.monotonic() - started < 1
    release.set()
    hung.join(5)


def test_shutdown_waits_for_a_short_execution_and_cuts_a_long_one() -> None:
    backend = MemoryBackend()
    slow_done, release = threading.Event(), threading.Event()

    def execute(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        if rule is RULE:
            release.wait(10)  # longer than the grace period
        else:
            time.sleep(0.2)  # within it
            slow_done.set()
        return execute_rule(backend, rule, now)

    sup = supervisor(backend, execute=execute)
    runs = [threading.Thread(target=sup.run, args=(rule,)) for rule in (RULE, OTHER)]
    for thread in runs:
        thread.start()
    deadline = time.monotonic() + 5
    while len(sup.running()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    cut = sup.stop(timedelta(seconds=1))
    assert 0.9 < time.monotonic() - started < 3
    assert [job.rule.rule_id for job in cut] == [RULE.rule_id]
    assert slow_done.is_set() and OTHER.rule_id in backend.states
    [record] = backend.records(RULE.rule_id)
    assert record.status == "failed" and record.message.startswith("interrupted by shutdown")
    assert sup.run(OTHER).outcome == "refused"  # nothing new starts once stopping
    release.set()
    for thread in runs:
        thread.join(5)
    assert RULE.rule_id not in backend.states  # the cut execution never advanced state


class GapCountingBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.gap_searches = 0

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]:
        self.gap_searches += 1
        return super().open_gaps(rule_id)


def test_open_gaps_are_searched_only_when_they_can_have_changed() -> None:
    """A rule without gaps costs no gap search per run; a reported gap is seen at once and
    watched until a backfill closes it."""
    backend = GapCountingBackend()
    metrics = Metrics()
    clock = [NOW]
    sup = Supervisor(backend=backend, interval_of=lambda rule: timedelta(minutes=5),
                     metrics=metrics, clock=lambda: clock[0])  # fmt: skip
    gauge = 'runner_open_gap_seconds{rule_id="rule-a",rule_name="Rule A"}'
    sup.run(RULE)  # first run here: looked up once
    assert backend.gap_searches == 1
    for _ in range(3):
        clock[0] += timedelta(minutes=5)
        sup.run(RULE)
    assert backend.gap_searches == 1  # nothing can have opened one
    clock[0] += timedelta(hours=2)  # downtime beyond catch-up: the run reports a gap
    sup.run(RULE)
    assert backend.gap_searches == 2
    (gap,) = backend.open_gaps(RULE.rule_id)
    assert gap.seconds > 0
    assert f"{gauge} {format_value(gap.seconds)}" in metrics.render()
    backend.gap_searches = 0
    clock[0] += timedelta(minutes=5)
    sup.run(RULE)  # still open: watched
    assert backend.gap_searches == 1
    backend.close_gap(gap, gap.end)  # a backfill elsewhere
    clock[0] += timedelta(minutes=5)
    sup.run(RULE)
    assert backend.gap_searches == 2
    assert f"{gauge} 0" in metrics.render()
    clock[0] += timedelta(minutes=5)
    sup.run(RULE)
    assert backend.gap_searches == 2  # clear again: no more searches
