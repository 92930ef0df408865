"""Leases: which daemon runs which rule, and one execution of a rule at a time.

Two things per rule, behind one interface (:class:`Leases`), one implementation per backend:

- a *lease*: the daemon that schedules the rule.  On a cluster
  (:mod:`runner.daemon.leases_elastic`) daemons claim and renew lease documents with
  ``if_seq_no``/``if_primary_term``, split the rules between them and take over the rules of a
  daemon that stopped renewing (as Kibana's task manager does with its tasks index).  The
  embedded store (:mod:`runner.daemon.leases_local`) takes one daemon: it owns every rule and a
  second one is refused.
- a *hold*: held around one execution of the rule (by the owner, ``runner once`` or a backfill
  window), so two never search the same rule at the same time.  A hold remembers the end of
  the last window executed and by whom, which is how an *overlap* (a window executed by two
  daemons) is noticed, counted and reported.

A new owner misses no window: it resumes from the run state's "covered up to".
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from runner.daemon.budget import CLOSE_WAIT
from runner.errors import RunnerError
from runner.execution.model import ExecutionRecord
from runner.logs import get_logger

if TYPE_CHECKING:
    from runner.backends.base import Backend
    from runner.daemon.metrics import Metrics
    from runner.daemon.supervisor import Execute
    from runner.rules.model import Rule

DEFAULT_TTL = timedelta(seconds=30)
# The owner waits this long for a hold taken by `once` or a backfill window before it gives up
# on this run (recorded as failed; the next run searches the window).
OWNER_WAIT = timedelta(seconds=30)


def default_daemon_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RuleBusyError(RunnerError):
    """Another process holds the rule's execution for longer than we may wait."""


class DaemonRefused(RunnerError):
    """This daemon may not start (the embedded store already has one)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Owner:
    """Who runs a rule, for ``runner status``."""

    rule_id: str
    owner: str | None  # None: nobody holds a live lease
    expires_at: datetime | None = None
    overlaps: int = 0  # windows this rule executed twice, as counted by the holds


@dataclass(frozen=True, kw_only=True, slots=True)
class Moved:
    """A rule this daemon took over from another one."""

    rule_id: str
    previous: str
    unowned: timedelta  # since the previous owner's last renewal


@dataclass(frozen=True, kw_only=True, slots=True)
class TickResult:
    owned: tuple[str, ...]
    claimed: tuple[str, ...] = ()
    released: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    moved: tuple[Moved, ...] = ()


@dataclass(kw_only=True)
class Hold:
    """One execution's hold on a rule; what the previous holder left behind."""

    rule_id: str
    holder: str
    previous_end: datetime | None = None
    previous_by: str | None = None
    stolen_from: str | None = None  # an expired hold of another process was taken over
    last_end: datetime | None = None
    overlaps: int = 0
    records: list[ExecutionRecord] = field(default_factory=list)

    def executed(self, records: Sequence[ExecutionRecord]) -> int:
        """Note the windows executed under this hold; returns the overlaps they make."""
        windows = [r for r in records if r.window_end is not None and r.gap_seconds is None]
        found = 1 if self.stolen_from is not None else 0
        if self.previous_by not in (None, self.holder) and self.previous_end is not None:
            found += sum(1 for r in windows if r.window_end and r.window_end <= self.previous_end)
        ends = [r.window_end for r in windows if r.window_end is not None and r.status != "failed"]
        if ends:
            self.last_end = max([*ends, *([self.previous_end] if self.previous_end else [])])
        self.overlaps += found
        return found


class Leases(Protocol):
    """The leases of one daemon (or of a one-off command, which only takes holds)."""

    name: str

    def start(self, rule_ids: Sequence[str]) -> TickResult:
        """Begin: the first claim (or a refusal, :class:`DaemonRefused`)."""
        ...

    def tick(self, rule_ids: Sequence[str]) -> TickResult:
        """Renew what is ours, release beyond our share, claim free and expired leases."""
        ...

    def owns(self, rule_id: str) -> bool:
        """Whether our lease on the rule is live (by our own clock: a daemon cut off from
        the cluster stops running its rules when its leases would have expired)."""
        ...

    def hold(
        self, rule_id: str, *, wait: timedelta, ttl: timedelta
    ) -> AbstractContextManager[Hold]:
        """Hold the rule's execution (waiting up to ``wait`` for another holder, else
        :class:`RuleBusyError`); the hold lapses after ``ttl`` if never released."""
        ...

    def owners(self, rule_ids: Sequence[str]) -> dict[str, Owner]: ...

    def stop(self) -> None:
        """Release every lease (a clean stop hands the rules over at once)."""
        ...


