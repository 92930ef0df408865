"""The figures of a drill run: faults by kind, executions, alerts, lease moves.

Lease moves are read from the daemons' own log lines: ``lease_taken_over`` (a rule taken from a
daemon that stopped renewing; ``unowned_s`` counts from that daemon's last renewal) and
``leases_changed`` (a rule released by one daemon and claimed by another: unowned from the
release to the claim).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.timeutil import parse_absolute
from tests.drills.invariants import Verdict


@dataclass(frozen=True, kw_only=True, slots=True)
class Moves:
    moved: int = 0
    longest_unowned_s: float = 0.0


def lease_moves(lines: Iterable[dict[str, Any]]) -> Moves:
    """Every time a rule changed daemon, and the longest it went without one."""
    changes = sorted(
        (line for line in lines
         if line.get("event") in ("leases_changed", "lease_taken_over") and line.get("timestamp")),
        key=lambda line: str(line["timestamp"]),
    )  # fmt: skip
    owner: dict[str, str] = {}
    released: dict[str, tuple[str, datetime]] = {}  # rule -> (by, when)
    moved, longest = 0, 0.0
    for line in changes:
        when, name = parse_absolute(str(line["timestamp"])), str(line.get("daemon"))
        if line["event"] == "lease_taken_over":
            longest = max(longest, float(line.get("unowned_s") or 0.0))
            continue
        for rule in line.get("released") or ():
            released[rule] = (name, when)
            owner.pop(rule, None)
        for rule in line.get("claimed") or ():
            before = owner.get(rule) or (released[rule][0] if rule in released else None)
            if before is not None and before != name:
                moved += 1
                if rule in released and released[rule][0] == before:
                    longest = max(longest, (when - released[rule][1]).total_seconds())
            owner[rule] = name
            released.pop(rule, None)
    return Moves(moved=moved, longest_unowned_s=longest)


@dataclass
class Figures:
    drills: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    executions: int = 0
    expected: int = 0
    written: int = 0
    lost: int = 0
    duplicated: int = 0
    gaps_reported: int = 0
    backfilled: int = 0  # alerts due in reported gaps, written by `runner backfill --gaps`
    notifications: int = 0
    delivered: int = 0
    redelivered: int = 0
    moved: int = 0
    longest_unowned_s: float = 0.0

    def add(self, other: Figures) -> None:
        self.drills += other.drills
        self.faults.update(other.faults)
        for name in ("executions", "expected", "written", "lost", "duplicated",
                     "gaps_reported", "backfilled", "notifications", "delivered", "redelivered",
                     "moved"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_unowned_s = max(self.longest_unowned_s, other.longest_unowned_s)

    def record(self, verdict: Verdict) -> None:
        self.expected += verdict.expected
        self.written += verdict.written
        self.lost += len(verdict.lost)
        self.duplicated += verdict.duplicated + len(verdict.unexpected)
        self.notifications += verdict.notifications_due
        self.delivered += verdict.delivered
        self.redelivered += verdict.redelivered

    def row(self, name: str, seconds: float) -> str:
        """One line of the per-drill table (markdown)."""
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        cells = [name, f"{seconds:.0f}s", faults, self.executions, self.expected, self.written,
                 self.lost, self.duplicated, f"{self.gaps_reported} ({self.backfilled})",
                 f"{self.delivered}/{self.notifications} ({self.redelivered})", self.moved,
                 f"{self.longest_unowned_s:.1f}s"]  # fmt: skip
        return "| " + " | ".join(str(c) for c in cells) + " |"

    HEADER = (
        "| drill | time | faults injected | executions | alerts expected | written | lost | "
        "duplicated | gaps reported (alerts due in them, backfilled) | notifications delivered/"
        "due (twice) | rules moved | longest unowned |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )

    def lines(self) -> list[str]:
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items())) or "none"
        return [
            f"drills run: {self.drills}",
            f"faults injected: {sum(self.faults.values())} ({faults})",
            f"executions run: {self.executions}",
            f"alerts expected: {self.expected}, written: {self.written}, lost: {self.lost}, "
            f"duplicated: {self.duplicated}",
            f"gaps reported: {self.gaps_reported} (alerts due in them, written by backfill: "
            f"{self.backfilled})",
            f"notifications due: {self.notifications}, delivered: {self.delivered}, "
            f"delivered twice: {self.redelivered}",
            f"rules moved between daemons: {self.moved}, longest time a rule went unowned: "
            f"{self.longest_unowned_s:.1f}s",
        ]
