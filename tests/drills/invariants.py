"""The one invariant checker of every drill.

It compares what is in the cluster with what the generated events call for, computed from the
feeder's own list (rule ``k`` owes one alert per process start under ``parent-k``), never by
running runner's engine:

- **0 lost**: every alert due is in the alerts index, or its event lies in a gap that runner
  reported (``<prefix>-gaps``), to be searched by ``runner backfill --gaps``;
- **0 duplicates**: at most one alert per rule and event, and none that no event calls for;
- **every notification delivered exactly once**: each alert the daemons wrote was
  acknowledged by the webhook once, and nothing else was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from runner.timeutil import parse_absolute
from tests.drills.cluster import Target
from tests.drills.events import Event
from tests.drills.receiver import Receiver


@dataclass(frozen=True, kw_only=True, slots=True)
class Gap:
    rule_id: str
    start: datetime
    end: datetime

    def holds(self, rule_id: str, at: datetime) -> bool:
        return rule_id == self.rule_id and self.start <= at <= self.end


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    expected: int  # alerts the events call for
    written: int  # alerts in the index
    lost: tuple[str, ...]  # due, not written, and in no reported gap ("rule/event")
    in_gaps: tuple[str, ...]  # due, not written, inside a reported gap
    duplicated: int  # alerts beyond the first for one rule and event
    unexpected: tuple[str, ...]  # alerts no event calls for
    gaps: tuple[Gap, ...]  # open gaps
    notifications_due: int = 0
    delivered: int = 0  # notifications acknowledged at least once
    redelivered: int = 0  # acknowledgements beyond the first
    undelivered: tuple[str, ...] = ()
    stray: tuple[str, ...] = ()  # acknowledged, but no alert has that id

    def problems(self) -> list[str]:
        found = []
        if self.lost:
            found.append(f"{len(self.lost)} alert(s) lost: {list(self.lost[:5])}")
        if self.duplicated:
            found.append(f"{self.duplicated} duplicate alert(s)")
        if self.unexpected:
            found.append(f"{len(self.unexpected)} unexpected alert(s): {list(self.unexpected[:5])}")
        if self.redelivered:
            found.append(f"{self.redelivered} notification(s) delivered twice")
        if self.undelivered:
            found.append(f"{len(self.undelivered)} notification(s) never delivered: "
                         f"{list(self.undelivered[:5])}")  # fmt: skip
        if self.stray:
            found.append(f"{len(self.stray)} notification(s) for no alert")
        return found


def open_gaps(cluster: Target) -> tuple[Gap, ...]:
    return tuple(
        Gap(rule_id=str(doc["rule_id"]), start=parse_absolute(doc["gap_start"]),
            end=parse_absolute(doc["gap_end"]))
        for doc in cluster.search(f"{cluster.prefix}-gaps")
    )  # fmt: skip


def alerts(cluster: Target) -> list[dict[str, object]]:
    return cluster.search(cluster.alerts_index)


def _key(alert: dict[str, object]) -> str:
    ancestors = alert.get("kibana.alert.ancestors")
    first = ancestors[0] if isinstance(ancestors, list) and ancestors else {}
    event = first.get("id") if isinstance(first, dict) else None
    return f"{alert.get('kibana.alert.rule.rule_id')}/{event}"


def check(
    cluster: Target,
    events: Sequence[Event],
    receiver: Receiver | None = None,
    *,
    notified: Iterable[str] | None = None,
) -> Verdict:
    """The verdict now.  ``notified``: the ids of the alerts whose notifications are due
    (default: every alert in the index; a backfill writes alerts without notifying)."""
    due = {f"{e.due_for}/{e.id}": e for e in events if e.due_for is not None}
    found = alerts(cluster)
    per_key = Counter(_key(a) for a in found)
    gaps = open_gaps(cluster)
    missing = [key for key in due if key not in per_key]
    in_gaps = [k for k in missing if any(g.holds(due[k].due_for or "", due[k].at) for g in gaps)]
    lost = [k for k in missing if k not in set(in_gaps)]
    verdict = Verdict(
        expected=len(due), written=len(found), lost=tuple(sorted(lost)),
        in_gaps=tuple(sorted(in_gaps)), duplicated=sum(n - 1 for n in per_key.values() if n > 1),
        unexpected=tuple(sorted(k for k in per_key if k not in due)), gaps=gaps,
    )  # fmt: skip
    if receiver is None:
        return verdict
    ids = {str(a["_id"]) for a in found}
    wanted = set(notified) if notified is not None else ids
    acked = dict(receiver.acknowledged)
    return Verdict(
        **{name: getattr(verdict, name) for name in (
            "expected", "written", "lost", "in_gaps", "duplicated", "unexpected", "gaps")},
        notifications_due=len(wanted),
        delivered=sum(1 for key in wanted if acked.get(key)),
        redelivered=sum(n - 1 for n in acked.values() if n > 1),
        undelivered=tuple(sorted(key for key in wanted if not acked.get(key))),
        stray=tuple(sorted(key for key in acked if key not in ids)),
    )  # fmt: skip
