"""``expected.toml`` problems are reported with the file and the case, not as a crash."""

from pathlib import Path

import pytest

from runner.errors import UsageError
from runner.rules.loader import load_rules
from runner.ruletest import discover_cases
from tests.conftest import SEED_RULES


def _cases(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "emond_child_process"
    folder.mkdir()
    (folder / "e.ndjson").write_text("")
    (folder / "expected.toml").write_text(text)
    discover_cases(tmp_path, load_rules([SEED_RULES]).rules)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[case]]\nname = "x"\n', "case[0].now: required"),
        ('[[case]]\nname = "x"\nnow = "yesterday"\n', "case[0].now: invalid time"),
        ('[[case]]\nname = "x"\nnow = "2024-05-01T12:00:00Z"\nalert = "tp"\n', "case[0].alert"),
        ('[[case]]\nname = "x"\nnow = "2024-05-01T12:00:00Z"\nevents = ["nope.ndjson"]\n',
         "file not found"),
        ("case = 1\n", "expected one or more [[case]] tables"),
        ("[[case\n", "expected.toml"),
    ],
)  # fmt: skip
def test_bad_expectations_name_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        _cases(tmp_path, text)
    assert message in str(caught.value)
    assert "expected.toml" in str(caught.value)


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    emond = tmp_path / "emond_child_process"
    exim = tmp_path / "exim4_child_process"
    for folder in (emond, exim):
        folder.mkdir()
        (folder / "e.ndjson").write_text("")
    (emond / "expected.toml").write_text(
        '[[case]]\nname = "typo"\nnow = "2024-05-01T12:00:00Z"\nno_alerts = ["fp"]\n'
        '[[case]]\nname = "types"\nnow = "2024-05-01T12:00:00Z"\nalerts = "2"\n'
        'status = "ok"\n'
        '[[case]]\nnow = "never"\n'
    )  # fmt: skip
    (exim / "expected.toml").write_text("[[case\n")
    with pytest.raises(UsageError) as caught:
        discover_cases(tmp_path, load_rules([SEED_RULES]).rules)
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid test cases:"
    problems = [line.strip() for line in lines[1:]]
    emond_file, exim_file = emond / "expected.toml", exim / "expected.toml"
    assert len(problems) == 6
    assert problems[:4] == [
        f"{emond_file}: case[0]: unknown key 'no_alerts'",
        f"{emond_file}: case[1].alerts: expected a number of alerts",
        f"{emond_file}: case[1].status: expected one of 'succeeded', 'partial failure', 'failed'",
        f"{emond_file}: case[2]: each case needs a name",
    ]
    assert problems[4].startswith(f"{emond_file}: case[2].now: invalid")
    assert problems[5].startswith(f"{exim_file}: ")


def test_valid_cases_are_read_with_their_expectations(tmp_path: Path) -> None:
    folder = tmp_path / "emond_child_process"
    folder.mkdir()
    (folder / "a.ndjson").write_text("")
    (folder / "expected.toml").write_text(
        '[[case]]\nname = "one"\nnow = ["2024-05-01T12:00:00Z", "2024-05-01T12:05:00Z"]\n'
        'alert = ["tp"]\nno_alert = ["fp"]\nalerts = 1\nstatus = "partial failure"\n'
    )  # fmt: skip
    [case] = discover_cases(tmp_path, load_rules([SEED_RULES]).rules)
    assert (case.name, case.alert, case.no_alert, case.alerts, case.status) == (
        "one", frozenset({"tp"}), frozenset({"fp"}), 1, "partial failure"
    )  # fmt: skip
    assert len(case.now) == 2 and case.events == (folder / "a.ndjson",)
