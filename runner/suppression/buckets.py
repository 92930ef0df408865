"""Query rules group events as Kibana's ``groupAndBulkCreate`` does with its aggregation:
one group per combination of values of the ``group_by`` fields (a field with several values
puts the event in one group per value, as a ``terms`` source does), a missing field is its
own ``null`` group when missing fields are suppressed, groups come in key order (nulls
first), at most ``max_signals`` of them, each alert built from the group's oldest event with
``docs_count`` = events - 1 and ``start``/``end`` = its oldest and newest event time.

Events already counted by a group of an earlier execution (same key, at or before that
group's end, inside this window) are left out, as Kibana's bucket history filter does; the
history is read back from the rule's alerts, so it survives a restart.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.docfields import field_values

Key = tuple[Any, ...]


@dataclass(frozen=True, kw_only=True)
class Member:
    """One event: its position among the candidates, time, and group keys."""

    position: int
    time: datetime
    keys: tuple[Key, ...]


@dataclass(frozen=True, kw_only=True)
class Bucket:
    key: Key
    first: int  # position of the oldest event
    count: int
    start: datetime
    end: datetime


def keys_of(source: Mapping[str, Any], group_by: Sequence[str]) -> tuple[Key, ...]:
    per_field = [list(dict.fromkeys(field_values(source, f))) or [None] for f in group_by]
    return tuple(itertools.product(*per_field))


def history_excludes(
    source: Mapping[str, Any],
    time: datetime,
    group_by: Sequence[str],
    history: Sequence[tuple[Key, datetime]],
) -> bool:
    """Kibana's bucket history filter: ``term`` per known value (any value of an array),
    ``must_not exists`` per null, and the time up to that group's end."""
    for key, end in history:
        if time > end:
            continue
        if all(
            (not field_values(source, f)) if v is None else v in field_values(source, f)
            for f, v in zip(group_by, key, strict=True)
        ):
            return True
    return False


def group(members: Sequence[Member], max_buckets: int) -> list[Bucket]:
    found: dict[str, Bucket] = {}
    for member in sorted(members, key=lambda m: (m.time, m.position)):
        for key in member.keys:
            name = json.dumps(key, default=str)
            known = found.get(name)
            if known is None:
                found[name] = Bucket(
                    key=key, first=member.position, count=1, start=member.time, end=member.time
                )
            else:
                found[name] = Bucket(
                    key=key,
                    first=known.first,
                    count=known.count + 1,
                    start=known.start,
                    end=max(known.end, member.time),
                )
    ordered = sorted(found.values(), key=lambda b: [_order(v) for v in b.key])
    return ordered[:max_buckets]


def _order(value: Any) -> tuple[int, str, Any]:
    # Composite aggregation order: missing (null) first, then by value.
    if value is None:
        return (0, "", "")
    return (1, type(value).__name__, value)
