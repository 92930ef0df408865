"""Which stored alerts suppression looks at: open ones, started inside the window, newest
first (Kibana searches ``kibana.alert.start >= window``, ``workflow_status != closed``,
collapsed on the instance id, sorted by start descending)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from runner.suppression.terms import ALERT_START, END, INSTANCE_ID
from runner.timeutil import TimeParseError, parse_absolute


def _time(doc: Mapping[str, Any], key: str) -> datetime | None:
    value = doc.get(key)
    try:
        return parse_absolute(str(value)) if value else None
    except TimeParseError:
        return None


def select_suppression_alerts(
    docs: Iterable[dict[str, Any]],
    started_since: datetime | None,
    ended_since: datetime | None,
) -> list[dict[str, Any]]:
    kept = []
    for doc in docs:
        if not doc.get(INSTANCE_ID) or doc.get("kibana.alert.workflow_status") == "closed":
            continue
        start, end = _time(doc, ALERT_START), _time(doc, END)
        if started_since is not None and (start is None or start < started_since):
            continue
        if ended_since is not None and (end is None or end < ended_since):
            continue
        kept.append(doc)
    kept.sort(key=lambda d: str(d.get(ALERT_START) or ""), reverse=True)
    return kept


def latest_by_instance(docs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The first (newest) alert per instance id of an already sorted list."""
    out: dict[str, dict[str, Any]] = {}
    for doc in docs:
        out.setdefault(str(doc[INSTANCE_ID]), doc)
    return out
