"""Alert overrides (rule_name_override, severity_mapping, risk_score_mapping,
investigation_fields) as Kibana's utils/mappings apply them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.alerts.build import build_event_alert, build_new_terms_alert, build_sequence_alerts
from runner.alerts.overrides import apply_overrides
from runner.rules.loader import load_rule_file, load_rules
from runner.rules.model import Rule
from runner.rules.overrides import AlertOverrides, RiskScoreMapping, SeverityMapping
from runner.search import Hit, SequenceMatch
from tests.helpers import make_rule, write_rule

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _rule(**overrides: Any) -> Rule:
    return make_rule(severity="low", risk_score=21, overrides=AlertOverrides(**overrides))


def _sev(field: str, value: str, severity: str) -> SeverityMapping:
    return SeverityMapping(field=field, value=value, severity=severity)


def test_rule_name_override_takes_a_string_value_only() -> None:
    rule = _rule(rule_name_override="message")
    assert apply_overrides(rule, {"message": "Mimikatz seen"}).name == "Mimikatz seen"
    assert apply_overrides(rule, {"message": ["a", "b"]}).name == "Test Rule"
    assert apply_overrides(rule, {}).name == "Test Rule"
    nested = _rule(rule_name_override="crowdstrike.alert.name")
    assert apply_overrides(nested, {"crowdstrike": {"alert": {"name": "X"}}}).name == "X"
    assert apply_overrides(nested, {"crowdstrike.alert.name": "Y"}).name == "Y"


def test_severity_mapping_highest_match_wins_whatever_the_order() -> None:
    rule = _rule(
        severity_mapping=(
            _sev("verdict", "BAD", "critical"),
            _sev("verdict", "SUSPICIOUS", "medium"),
            _sev("tag", "x", "high"),
        )
    )
    assert apply_overrides(rule, {"verdict": "SUSPICIOUS"}).severity == "medium"
    assert apply_overrides(rule, {"verdict": ["SUSPICIOUS", "BAD"]}).severity == "critical"
    assert apply_overrides(rule, {"verdict": "SUSPICIOUS", "tag": "x"}).severity == "high"
    assert apply_overrides(rule, {"verdict": "bad"}).severity == "low"  # case matters


def test_severity_mapping_compares_numbers_as_text_except_event_severity() -> None:
    plain = _rule(severity_mapping=(_sev("score", "5", "high"),))
    assert apply_overrides(plain, {"score": 5}).severity == "high"
    assert apply_overrides(plain, {"score": 5.0}).severity == "high"
    assert apply_overrides(plain, {"score": "5"}).severity == "high"
    assert apply_overrides(plain, {"score": 5.5}).severity == "low"  # not a safe integer
    assert apply_overrides(plain, {"score": True}).severity == "low"
    ecs = _rule(severity_mapping=(_sev("event.severity", "73.9", "critical"),))
    assert apply_overrides(ecs, {"event": {"severity": 73}}).severity == "critical"
    assert apply_overrides(ecs, {"event": {"severity": "73"}}).severity == "low"  # string: no


def test_risk_score_mapping_takes_the_largest_valid_value_of_the_first_entry() -> None:
    rule = _rule(
        risk_score_mapping=(RiskScoreMapping(field="event.risk_score"), RiskScoreMapping(field="x"))
    )
    assert apply_overrides(rule, {"event": {"risk_score": 73}}).risk_score == 73
    assert apply_overrides(rule, {"event": {"risk_score": [10, "90", 150, -1]}}).risk_score == 90
    assert apply_overrides(rule, {"event": {"risk_score": 47.5}}).risk_score == 47.5
    assert apply_overrides(rule, {"event": {"risk_score": ""}}).risk_score == 0  # Number("")
    assert apply_overrides(rule, {"event": {"risk_score": "0x10"}}).risk_score == 16
    assert apply_overrides(rule, {"event": {"risk_score": "high"}}).risk_score == 21
    assert apply_overrides(rule, {"event": {"risk_score": 101}}).risk_score == 21
    assert apply_overrides(rule, {"x": 99}).risk_score == 21  # only the first entry counts


def _hit(doc_id: str, **source: Any) -> Hit:
    body = {"@timestamp": "2024-05-01T11:59:00Z", "event": {"category": ["process"]}, **source}
    return Hit(index="logs-x", id=doc_id, source=body)


def test_event_and_new_terms_alerts_carry_the_overrides() -> None:
    rule = _rule(
        rule_name_override="message",
        severity_mapping=(_sev("verdict", "BAD", "critical"),),
        risk_score_mapping=(RiskScoreMapping(field="score"),),
        investigation_fields=("host.name", "user.name"),
    )
    hit = _hit("e1", message="Named by the event", verdict="BAD", score="88")
    for alert in (
        build_event_alert(rule, hit, now=NOW),
        build_new_terms_alert(rule, hit, ["v"], now=NOW),
    ):
        assert alert["kibana.alert.rule.name"] == "Named by the event"
        assert alert["kibana.alert.severity"] == "critical"
        assert alert["kibana.alert.risk_score"] == 88
        # The rule's own values stay where Kibana keeps them.
        assert alert["kibana.alert.rule.severity"] == "low"
        assert alert["kibana.alert.rule.risk_score"] == 21
        assert alert["kibana.alert.rule.rule_name_override"] == "message"
        assert alert["kibana.alert.rule.severity_mapping"] == [
            {"field": "verdict", "operator": "equals", "severity": "critical", "value": "BAD"}
        ]
        assert alert["kibana.alert.rule.risk_score_mapping"] == [
            {"field": "score", "operator": "equals", "value": ""}
        ]
        assert alert["kibana.alert.reason"].endswith("created critical alert Named by the event.")
        parameters = alert["kibana.alert.rule.parameters"]
        assert parameters["investigation_fields"] == {"field_names": ["host.name", "user.name"]}


def test_sequence_alerts_keep_the_rules_own_values() -> None:
    rule = _rule(
        rule_name_override="message", severity_mapping=(_sev("verdict", "BAD", "critical"),)
    )
    match = SequenceMatch(
        join_keys=(), events=(_hit("a", message="m", verdict="BAD"), _hit("b", verdict="BAD"))
    )
    built = build_sequence_alerts(rule, match, now=NOW)
    for alert in (built.shell, *built.building_blocks):
        assert alert["kibana.alert.rule.name"] == "Test Rule"
        assert alert["kibana.alert.severity"] == "low"
    assert "kibana" not in built.shell  # parameters stay one dotted key in the shell
    assert built.shell["kibana.alert.rule.parameters"]["severity_mapping"][0]["value"] == "BAD"


def test_loader_reads_overrides_and_names_bad_keys(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "over")
    extra = """
