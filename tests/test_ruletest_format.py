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
