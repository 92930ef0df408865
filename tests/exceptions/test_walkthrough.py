"""The README walkthrough: run the demo, add an exception from the false-positive emond alert
(launchctl, which the rule's false positive analysis names), run again: that kind of alert no
longer appears, the true positives still do."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from runner.cli.main import main
from tests.conftest import SEED_RULES


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["--log-format", "json", *args]) == 0
    return capsys.readouterr().out


def kind(line: str) -> str:
    found = re.search(r"with process (\S+), parent process emond", line)
    assert found, line
    return found[1]


def emond_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if "Suspicious Emond Child Process" in line]


def test_walkthrough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("RUNNER_RULES", "RUNNER_STORE", "RUNNER_ES_URL", "RUNNER_EXCEPTIONS"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(SEED_RULES, tmp_path / "rules")
    monkeypatch.chdir(tmp_path)

    run(capsys, "demo", "--seed", "7")
    before = emond_rows(run(capsys, "alerts", "list", "--rule", "emond"))
    (fp,) = [line for line in before if "process launchctl" in line]
    kinds = {kind(line) for line in before}
    assert "launchctl" in kinds and len(kinds) >= 3

    alert_id = fp.split()[-1]
    comment = "IT runs launchctl from emond rules"
    out = run(capsys, "exceptions", "add", "--rule", "emond", "--from-alert", alert_id,
              "--field", "process.executable", "--comment", comment)  # fmt: skip
    assert "process.executable is /bin/launchctl" in out
    assert (tmp_path / "exceptions" / "emond_child_process_exceptions.toml").is_file()

    run(capsys, "demo", "--seed", "7")  # the same activity again, a little later
    after = [kind(line) for line in emond_rows(run(capsys, "alerts", "list", "--rule", "emond"))]
    # Every true positive alerted twice; the launchctl one only the first time.
    assert sorted(after) == sorted([*kinds, *(kinds - {"launchctl"})])
