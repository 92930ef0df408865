from datetime import UTC, datetime, timedelta

from runner.execution.model import RuleState
from runner.execution.windows import MAX_CATCH_UP, plan_windows
from tests.helpers import make_rule

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RULE = make_rule(from_="now-9m", interval="5m")
M = timedelta(minutes=1)


def state(covered_to: datetime | None) -> RuleState:
    return RuleState(rule_id=RULE.rule_id, covered_to=covered_to)


def test_first_run_searches_the_main_window_only() -> None:
    plan = plan_windows(RULE, NOW, None)
    assert [(w.start, w.end) for w in plan.windows] == [(NOW - 9 * M, NOW)]
    assert plan.gap is None


def test_on_schedule_run_overlaps_the_previous_window_without_catch_up() -> None:
    plan = plan_windows(RULE, NOW, state(NOW - 5 * M))
    assert len(plan.windows) == 1 and plan.gap is None


def test_covered_exactly_to_window_start_needs_no_catch_up() -> None:
    plan = plan_windows(RULE, NOW, state(NOW - 9 * M))
    assert len(plan.windows) == 1


def test_downtime_adds_catch_up_windows_oldest_first_each_rule_length() -> None:
    # Covered up to 20 minutes ago: 11 minutes uncovered -> ceil(11/5) = 3 extra windows.
    plan = plan_windows(RULE, NOW, state(NOW - 20 * M))
    spans = [(w.start, w.end, w.catch_up) for w in plan.windows]
    assert spans == [
        (NOW - 24 * M, NOW - 15 * M, True),
        (NOW - 19 * M, NOW - 10 * M, True),
        (NOW - 14 * M, NOW - 5 * M, True),
        (NOW - 9 * M, NOW, False),
    ]
    assert plan.gap is None
    assert plan.windows[0].start <= NOW - 20 * M  # nothing left uncovered


def test_long_downtime_is_capped_and_reports_the_gap() -> None:
    covered = NOW - 2 * timedelta(hours=1)
    plan = plan_windows(RULE, NOW, state(covered))
    assert len(plan.windows) == MAX_CATCH_UP + 1
    oldest = plan.windows[0]
    assert oldest.start == NOW - 9 * M - MAX_CATCH_UP * 5 * M
    assert plan.gap is not None
    assert (plan.gap.start, plan.gap.end) == (covered, oldest.start)
    assert plan.gap.seconds == (oldest.start - covered).total_seconds()
