"""``runner status``: where every rule stands, read from the backend's records.

Everything comes from what executions persisted (run state, execution records, alerts,
gaps), so the report is the same whether or not a daemon is running, and on either backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runner.backends.base import Backend
from runner.daemon.leases import Owner
from runner.daemon.reload import effective_interval
from runner.execution.model import ExecutionRecord, Gap
from runner.rules.model import Rule
from runner.timeutil import TimeParseError, format_duration, isoformat, parse_duration

ALERTS_PERIOD = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleStatus:
    rule_id: str
    name: str
    stem: str
    enabled: bool
    interval: timedelta
    last: ExecutionRecord | None
    next_run: datetime | None  # last start + interval
    alerts_24h: int
    gaps: tuple[Gap, ...]
    owner: str | None = None  # the daemon holding the rule's lease
    overlaps: int = 0  # windows executed twice (by two daemons)

    @property
    def gap_seconds(self) -> float:
        return sum(g.seconds for g in self.gaps)

    def overdue(self, now: datetime) -> bool:
        """Its next run is more than an interval late: no daemon is running it."""
        return self.enabled and self.next_run is not None and now > self.next_run + self.interval

    def as_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "rule_id": self.rule_id,
            "name": self.name,
            "short_name": self.stem,
            "enabled": self.enabled,
            "interval": format_duration(self.interval),
            "last_execution": None
            if last is None
            else {
                "started_at": isoformat(last.started_at),
                "status": last.status,
                "message": last.message,
                "window_from": isoformat(last.window_start) if last.window_start else None,
                "window_to": isoformat(last.window_end) if last.window_end else None,
            },
            "next_run": isoformat(self.next_run) if self.next_run else None,
            "owner": self.owner,
            "overlaps": self.overlaps,
            "alerts_24h": self.alerts_24h,
            "open_gaps": [
                {"from": isoformat(g.start), "to": isoformat(g.end), "seconds": g.seconds}
                for g in self.gaps
            ],
        }


def collect_status(
    rules: Sequence[Rule],
    backend: Backend,
    now: datetime,
    *,
    interval: timedelta | None = None,
    owners: Mapping[str, Owner] | None = None,
) -> list[RuleStatus]:
    """One :class:`RuleStatus` per rule, in the order given."""
    ids = [rule.rule_id for rule in rules]
    alerts = backend.list_alerts(rule_ids=ids, since=now - ALERTS_PERIOD) if ids else []
    counts = Counter(
        str(a.get("kibana.alert.rule.rule_id"))
        for a in alerts
        if "kibana.alert.building_block_type"
        not in a  # sequence members are not alerts on their own
    )
    gaps: dict[str, list[Gap]] = {}
    for gap in backend.open_gaps():
        gaps.setdefault(gap.rule_id, []).append(gap)
    found: list[RuleStatus] = []
    for rule in rules:
        executions = backend.list_executions(rule_ids=[rule.rule_id], limit=1)
        last = executions[0] if executions else None
        every = _scheduled_interval(rule, last, interval)
        state = backend.load_state(rule.rule_id)
        owner = (owners or {}).get(rule.rule_id)
        starts = [t for t in (state.last_start if state else None,
                              last.started_at if last else None) if t is not None]  # fmt: skip
        found.append(
            RuleStatus(
                rule_id=rule.rule_id,
                name=rule.name,
                stem=rule.stem,
                enabled=rule.enabled,
                interval=every,
                last=last,
                next_run=max(starts) + every if starts and rule.enabled else None,
                alerts_24h=counts.get(rule.rule_id, 0),
                gaps=tuple(sorted(gaps.get(rule.rule_id, []), key=lambda g: g.start)),
                owner=owner.owner if owner is not None else None,
                overlaps=owner.overlaps if owner is not None else 0,
            )
        )
    return found


def _scheduled_interval(
    rule: Rule, last: ExecutionRecord | None, override: timedelta | None
) -> timedelta:
    """The interval the rule runs at: given, else the one its last execution ran at (a daemon
    started with ``--interval`` records it there), else the rule's own."""
    if override is None and last is not None:
        recorded = last.extra.get("interval")
        if isinstance(recorded, str):
            try:
                return effective_interval(rule, parse_duration(recorded))
            except TimeParseError:
                pass  # written by something else: the rule's own interval then
    return effective_interval(rule, override)


def backfill_command(status: RuleStatus, gap: Gap) -> str:
    return (
        f"runner backfill --rule {status.stem} --from {isoformat(gap.start)} "
        f"--to {isoformat(gap.end)}"
    )
