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
    optional.update(_type_parameters(rule))
    if overrides.investigation_fields:
        optional["investigation_fields"] = {"field_names": list(overrides.investigation_fields)}
    found.update({key: value for key, value in optional.items() if value is not None})
    return dict(sorted(found.items()))


def _type_parameters(rule: Rule) -> dict[str, Any]:
    """Threshold, indicator match and machine learning parameters, as Kibana names them."""
    found: dict[str, Any] = {}
    if rule.threshold is not None:
        # Kibana normalizes `field` to an array and leaves out a cardinality not given.
        threshold: dict[str, Any] = {"field": list(rule.threshold.fields)}
        if rule.threshold.cardinality:
            threshold["cardinality"] = [
                {"field": c.field, "value": c.value} for c in rule.threshold.cardinality
            ]
        threshold["value"] = rule.threshold.value
        found["threshold"] = dict(sorted(threshold.items()))
    if rule.threat_match is not None:
        threat = rule.threat_match
        found.update(
            {
                "concurrent_searches": threat.concurrent_searches,
                "items_per_search": threat.items_per_search,
                "threat_filters": [dict(f.query) for f in threat.filters],
                "threat_index": list(threat.index),
                "threat_indicator_path": threat.indicator_path,
                "threat_language": "kuery",
                "threat_mapping": [
                    {"entries": [
                        {"field": e.field, "type": "mapping", "value": e.value,
                         **({"negate": True} if e.negate else {})}
                        for e in block
                    ]}
                    for block in threat.mapping
                ],
                "threat_query": threat.query,
            }
        )  # fmt: skip
    if rule.machine_learning is not None:
        found["anomaly_threshold"] = rule.machine_learning.anomaly_threshold
        found["machine_learning_job_id"] = list(rule.machine_learning.job_ids)
    return found