def leased_execute(
    leases: Leases,
    execute: Execute,
    *,
    budget: Callable[[Rule], timedelta],
    metrics: Metrics | None = None,
    wait: timedelta = OWNER_WAIT,
    lease_ttl: timedelta = DEFAULT_TTL,
) -> Execute:
    """``execute`` under the rule's hold; overlaps are counted, logged and put in metrics.

    The owner waits for a hold of ``once`` or a backfill window at most half its budget, and
    its own hold outlives the budget by the daemon's lease time (an abandoned execution may
    still write until its fence closes), not longer: a killed daemon's hold keeps the rule
    from its next owner no longer than its leases do."""
    slack = max(lease_ttl, timedelta(seconds=CLOSE_WAIT))

    def run(backend: Backend, rule: Rule, now: datetime) -> list[ExecutionRecord]:
        allowed = budget(rule)
        with leases.hold(rule.rule_id, wait=min(wait, allowed / 2),
                         ttl=allowed + slack) as hold:  # fmt: skip
            records = execute(backend, rule, now)
            report_overlaps(hold, hold.executed(records), rule, metrics)
        return records

    return run


def report_overlaps(hold: Hold, found: int, rule: Rule, metrics: Metrics | None) -> None:
    if not found:
        return
    get_logger().warning(
        "lease_overlap", rule=rule.name, rule_id=rule.rule_id, overlaps=found,
        previous=hold.stolen_from or hold.previous_by,
        detail="a window of this rule was executed by two processes; deterministic alert ids "
        "kept the alerts identical",
    )  # fmt: skip
    if metrics is not None:
        metrics.inc("runner_lease_overlaps_total", (("rule_id", rule.rule_id),), found)


class LeaseKeeper:
    """The daemon's thread that renews and rebalances leases every ``every``."""

    def __init__(
        self,
        leases: Leases,
        rule_ids: Callable[[], Sequence[str]],
        *,
        every: timedelta,
        metrics: Metrics | None = None,
    ) -> None:
        self.leases = leases
        self._rule_ids = rule_ids
        self._every = every
        self._metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self.report(self.leases.start(self._rule_ids()))
        except DaemonRefused:
            raise
        except RunnerError as exc:  # cluster down at start: run nothing now, claim later
            get_logger().warning("leases_not_renewed", daemon=self.leases.name, error=str(exc))
        self._thread = threading.Thread(target=self._loop, name="runner-leases", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every.total_seconds()):
            self.tick()

    def tick(self) -> None:
        try:
            self.report(self.leases.tick(self._rule_ids()))
        except RunnerError as exc:  # cluster down: our leases lapse by our own clock
            get_logger().warning("leases_not_renewed", daemon=self.leases.name, error=str(exc))

    def report(self, result: TickResult) -> None:
        log = get_logger().bind(daemon=self.leases.name)
        if result.claimed or result.released or result.lost:
            log.info("leases_changed", owned=len(result.owned), claimed=list(result.claimed),
                     released=list(result.released), lost=list(result.lost))  # fmt: skip
        for moved in result.moved:
            log.warning("lease_taken_over", rule_id=moved.rule_id, previous=moved.previous,
                        unowned_s=round(moved.unowned.total_seconds(), 3))  # fmt: skip
        if self._metrics is None:
            return
        self._metrics.set("runner_leases_owned", float(len(result.owned)))
        for moved in result.moved:
            self._metrics.inc("runner_lease_takeovers_total")
            self._metrics.max("runner_lease_unowned_seconds_max", moved.unowned.total_seconds())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.leases.stop()
