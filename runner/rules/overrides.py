"""A rule's alert overrides: ``rule_name_override``, ``severity_mapping``,
``risk_score_mapping`` and ``investigation_fields``, read from its ``[rule]`` table.

What they do to an alert is :mod:`runner.alerts.overrides`; here they are only checked and typed,
with errors naming the key (``rule.severity_mapping[1].severity``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OVERRIDE_KEYS",
    "AlertOverrides",
    "RiskScoreMapping",
    "SeverityMapping",
    "read_overrides",
]

OVERRIDE_KEYS = frozenset(
    {"rule_name_override", "severity_mapping", "risk_score_mapping", "investigation_fields"}
)
_SEVERITIES = ("low", "medium", "high", "critical")

Problem = Callable[[str, str], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class SeverityMapping:
    """Alerts whose event has ``field`` equal to ``value`` get ``severity``."""

    field: str
    value: str
    severity: str
    operator: str = "equals"

    def as_kibana(self) -> dict[str, str]:
        return {
            "field": self.field,
            "operator": self.operator,
            "severity": self.severity,
            "value": self.value,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class RiskScoreMapping:
    """Alerts take their risk score from the event's ``field`` (when it holds 0-100)."""

    field: str
    value: str = ""
    operator: str = "equals"
    risk_score: int | None = None

    def as_kibana(self) -> dict[str, Any]:
        found: dict[str, Any] = {"field": self.field, "operator": self.operator}
        if self.risk_score is not None:
            found["risk_score"] = self.risk_score
        found["value"] = self.value
        return found


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertOverrides:
    rule_name_override: str | None = None
    severity_mapping: tuple[SeverityMapping, ...] = ()
    risk_score_mapping: tuple[RiskScoreMapping, ...] = ()
    investigation_fields: tuple[str, ...] = ()


def read_overrides(rule: Mapping[str, Any], problem: Problem) -> AlertOverrides:
    """The overrides of one ``[rule]`` table; each bad entry is reported through ``problem``."""
    name_field = rule.get("rule_name_override")
    if name_field is not None and not isinstance(name_field, str):
        problem("rule.rule_name_override", "expected a string (a field name)")
        name_field = None
    return AlertOverrides(
        rule_name_override=name_field or None,
        severity_mapping=tuple(_severity_mapping(rule, problem)),
        risk_score_mapping=tuple(_risk_score_mapping(rule, problem)),
        investigation_fields=_investigation_fields(rule, problem),
    )


def _entries(
    rule: Mapping[str, Any], key: str, problem: Problem
) -> list[tuple[str, Mapping[str, Any]]]:
    raw = rule.get(key, [])
    if not isinstance(raw, list):
        problem(f"rule.{key}", "expected an array of tables")
        return []
    found = []
    for position, item in enumerate(raw):
        where = f"rule.{key}[{position}]"
        if not isinstance(item, Mapping):
            problem(where, "expected a table")
            continue
        good = True
        for name in ("field", "operator", "value"):
            if not isinstance(item.get(name, "" if name == "value" else None), str):
                problem(f"{where}.{name}", "expected a string")
                good = False
        if good and item.get("operator") != "equals":
            problem(f"{where}.operator", f"must be 'equals', got {item.get('operator')!r}")
            good = False
        if good:
            found.append((where, item))
    return found


def _severity_mapping(rule: Mapping[str, Any], problem: Problem) -> list[SeverityMapping]:
    found = []
    for where, item in _entries(rule, "severity_mapping", problem):
        severity = item.get("severity")
        if severity not in _SEVERITIES:
            problem(
                f"{where}.severity", f"must be one of {', '.join(_SEVERITIES)}, got {severity!r}"
            )
            continue
        found.append(
            SeverityMapping(field=item["field"], value=item.get("value", ""), severity=severity)
        )
    return found


def _risk_score_mapping(rule: Mapping[str, Any], problem: Problem) -> list[RiskScoreMapping]:
    found = []
    for where, item in _entries(rule, "risk_score_mapping", problem):
        score = item.get("risk_score")
        if score is not None and (
            not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100
        ):
            problem(f"{where}.risk_score", "expected an integer between 0 and 100")
            continue
        found.append(
            RiskScoreMapping(field=item["field"], value=item.get("value", ""), risk_score=score)
        )
    return found


def _investigation_fields(rule: Mapping[str, Any], problem: Problem) -> tuple[str, ...]:
    raw = rule.get("investigation_fields")
    if raw is None:
        return ()
    names = raw.get("field_names") if isinstance(raw, Mapping) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problem("rule.investigation_fields.field_names", "expected an array of field names")
        return ()
    return tuple(names)