rule_name_override = "message"

[rule.investigation_fields]
field_names = ["host.name"]

[[rule.severity_mapping]]
field = "verdict"
operator = "equals"
severity = "high"
value = "BAD"

[[rule.risk_score_mapping]]
field = "event.risk_score"
operator = "equals"
value = ""
"""
    path.write_text(path.read_text() + extra)
    rule, errors = load_rule_file(path)
    assert errors == [] and isinstance(rule, Rule)
    assert rule.overrides == AlertOverrides(
        rule_name_override="message",
        severity_mapping=(_sev("verdict", "BAD", "high"),),
        risk_score_mapping=(RiskScoreMapping(field="event.risk_score"),),
        investigation_fields=("host.name",),
    )
    assert "severity_mapping" not in rule.extra

    bad = path.read_text().replace('severity = "high"', 'severity = "urgent"')
    bad = bad.replace('field_names = ["host.name"]', "field_names = 3")
    path.write_text(bad)
    rule, errors = load_rule_file(path)
    assert rule is None
    keys = {e.key for e in errors}
    assert keys == {"rule.severity_mapping[0].severity", "rule.investigation_fields.field_names"}


@pytest.mark.reference
def test_public_rules_with_overrides_load(reference: Path) -> None:
    loaded = load_rules([reference / "detection-rules" / "rules"])
    with_mapping = [r for r in loaded.rules if r.overrides.severity_mapping]
    with_name = [r for r in loaded.rules if r.overrides.rule_name_override]
    with_fields = [r for r in loaded.rules if r.overrides.investigation_fields]
    assert loaded.errors == ()
    assert with_mapping and with_name and len(with_fields) > 100
