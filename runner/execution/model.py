"""Values of one execution: windows, run state, gaps, execution records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["succeeded", "partial failure", "failed"]
MAX_SIGNALS_WARNING = (
    "This rule reached the maximum alert limit for the rule execution. "
    "Some alerts were not created."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    """One searched time range; ``catch_up`` marks the extra windows after downtime."""

    start: datetime
    end: datetime
    catch_up: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Gap:
    """Time no window covered (downtime beyond the catch-up limit): a backfill can fill it."""

    rule_id: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleState:
    """What the runner remembers per rule between executions."""

    rule_id: str
    last_start: datetime | None = None
    covered_to: datetime | None = None  # end of the last window searched without failure
    last_status: Status | None = None
    last_message: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionRecord:
    """One executed window (or one gap report), as shown by ``runner executions``."""

    execution_id: str
    rule_id: str
    rule_name: str
    started_at: datetime
    ended_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    status: Status
    message: str = ""
    search_ms: int = 0
    index_ms: int = 0
    candidates: int = 0
    alerts_created: int = 0
    duplicates: int = 0
    capped: bool = False
    gap_seconds: float | None = None
    catch_up: bool = False
    backend: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The ``runner once --json`` object for this window."""
        from runner.timeutil import isoformat

        return {
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "status": self.status,
            "window_from": isoformat(self.window_start) if self.window_start else None,
            "window_to": isoformat(self.window_end) if self.window_end else None,
            "candidates": self.candidates,
            "alerts_created": self.alerts_created,
            "duplicates": self.duplicates,
            "capped": self.capped,
            "message": self.message,
            "search_ms": self.search_ms,
            "index_ms": self.index_ms,
            # Alert suppression's counts, only for rules that suppress.
            **{k: self.extra[k] for k in ("suppressed", "updated") if k in self.extra},
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteOutcome:
    """What the alert store said about one batch of ``create`` writes."""

    created: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (alert id, reason)
