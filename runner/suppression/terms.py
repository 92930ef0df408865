"""Suppression terms, times and fields of one candidate alert (Kibana's suppression_utils).

In memory (eql, new_terms): a field's value is all its values, sorted, as one term, so
``["a", "b"]`` and ``["b", "a"]`` group together and ``["a"]`` apart.  A missing field is
``null``.  The suppression time is the event's ``timestamp_override`` value, else its
``@timestamp``, else the alert's own ``@timestamp``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from runner.docfields import field_values
from runner.timeutil import TimeParseError, isoformat, parse_absolute

INSTANCE_ID = "kibana.alert.instance.id"
TERMS = "kibana.alert.suppression.terms"
START = "kibana.alert.suppression.start"
END = "kibana.alert.suppression.end"
DOCS_COUNT = "kibana.alert.suppression.docs_count"
ALERT_START = "kibana.alert.start"
LAST_DETECTED = "kibana.alert.last_detected"


def term_value(source: Mapping[str, Any], field: str) -> list[Any] | None:
    values = field_values(source, field)
    if not values:
        return None
    return sorted(values, key=lambda v: (str(type(v)), v))


def suppression_terms(source: Mapping[str, Any], group_by: Sequence[str]) -> list[dict[str, Any]]:
    return [{"field": f, "value": term_value(source, f)} for f in group_by]


def has_every_field(source: Mapping[str, Any], group_by: Sequence[str]) -> bool:
    return all(field_values(source, f) for f in group_by)


def has_every_path(document: Mapping[str, Any], group_by: Sequence[str]) -> bool:
    """Kibana's ``partitionMissingFieldsEvents`` with ``mergeSourceAndFields`` (ES|QL): lodash
    ``pick`` keeps a path that exists, even holding ``null``; a literal dotted key wins, else
    the dotted segments are walked."""
    return all(_has_path(document, f) for f in group_by)


def _has_path(document: Mapping[str, Any], path: str) -> bool:
    if path in document:
        return True
    current: Any = document
    for segment in path.split("."):
        if not isinstance(current, Mapping) or segment not in current:
            return False
        current = current[segment]
    return True


def event_time(
    source: Mapping[str, Any], primary: str, secondary: str | None, fallback: datetime
) -> datetime:
    for name in (primary, secondary):
        if name is None:
            continue
        for value in field_values(source, name):
            try:
                return parse_absolute(str(value))
            except TimeParseError:
                continue
    return fallback


def suppression_fields(
    instance_id: str, terms: list[dict[str, Any]], start: datetime, end: datetime, count: int
) -> dict[str, Any]:
    return {
        INSTANCE_ID: instance_id,
        TERMS: terms,
        START: isoformat(start),
        END: isoformat(end),
        DOCS_COUNT: count,
    }
