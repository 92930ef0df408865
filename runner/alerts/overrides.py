"""The alert overrides of a rule applied to one event, as Kibana's ``utils/mappings`` do.

- ``rule_name_override``: the event's value of that field becomes the alert's rule name when it
  is a string (an array is not).
- ``severity_mapping``: entries are tried from low to high severity (stable), the last one
  whose value the event has wins.  Event values count when they are safe integers or strings
  (compared as text); for ``event.severity`` only numbers count, and the mapping's value is
  read as a number (floored).
- ``risk_score_mapping``: only the first entry is used; of the event's values (a number, or a
  string JavaScript's ``Number`` reads, ``""`` giving 0), those in 0..100 count, the largest
  wins.

Kibana applies them to alerts for single events (query, EQL event, new_terms); sequence
alerts and their building blocks keep the rule's own name, severity and risk score.  Values
are read with lodash ``get`` from the event's source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.alerts.fields import js_string, lodash_get
from runner.rules.model import Rule

__all__ = ["Overridden", "apply_overrides"]

_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_ECS_SEVERITY = "event.severity"
_MAX_SAFE = 2**53 - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Overridden:
    """The name, severity and risk score an alert carries after the overrides."""

    name: str
    severity: str
    risk_score: int | float


def apply_overrides(rule: Rule, source: Mapping[str, Any]) -> Overridden:
    return Overridden(
        name=_name(rule, source),
        severity=_severity(rule, source),
        risk_score=_risk_score(rule, source),
    )


def _name(rule: Rule, source: Mapping[str, Any]) -> str:
    field = rule.overrides.rule_name_override
    value = lodash_get(source, field) if field else None
    return value if isinstance(value, str) else rule.name


def _severity(rule: Rule, source: Mapping[str, Any]) -> str:
    chosen: str = rule.severity
    ordered = sorted(rule.overrides.severity_mapping, key=lambda m: _ORDER[m.severity])
    for mapping in ordered:
        ecs = mapping.field == _ECS_SEVERITY
        wanted: Any = _floor(_js_number(mapping.value)) if ecs else mapping.value
        if wanted in _event_values(lodash_get(source, mapping.field), ecs=ecs):
            chosen = mapping.severity
    return chosen


def _event_values(value: Any, *, ecs: bool) -> set[Any]:
    values = value if isinstance(value, list) else [value]
    found: set[Any] = set()
    for item in values:
        if _safe_integer(item):
            found.add(int(item) if ecs else js_string(int(item)))
        elif not ecs and isinstance(item, str):
            found.add(item)
    return found


def _risk_score(rule: Rule, source: Mapping[str, Any]) -> int | float:
    mappings = rule.overrides.risk_score_mapping
    if not mappings:
        return rule.risk_score
    value = lodash_get(source, mappings[0].field)
    scores = [n for n in map(_score, value if isinstance(value, list) else [value]) if n >= 0]
    if not scores:
        return rule.risk_score
    best = max(scores)
    return int(best) if float(best).is_integer() else best


def _score(value: Any) -> float:
    """Kibana's ``toValidNumberOrMinusOne``."""
    if isinstance(value, bool):
        return -1
    number = float(value) if isinstance(value, int | float) else None
    if isinstance(value, str):
        number = _js_number(value)
    if number is None or not math.isfinite(number) or not 0 <= number <= 100:
        return -1
    return number


def _safe_integer(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and float(value).is_integer() and abs(value) <= _MAX_SAFE


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_PREFIXED = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def _js_number(text: str) -> float:
    """JavaScript's ``Number(text)``: NaN for what it cannot read."""
    body = text.strip()
    if not body:
        return 0.0
    if _DECIMAL.fullmatch(body):
        return float(body)
    if _PREFIXED.fullmatch(body):
        return float(int(body, 0))
    if body.lstrip("+-") == "Infinity":
        return -math.inf if body.startswith("-") else math.inf
    return math.nan


def _floor(number: float) -> float | int:
    return math.floor(number) if math.isfinite(number) else number
