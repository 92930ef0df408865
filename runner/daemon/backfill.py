"""``runner backfill``: search a past range in windows of the rule's own length, oldest first.

Each window is an ordinary execution (:meth:`Executor.run_window` with the window's end as
"now"), so dedupe keeps it from writing an alert the daemon already wrote, and it can run
beside a running daemon: it never touches the rule's run state.  Open gaps the range covers,
from their start without a hole, are closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from runner.backends.base import Backend
from runner.daemon.leases import Leases, report_overlaps
from runner.errors import UsageError
from runner.exceptions.stage import RuleExceptions
from runner.execution.executor import Executor
from runner.execution.model import ExecutionRecord, Gap, Window
from runner.logs import get_logger
from runner.rules.model import Rule
from runner.timeutil import isoformat, parse_datemath

# Times are printed (and so typed back) with millisecond precision; stored ones have more.
TOLERANCE = timedelta(milliseconds=1)
MIN_WINDOW = timedelta(seconds=1)
MAX_WINDOWS = 100_000
# A backfill window waits this long for the owner's execution of the rule to end.
HOLD_WAIT = timedelta(minutes=10)
HOLD_TTL = timedelta(minutes=15)


def window_length(rule: Rule, reference: datetime) -> timedelta:
    """The length of the rule's window (``from`` evaluated against ``reference``)."""
    return max(reference - parse_datemath(rule.from_, reference), MIN_WINDOW)


def backfill_windows(rule: Rule, start: datetime, end: datetime) -> list[Window]:
    """Contiguous windows of the rule's length covering ``[start, end]``; the last is clipped."""
    if start >= end:
        raise UsageError(f"--from ({isoformat(start)}) must be before --to ({isoformat(end)})")
    length = window_length(rule, end)
    count = -(-(end - start) // length)  # ceiling division of timedeltas
    if count > MAX_WINDOWS:
        raise UsageError(
            f"{count} windows of {length} in that range: split it (at most {MAX_WINDOWS})"
        )
    return [
        Window(start=start + i * length, end=min(start + (i + 1) * length, end))
        for i in range(count)
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class BackfillProgress:
    done: int
    total: int
    alerts_created: int
    record: ExecutionRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class BackfillResult:
    rule: Rule
    start: datetime
    end: datetime
    records: tuple[ExecutionRecord, ...]
    planned: int
    covered_to: datetime | None  # end of the windows that succeeded without a hole from start
    gaps_closed: tuple[Gap, ...] = ()
    gaps_open: tuple[Gap, ...] = ()  # the rule's gaps still open afterwards
    interrupted: bool = False

    @property
    def failed(self) -> tuple[ExecutionRecord, ...]:
        return tuple(r for r in self.records if r.status == "failed")

    @property
    def alerts_created(self) -> int:
        return sum(r.alerts_created for r in self.records)

    @property
    def duplicates(self) -> int:
        return sum(r.duplicates for r in self.records)

    @property
    def capped(self) -> int:
        return sum(1 for r in self.records if r.capped)


def run_backfill(
    rule: Rule,
    start: datetime,
    end: datetime,
    *,
    backend: Backend,
    progress: Callable[[BackfillProgress], None] | None = None,
    exceptions: RuleExceptions | None = None,
    leases: Leases | None = None,
) -> BackfillResult:
    windows = backfill_windows(rule, start, end)
    executor = Executor(backend=backend, exceptions=exceptions, value_lists=backend)
    log = get_logger().bind(rule=rule.name, rule_id=rule.rule_id)
    log.info("backfill_started", window_from=isoformat(start), window_to=isoformat(end),
             windows=len(windows))  # fmt: skip
    records: list[ExecutionRecord] = []
    covered_to: datetime | None = None
    contiguous = True
    interrupted = False
    try:
        for window in windows:
            if leases is None:
                record = executor.run_window(rule, window, window.end).record
            else:  # never beside the owner's execution of the rule; each window a hold
                with leases.hold(rule.rule_id, wait=HOLD_WAIT, ttl=HOLD_TTL) as hold:
                    record = executor.run_window(rule, window, window.end).record
                    report_overlaps(hold, hold.executed([record]), rule, None)
            records.append(record)
            if record.status == "failed":
                contiguous = False
            elif contiguous:
                covered_to = window.end
            if progress is not None:
                created = sum(r.alerts_created for r in records)
                progress(BackfillProgress(done=len(records), total=len(windows),
                                          alerts_created=created, record=record))  # fmt: skip
    except KeyboardInterrupt:
        interrupted = True  # what was searched still closes gaps below
    closed = _close_gaps(rule, backend, start, covered_to)
    result = BackfillResult(
        rule=rule, start=start, end=end, records=tuple(records), planned=len(windows),
        covered_to=covered_to, gaps_closed=tuple(closed),
        gaps_open=tuple(backend.open_gaps(rule.rule_id)), interrupted=interrupted,
    )  # fmt: skip
    log.info(
        "backfill_finished", windows=len(records), failed=len(result.failed),
        alerts_created=result.alerts_created, duplicates=result.duplicates,
        gaps_closed=len(closed), gaps_open=len(result.gaps_open), interrupted=interrupted,
    )  # fmt: skip
    return result


def _close_gaps(
    rule: Rule, backend: Backend, start: datetime, covered_to: datetime | None
) -> list[Gap]:
    """Close (or shorten) the gaps that ``[start, covered_to]`` covers from their start."""
    if covered_to is None:
        return []
    closed: list[Gap] = []
    for gap in backend.open_gaps(rule.rule_id):
        if gap.start + TOLERANCE < start or gap.start >= covered_to:
            continue  # begins before the range (a hole would remain), or beyond what was searched
        reach = gap.end if covered_to + TOLERANCE >= gap.end else covered_to
        backend.close_gap(gap, reach)
        closed.append(Gap(rule_id=gap.rule_id, start=gap.start, end=reach))
    return closed


def gap_ranges(backend: Backend, rule: Rule) -> list[tuple[datetime, datetime]]:
    """The rule's open gaps as backfill ranges (``runner backfill --gaps``)."""
    return [(gap.start, gap.end) for gap in backend.open_gaps(rule.rule_id)]
