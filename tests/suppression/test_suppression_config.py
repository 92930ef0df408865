"""``[rule.alert_suppression]`` is read, checked and every problem named by its key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runner.rules.loader import load_rules
from runner.suppression.model import AlertSuppression, Duration

BASE = """
[metadata]
creation_date = "2024/05/01"
[rule]
rule_id = "r1"
name = "r"
description = "d"
type = "eql"
language = "eql"
query = "process where true"
index = ["logs-*"]
risk_score = 21
severity = "low"
"""


def load(tmp: Path, table: str) -> tuple[AlertSuppression | None, list[str]]:
    path = tmp / "r.toml"
    path.write_text(BASE + table)
    loaded = load_rules([path])
    rule = loaded.rules[0] if loaded.rules else None
    return (rule.alert_suppression if rule else None), [str(e) for e in loaded.errors]


def test_reads_group_by_duration_and_strategy(tmp_path: Path) -> None:
    spec, errors = load(tmp_path, """
[rule.alert_suppression]
group_by = ["host.name", "user.name"]
missing_fields_strategy = "doNotSuppress"
[rule.alert_suppression.duration]
unit = "h"
value = 6
""")  # fmt: skip
    assert not errors
    assert spec == AlertSuppression(
        group_by=("host.name", "user.name"),
        duration=Duration(value=6, unit="h"),
        missing_fields_strategy="doNotSuppress",
    )
    assert spec.duration is not None and spec.duration.as_timedelta() == timedelta(hours=6)
    default, _ = load(tmp_path, '[rule.alert_suppression]\ngroup_by = ["host.name"]\n')
    assert default is not None and default.per_execution
    assert default.missing_fields_strategy == "suppress"


def test_every_problem_is_named(tmp_path: Path) -> None:
    _, errors = load(tmp_path, """
[rule.alert_suppression]
group_by = ["a", "b", "c", "d", "e", "f"]
missing_fields_strategy = "drop"
grouping = 1
[rule.alert_suppression.duration]
unit = "d"
value = 6
""")  # fmt: skip
    text = "\n".join(errors)
    assert "rule.alert_suppression.group_by: expected an array of 1 to 5 field names" in text
    assert (
        "rule.alert_suppression.missing_fields_strategy: expected suppress or doNotSuppress" in text
    )
    assert "rule.alert_suppression.duration.unit: expected s, m or h, got 'd'" in text
    assert "rule.alert_suppression.grouping: unknown key" in text


def test_public_rules_with_suppression_load(reference: Path) -> None:
    rules = load_rules([reference / "detection-rules" / "rules"])
    suppressed = [r for r in rules.rules if r.alert_suppression is not None]
    assert suppressed, "some supported public rules use alert suppression"
    assert not [e for e in rules.errors if "alert_suppression" in str(e)]
