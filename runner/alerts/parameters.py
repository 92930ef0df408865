"""``kibana.alert.rule.parameters``: the rule's parameters, snake_case, as Kibana stores them.

Kibana writes its rule params there (``commonParamsCamelToSnake`` plus the type's own), without
the rule's configuration (name, tags, enabled, interval, actions), and leaves out what is
undefined.  This is the subset a rule file gives this runner; ``investigation_fields`` is what
Kibana's alert flyout reads from here.
"""

from __future__ import annotations

from typing import Any

from runner.rules.model import Rule

__all__ = ["rule_parameters"]


def rule_parameters(rule: Rule) -> dict[str, Any]:
    overrides = rule.overrides
    found: dict[str, Any] = {
        "author": list(rule.author),
        "description": rule.description,
        "false_positives": list(rule.false_positives),
        "from": rule.from_,
        "index": list(rule.index),
        "language": rule.language,
        "max_signals": rule.max_signals,
        "query": rule.query,
        "references": list(rule.references),
        "risk_score": rule.risk_score,
        "risk_score_mapping": [m.as_kibana() for m in overrides.risk_score_mapping],
        "rule_id": rule.rule_id,
        "severity": rule.severity,
        "severity_mapping": [m.as_kibana() for m in overrides.severity_mapping],
        "threat": [threat.as_kibana() for threat in rule.threat],
        "to": "now",
        "type": rule.type,
        "version": rule.version,
    }
    optional: dict[str, Any] = {
        "building_block_type": rule.building_block_type,
        "event_category_override": rule.event_category_override,
        "license": rule.license or None,
        "note": rule.note or None,
        "rule_name_override": overrides.rule_name_override,
        "setup": rule.setup or None,
        "tiebreaker_field": rule.tiebreaker_field,
        "timestamp_override": rule.timestamp_override,
    }
    if rule.new_terms is not None:
        optional["new_terms_fields"] = list(rule.new_terms.fields)
        optional["history_window_start"] = rule.new_terms.history_window_start
    if overrides.investigation_fields:
        optional["investigation_fields"] = {"field_names": list(overrides.investigation_fields)}
    found.update({key: value for key, value in optional.items() if value is not None})
    return dict(sorted(found.items()))
