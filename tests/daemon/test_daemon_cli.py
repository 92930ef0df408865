"""Argument handling of ``runner daemon | status | backfill`` (in-process, no scheduling)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli.main import main
from tests.conftest import SEED_RULES


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    base = ["--log-format", "json", "--rules", str(SEED_RULES), "--store", str(tmp_path / "s.db")]
    code = main([*base, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["daemon", "--rule", "no-such-rule"], "no rule matches 'no-such-rule'"),
        (["daemon", "--workers", "0"], "--workers must be between 1 and 64"),
        (["daemon", "--interval", "0s"], "--interval must be positive"),
        (["daemon", "--grace", "soon"], "invalid duration 'soon'"),
        (["backfill"], "backfill needs --rule NAME and --from TIME"),
        (["backfill", "--rule", "emond", "--from", "now-1h", "--to", "now+1h"], "in the future"),
        (["backfill", "--rule", "emond", "--from", "now", "--to", "now-1h"], "must be before"),
        (["backfill", "--gaps", "--from", "now-1h"], "drop --from/--to"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = run(capsys, tmp_path, *args)
    assert code == 2 and message in err


def test_status_of_a_fresh_store_lists_every_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, tmp_path, "status")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["rule", "enabled", "interval"]
    assert "emond_child_process" in out and "never" in out and "open gaps" not in out
    code, out, _ = run(capsys, tmp_path, "status", "--json", "--rule", "emond")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["short_name"] == "emond_child_process" and row["last_execution"] is None


def test_backfill_gaps_with_none_open(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, tmp_path, "backfill", "--gaps")
    assert code == 0 and out.strip() == "no open gaps"
