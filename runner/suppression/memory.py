"""Kibana's ``alertWithSuppression`` (rule_registry ``create_persistence_rule_type_wrapper``),
as a pure function over candidate alerts and the rule's existing suppressed alerts.

1. A candidate whose existing alert (same ``kibana.alert.instance.id``, open, started inside
   the suppression window) already covers its end, and was not made by this execution, was
   suppressed before (an overlapping window): it is dropped.
2. The rest are grouped by instance id, oldest suppression start first: the first of each
   group stays, the others are suppressed into it (``docs_count`` += their count + 1,
   ``end`` = the latest end).
3. A group with an existing alert updates it (with a duration: any existing alert in the
   window; per execution: only one this same execution created) instead of creating one:
   ``end`` moves forward, ``start`` only within the same execution, ``docs_count`` adds up,
   ``kibana.alert.last_detected`` is now.
4. New alerts are cut to ``max_alerts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.suppression.terms import DOCS_COUNT, END, INSTANCE_ID, LAST_DETECTED, START
from runner.timeutil import isoformat, parse_absolute

EXECUTION_UUID = "kibana.alert.rule.execution.uuid"


@dataclass(frozen=True, kw_only=True)
class Suppressible:
    """A candidate alert carrying its suppression fields (the counted document first)."""

    id: str
    documents: tuple[dict[str, Any], ...]

    @property
    def alert(self) -> dict[str, Any]:
        return self.documents[0]

    @property
    def instance_id(self) -> str:
        return str(self.alert[INSTANCE_ID])

    def time(self, key: str) -> datetime:
        return parse_absolute(str(self.alert[key]))


@dataclass(frozen=True, kw_only=True)
class Update:
    alert_id: str
    fields: dict[str, Any]


@dataclass(kw_only=True)
class SuppressionResult:
    create: list[Suppressible] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    suppressed: int = 0
    # Kibana's getNumberOfSuppressedAlerts part for them: each one's docs_count + 1.
    suppressed_docs: int = 0
    truncated: bool = False


def _existing_time(existing: Mapping[str, Any], key: str) -> datetime | None:
    value = existing.get(key)
    return parse_absolute(str(value)) if value else None


def _covers(existing: Mapping[str, Any], alert: Suppressible, key: str) -> bool:
    """Kibana's isExistingDateGtEqThanAlert."""
    known = _existing_time(existing, key)
    return known is not None and known >= alert.time(key)


def alert_with_suppression(
    alerts: Sequence[Suppressible],
    existing: Mapping[str, Mapping[str, Any]],
    *,
    execution_id: str,
    per_execution: bool,
    now: datetime,
    max_alerts: int | None,
) -> SuppressionResult:
    """``existing``: the latest open alert per instance id inside the suppression window."""
    result = SuppressionResult()
    fresh = [
        a
        for a in alerts
        if (found := existing.get(a.instance_id)) is None
        or found.get(EXECUTION_UUID) == execution_id
        or not _covers(found, a, END)
    ]
    groups: dict[str, tuple[Suppressible, int, datetime]] = {}
    order: list[str] = []
    for alert in sorted(fresh, key=lambda a: a.time(START)):
        count = int(alert.alert.get(DOCS_COUNT) or 0)
        if alert.instance_id in groups:
            first, total, end = groups[alert.instance_id]
            groups[alert.instance_id] = (first, total + count + 1, max(end, alert.time(END)))
            result.suppressed += 1
            result.suppressed_docs += count + 1
            continue
        groups[alert.instance_id] = (alert, count, alert.time(END))
        order.append(alert.instance_id)
    candidates: list[Suppressible] = []
    for instance_id in order:
        first, total, end = groups[instance_id]
        first.alert[DOCS_COUNT] = total
        first.alert[END] = isoformat(end)
        candidates.append(first)
    for alert in candidates:
        found = existing.get(alert.instance_id)
        same_execution = found is not None and found.get(EXECUTION_UUID) == execution_id
        if found is None or (per_execution and not same_execution):
            result.create.append(alert)
            continue
        fields: dict[str, Any] = {}
        if not _covers(found, alert, END):
            fields[END] = alert.alert[END]
        if same_execution and _covers(found, alert, START):
            fields[START] = alert.alert[START]
        fields[LAST_DETECTED] = isoformat(now)
        fields[DOCS_COUNT] = int(found.get(DOCS_COUNT) or 0) + int(alert.alert[DOCS_COUNT]) + 1
        result.updates.append(Update(alert_id=str(found["kibana.alert.uuid"]), fields=fields))
        result.suppressed += 1
        result.suppressed_docs += int(alert.alert[DOCS_COUNT]) + 1
    if max_alerts and len(result.create) > max_alerts:  # Kibana: 0 means no limit
        del result.create[max_alerts:]
        result.truncated = True
    return result
