"""Detection as code: the seed rules' cases under tests/rules/, run through ``runner test``.

Each folder ``tests/rules/<rule file stem>/`` holds NDJSON events and an ``expected.toml``
(format: :mod:`runner.ruletest`). The expectations are derived from Elasticsearch / Kibana
semantics (SEMANTICS.md), not from the embedded engine's output: a failing case here is an
engine bug until shown otherwise.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.cli.output import shorten
from tests.conftest import REPO_ROOT, SEED_RULES

CASES_DIR = REPO_ROOT / "tests" / "rules"
RULE_STEMS = (
    "emond_child_process",
    "hidden_launch_agent_daemon",
    "installer_package_network",
    "exim4_child_process",
    "exfiltration_ecr_repository_policy_granted_public_access",
    "impact_bedrock_api_key_destructive_action",
    "execution_potential_widespread_malware_infection",
    "impact_process_kill_threshold",
    "threat_intel_indicator_match_hash",
)


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./runner.toml, store or cluster from the environment leaks into the run."""
    for name in ("RUNNER_RULES", "RUNNER_STORE", "RUNNER_ES_URL", "RUNNER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


def run_test_command(capsys: pytest.CaptureFixture[str], cases: Path) -> tuple[int, str]:
    code = main(
        [
            "--rules", str(SEED_RULES), "--log-format", "json", "--log-level", "warning",
            "test", "--cases", str(cases),
        ]
    )  # fmt: skip
    out, _ = capsys.readouterr()
    return code, out


def declared_cases(cases: Path) -> list[tuple[str, str]]:
    """(rule stem, case name) of every [[case]] under ``cases``, read straight from the TOML."""
    found = []
    for expected in sorted(cases.glob("*/expected.toml")):
        document = tomllib.loads(expected.read_text(encoding="utf-8"))
        found += [(expected.parent.name, case["name"]) for case in document["case"]]
    return found


def result_rows(out: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The printed table as {(rule, case): (result, details)}; columns are 2+ spaces apart."""
    rows = {}
    for line in out.splitlines():
        cells = re.split(r" {2,}", line.strip())
        if len(cells) >= 3 and cells[0] in RULE_STEMS:
            details = cells[3] if len(cells) > 3 else ""
            rows[(cells[0], cells[1])] = (cells[2], details)
    return rows


def test_every_seed_rule_has_cases() -> None:
    declared = declared_cases(CASES_DIR)
    assert {stem for stem, _ in declared} == set(RULE_STEMS)
    for stem in RULE_STEMS:
        assert len([s for s, _ in declared if s == stem]) >= 5, stem
    assert len(set(declared)) == len(declared), "case names must be unique per rule"
    # Names fit the table's 50-character column, so `runner test` shows them whole.
    assert all(len(name) <= 50 for _, name in declared)


def test_runner_test_passes_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_test_command(capsys, CASES_DIR)
    rows = result_rows(out)
    declared = declared_cases(CASES_DIR)
    failing = {key: value for key, value in rows.items() if value[0] != "pass"}
    assert not failing, "\n" + out
    for stem, name in declared:
        assert rows.get((stem, shorten(name, 50)), ("missing",))[0] == "pass", (stem, name, out)
    assert f"{len(declared)} passed, 0 failed" in out
    assert code == 0, out


def test_runner_test_reports_a_broken_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Corrupt one expectation of a copied folder: exit 1, and the failing case is named."""
    cases = tmp_path / "cases"
    shutil.copytree(CASES_DIR / "emond_child_process", cases / "emond_child_process")
    expected = cases / "emond_child_process" / "expected.toml"
    text = expected.read_text(encoding="utf-8")
    original = 'alert = ["tp-at-window-start"]'
    assert text.count(original) == 1
    # The event 1 ms before the window start must not alert: claim that it does.
    expected.write_text(
        text.replace(original, 'alert = ["tp-at-window-start", "fp-1ms-before-window"]'),
        encoding="utf-8",
    )
    corrupted = "window start now-9m inclusive, 1 ms earlier out"

    code, out = run_test_command(capsys, cases)

    assert code == 1, out
    rows = result_rows(out)
    result, details = rows[("emond_child_process", shorten(corrupted, 50))]
    assert result == "FAIL"
    assert "fp-1ms-before-window" in details
    others = [value for key, value in rows.items() if key[1] != shorten(corrupted, 50)]
    assert others and all(result == "pass" for result, _ in others), out
    assert f"{len(others)} passed, 1 failed" in out
