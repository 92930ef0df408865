"""Kibana's ``alerts_filter`` on alert documents: a KQL query and a time-of-day frame.

Kibana adds both to the query it runs over the alerts index (alert fields are ``keyword``),
so the KQL here matches keyword-style: exact, case-sensitive values, ``*`` wildcards over the
whole value, any value of an array matching, ranges compared as numbers when both sides are
numbers and as text otherwise.  The frame compares the alert's ``@timestamp`` in the frame's
time zone: its ISO weekday must be in ``days`` and its time of day in [start, end) (a frame
whose end is before its start runs past midnight).
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from runner.alerts.fields import fields_view
from runner.kql import ast
from runner.kql.parser import parse_kql
from runner.notify.model import AlertsFilter
from runner.timeutil import TimeParseError, parse_absolute


@lru_cache(maxsize=256)
def _parsed(text: str) -> ast.Query:
    return parse_kql(text)


def matches(alerts_filter: AlertsFilter | None, alert: Mapping[str, Any]) -> bool:
    if alerts_filter is None:
        return True
    if alerts_filter.kql:
        node = _parsed(alerts_filter.kql).node
        if node is not None and not _node(node, fields_view(alert), ""):
            return False
    return _in_frame(alerts_filter, alert)


def _in_frame(frame: AlertsFilter, alert: Mapping[str, Any]) -> bool:
    if not frame.days and frame.hours_start is None:
        return True
    stamp = alert.get("@timestamp")
    if not isinstance(stamp, str):
        return False
    try:
        local = parse_absolute(stamp).astimezone(ZoneInfo(frame.timezone))
    except TimeParseError:
        return False
    if frame.days and local.isoweekday() not in frame.days:
        return False
    if frame.hours_start is None or frame.hours_end is None:
        return True
    clock = local.strftime("%H:%M")
    start, end = frame.hours_start, frame.hours_end
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end


def _values(fields: Mapping[str, list[Any]], name: str) -> list[Any]:
    if "*" in name:
        return [v for key, vals in fields.items() if fnmatch.fnmatchcase(key, name) for v in vals]
    return fields.get(name, [])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value_matches(value: ast.Value, candidate: Any) -> bool:
    if isinstance(value, ast.ValueAnd):
        return all(_value_matches(v, candidate) for v in value.terms)
    if isinstance(value, ast.ValueOr):
        return any(_value_matches(v, candidate) for v in value.terms)
    if isinstance(value, ast.ValueNot):
        return not _value_matches(value.value, candidate)
    text = _text(candidate)
    if isinstance(value, ast.Wildcard):
        pattern = ".*".join(re.escape(s) for s in value.segments)
        return re.fullmatch(pattern, text, re.DOTALL) is not None
    wanted = value.text
    if isinstance(candidate, int | float) and not isinstance(candidate, bool):
        try:
            return float(wanted) == float(candidate)
        except ValueError:
            return False
    return text == wanted


def _range(op: str, candidate: Any, bound: str) -> bool:
    left: Any
    right: Any
    try:
        left, right = float(candidate), float(bound)
    except (TypeError, ValueError):
        left, right = _text(candidate), bound
        if isinstance(candidate, str) and _looks_like_time(candidate):
            with contextlib.suppress(TimeParseError):
                left, right = parse_absolute(candidate), parse_absolute(bound)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _looks_like_time(text: str) -> bool:
    return len(text) >= 10 and text[4] == "-" and text[7] == "-"


def _node(node: ast.Node, fields: Mapping[str, list[Any]], prefix: str) -> bool:
    if isinstance(node, ast.And):
        return all(_node(n, fields, prefix) for n in node.terms)
    if isinstance(node, ast.Or):
        return any(_node(n, fields, prefix) for n in node.terms)
    if isinstance(node, ast.Not):
        return not _node(node.node, fields, prefix)
    if isinstance(node, ast.Nested):
        return _node(node.query, fields, f"{prefix}{node.path}.")
    if isinstance(node, ast.Exists):
        return bool(_values(fields, prefix + node.field))
    if isinstance(node, ast.Range):
        return any(_range(node.op, v, node.value) for v in _values(fields, prefix + node.field))
    if node.field is None:
        candidates = [v for vals in fields.values() for v in vals]
    else:
        candidates = _values(fields, prefix + node.field)
    return any(_value_matches(node.value, c) for c in candidates)
