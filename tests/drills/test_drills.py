"""Fault drills (marked ``drill``: ``pytest -m drill``): ``runner daemon`` processes against the
engine stand-in (or a real cluster, ``RUNNER_TEST_ES_URL``) behind the fault proxy, each
ending with the one invariant checker: 0 alerts lost, 0 duplicated, every gap searched or
reported (then backfilled), every notification delivered exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drills import scenarios
from tests.drills.cluster import target
from tests.drills.proxy import KINDS
from tests.real_cluster import cluster_url

pytestmark = pytest.mark.drill


@pytest.fixture(params=["stand-in", pytest.param("cluster", marks=pytest.mark.elasticsearch)])
def url(request: pytest.FixtureRequest) -> str | None:
    """None: a fresh engine stand-in; else the real cluster's URL (skipped without one)."""
    return None if request.param == "stand-in" else cluster_url(request)


def test_network_faults_lose_and_repeat_nothing(tmp_path: Path, url: str | None) -> None:
    outcome = scenarios.network_drill(tmp_path, url)
    assert not outcome.problems(), outcome.problems()
    figures = outcome.figures
    assert set(figures.faults) == set(KINDS), figures.faults  # every kind was injected
    assert figures.expected > 0 and figures.written == figures.expected
    assert figures.delivered == figures.notifications > 0


def test_sigkill_at_each_point_of_an_execution_then_restart(
    tmp_path: Path, url: str | None
) -> None:
    outcome = scenarios.process_drill(tmp_path, url)
    assert not outcome.problems(), outcome.problems()
    figures = outcome.figures
    points = {"before_search", "mid_write", "after_write_before_state", "random"}
    assert {kind.removeprefix("sigkill_") for kind in figures.faults} == points
    assert figures.expected > 0 and figures.written == figures.expected
    assert figures.delivered == figures.notifications > 0


def test_an_outage_past_the_catch_up_limit_is_reported_then_backfilled(
    tmp_path: Path, url: str | None
) -> None:
    outcome = scenarios.outage_drill(tmp_path, url)  # (checks status and the execution log)
    assert not outcome.problems(), outcome.problems()
    assert outcome.before.gaps and not outcome.after.gaps
    assert outcome.before.in_gaps and not outcome.after.in_gaps  # held by the gap, then written
    assert outcome.figures.written == outcome.figures.expected > 0


def test_three_daemons_one_killed_and_restarted_repeatedly(tmp_path: Path, url: str | None) -> None:
    outcome = scenarios.three_daemons_drill(tmp_path, url, kills=3)
    assert not outcome.problems(), outcome.problems()
    figures = outcome.figures
    assert figures.faults["sigkill_random"] == 3
    assert figures.moved >= 3 and figures.longest_unowned_s > 0
    assert figures.expected > 0 and figures.written == figures.expected


def test_the_secrets_check_finds_a_printed_key(tmp_path: Path) -> None:
    """The check every drill ends with (``Outcome.leaks``) sees a key in a command's output."""
    with target(tmp_path) as cluster:
        world = scenarios.Drill(tmp_path, cluster, rules=1, interval=2, lookback=16)
        try:
            assert world.leaks() == ()
            world.workspace.outputs.append(f"Authorization: ApiKey {scenarios.API_KEY}")
            assert world.leaks() == ("API key",)
        finally:
            world.close()
