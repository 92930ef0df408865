"""Backfill planning, gap closing and the progress callback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.daemon.backfill import BackfillProgress, backfill_windows, run_backfill
from runner.errors import BackendUnavailable, UsageError
from runner.execution.model import Gap
from tests.daemon.fakes import MemoryBackend, event
from tests.helpers import make_rule

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
RULE = make_rule(rule_id="id-a", from_="now-9m", interval="5m")
INDEX = "logs-endpoint.events.process-default"


def test_windows_have_the_rules_length_oldest_first_last_clipped() -> None:
    windows = backfill_windows(RULE, NOW - 20 * M, NOW)
    assert [(w.start, w.end) for w in windows] == [
        (NOW - 20 * M, NOW - 11 * M),
        (NOW - 11 * M, NOW - 2 * M),
        (NOW - 2 * M, NOW),
    ]
    assert len(backfill_windows(RULE, NOW - 18 * M, NOW)) == 2
    with pytest.raises(UsageError, match="must be before"):
        backfill_windows(RULE, NOW, NOW - M)


def test_backfill_writes_each_alert_once_and_closes_the_gap_it_covers() -> None:
    # Events every 7 minutes from now-7m to now-42m: five lie in the range, one before it.
    backend = MemoryBackend([event(INDEX, f"e{i}", NOW - i * 7 * M) for i in range(1, 7)])
    gap = Gap(
        rule_id=RULE.rule_id, start=NOW - 40 * M + timedelta(microseconds=400), end=NOW - 5 * M
    )
    backend.record_gap(gap)
    seen: list[BackfillProgress] = []
    # --from as printed: milliseconds, so a little before the stored microsecond gap start.
    result = run_backfill(RULE, NOW - 40 * M, NOW - 5 * M, backend=backend, progress=seen.append)
    assert result.planned == 4 and len(result.records) == 4 and not result.failed
    assert result.alerts_created == 5
    assert [p.done for p in seen] == [1, 2, 3, 4] and seen[-1].alerts_created == 5
    assert backend.open_gaps() == [] and result.gaps_closed[0].start == gap.start
    again = run_backfill(RULE, NOW - 40 * M, NOW - 5 * M, backend=backend)
    assert again.alerts_created == 0 and again.duplicates == 5


def test_a_range_short_of_the_gap_end_shortens_it() -> None:
    backend = MemoryBackend()
    backend.record_gap(Gap(rule_id=RULE.rule_id, start=NOW - 60 * M, end=NOW - 10 * M))
    result = run_backfill(RULE, NOW - 60 * M, NOW - 30 * M, backend=backend)
    assert result.gaps_open == (Gap(rule_id=RULE.rule_id, start=NOW - 30 * M, end=NOW - 10 * M),)


def test_a_range_starting_inside_the_gap_leaves_it_open() -> None:
    backend = MemoryBackend()
    gap = Gap(rule_id=RULE.rule_id, start=NOW - 60 * M, end=NOW - 10 * M)
    backend.record_gap(gap)
    result = run_backfill(RULE, NOW - 50 * M, NOW - 10 * M, backend=backend)
    assert result.gaps_closed == () and result.gaps_open == (gap,)


def test_a_failed_window_stops_gap_coverage_at_the_last_contiguous_success() -> None:
    backend = MemoryBackend()
    backend.record_gap(Gap(rule_id=RULE.rule_id, start=NOW - 30 * M, end=NOW))
    calls = {"n": 0}
    original = backend.search_eql

    def flaky(request):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise BackendUnavailable("cluster unavailable")
        return original(request)

    backend.search_eql = flaky  # type: ignore[method-assign]
    result = run_backfill(RULE, NOW - 30 * M, NOW, backend=backend)
    assert [r.status for r in result.records] == ["succeeded", "failed", "succeeded", "succeeded"]
    assert result.covered_to == NOW - 21 * M
    assert result.gaps_open == (Gap(rule_id=RULE.rule_id, start=NOW - 21 * M, end=NOW),)
