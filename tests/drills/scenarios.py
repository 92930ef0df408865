"""The fault drills: ``runner daemon`` processes against a cluster behind the fault proxy.

Each drill feeds events while daemons run, injects its faults, lets the daemons settle (every
rule covered past the last event, every notification acknowledged), stops them cleanly and
hands the cluster to the invariant checker (:mod:`tests.drills.invariants`).  The same
functions run as pytest drills (``-m drill``, tests/drills/test_drills.py) and from
``scripts/drills.py``, which prints the figures.

- :func:`network_drill`: refused connections, a ``_bulk`` reset in its request and in its
  answer, a search stalled past the request timeout, bursts of 429 and 503, a ``_bulk``
  answered 200 with items failed, and a 503 burst on the outbox record of a sent notification;
- :func:`process_drill`: SIGKILL before a search, in the middle of a write (the alerts are
  written, the answer never arrives), after the write and before the run state, and at a
  random moment; a restart after each;
- :func:`outage_drill`: the cluster down longer than the rules' catch-up limit: the gap is
  reported, then ``runner backfill --gaps`` searches it;
- :func:`three_daemons_drill`: three daemons, one killed and restarted repeatedly.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import random
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from runner.timeutil import parse_absolute
from tests.daemon.procs import DaemonProcess, Processes, Workspace, eventually
from tests.drills.cluster import Target, target
from tests.drills.events import Feeder, write_rules
from tests.drills.figures import Figures, lease_moves
from tests.drills.invariants import Verdict, check
from tests.drills.proxy import FaultProxy, Request, Response
from tests.drills.receiver import Receiver
from tests.notify.factories import write_notify_files

LEASE_TTL = "2s"
DIAGNOSTIC_EVENTS = ("notification_claim_lost", "notification_not_recorded",
                     "notifications_left_for_later", "lease_overlap", "hold_lost",
                     "rule_gap")  # fmt: skip
# Credentials every drill daemon is configured with (the stand-in accepts any): no byte of
# anything runner prints during a drill may show them (issue #16, Security).
API_KEY_ID, API_KEY = "drill-kid", "Drill-Key-5c1e-very-secret"
REQUEST_TIMEOUT = 3  # seconds; the stall fault holds a request longer
MAX_RETRIES = 2
# An execution (with its catch-up windows) on a loaded stand-in takes up to a few seconds.
BUDGET = "10s"


class Drill:
    """One drill's world: cluster, proxy, webhook receiver, rules, daemons, feeder."""

    def __init__(
        self, root: Path, cluster: Target, *, rules: int, interval: int, lookback: int
    ) -> None:
        self.cluster = cluster
        ca = os.environ.get("RUNNER_TEST_ES_CA_CERTS") if cluster.real else None
        self.proxy = FaultProxy(cluster.url, stall=REQUEST_TIMEOUT + 1.5, ca_certs=ca).start()
        self.receiver = Receiver()
        self.workspace = Workspace(root)
        self.rule_ids = write_rules(
            self.workspace.rules, rules, cluster.events_index, interval=interval, lookback=lookback
        )
        write_notify_files(root, self.receiver.url)
        self.workspace.env.update(
            RUNNER_ES_URL=self.proxy.url, RUNNER_DAEMON_LEASE_TTL=LEASE_TTL,
            RUNNER_ES_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT), RUNNER_ES_MAX_RETRIES=str(MAX_RETRIES),
            RUNNER_NOTIFY_INTERVAL="500ms", RUNNER_NOTIFY_RETRY_BASE="200ms",
            RUNNER_NOTIFY_RETRY_MAX="1s", RUNNER_NOTIFY_TIMEOUT="1", **cluster.env(),
        )  # fmt: skip
        if not cluster.real:  # a real cluster's own credentials come from RUNNER_TEST_ES_URL
            self.workspace.env["RUNNER_ES_API_KEY"] = f"{API_KEY_ID}:{API_KEY}"
        self.proxy.after(*self.receiver.outbox_watch(f"{cluster.prefix}-outbox"))
        self.processes = Processes(self.workspace)
        self.feeder = Feeder(cluster, rules)
        self.figures = Figures(drills=1)
        self.kills: list[str] = []  # kill points, in order

    def close(self) -> None:
        self.processes.close()
        self.proxy.stop()
        self.receiver.stop()

    # -- daemons -------------------------------------------------------------------------
    def daemon(self, name: str) -> DaemonProcess:
        self.workspace.env["RUNNER_DAEMON_NAME"] = name
        return self.processes.daemon("--budget", BUDGET, "--workers", "3", "--grace", "5s")

    def daemons(self) -> list[DaemonProcess]:
        return self.processes.started

    def lines(self) -> list[dict[str, Any]]:
        return [line for d in self.daemons() for line in d.events_all()]

    def tail(self, lines: int = 25) -> str:
        """The end of every daemon's log, for a failed drill's message."""
        return "\n".join(
            f"--- daemon {d.proc.pid} (exit {d.proc.poll()}):\n" + "".join(d.raw[-lines:])
            for d in self.daemons()
        )  # fmt: skip

    def wait_every_rule_ran(self, timeout: float = 150) -> None:
        def ran() -> set[str]:
            return {str(line.get("rule_id")) for line in self.lines()
                    if line.get("event") == "rule_executed"}  # fmt: skip

        eventually(lambda: set(self.rule_ids) <= ran(), timeout, "every rule executed once")

    def kill(self, daemon: DaemonProcess, point: str) -> None:
        """SIGKILL, outside the window between a webhook's acknowledgement and its record."""
        with self.receiver.quiet():
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(10)
        self.kills.append(point)
        self.figures.faults[f"sigkill_{point}"] += 1

    # -- settling and checking -----------------------------------------------------------
    def covered_to(self) -> dict[str, datetime]:
        return {
            str(doc["rule_id"]): parse_absolute(str(doc["covered_to"]))
            for doc in self.cluster.search(f"{self.cluster.prefix}-state")
            if doc.get("covered_to")
        }  # fmt: skip

    def settle(self, timeout: float = 180) -> None:
        """Feeding stopped: wait until every rule searched past the last event and every
        alert's notification was acknowledged, then stop the daemons (SIGTERM)."""
        self.feeder.stop()
        last = self.feeder.last
        assert last is not None, "the feeder wrote nothing"
        eventually(lambda: all(self.covered_to().get(r, last) > last for r in self.rule_ids)
                   and set(self.covered_to()) >= set(self.rule_ids),
                   timeout, "every rule searched past the last event")  # fmt: skip

        def notified() -> bool:
            ids = {str(a["_id"]) for a in self.cluster.search(self.cluster.alerts_index)}
            return ids <= self.receiver.delivered()

        eventually(notified, timeout, "every alert's notification acknowledged")
        time.sleep(0.5)  # a redelivery would show up now
        for daemon in self.daemons():
            if daemon.proc.poll() is None:
                daemon.send(signal.SIGTERM)
        for daemon in self.daemons():
            if daemon.proc.returncode is None:
                code = daemon.wait(20)
                assert code == 0, f"daemon exited {code}: {''.join(daemon.raw[-10:])}"

    def verdict(self, *, notified: set[str] | None = None) -> Verdict:
        return check(self.cluster, self.feeder.events, self.receiver, notified=notified)

    def conclude(self) -> Outcome:
        """The verdict after the daemons stopped; then, when gaps were reported,
        ``runner backfill --gaps`` and the verdict again (backfills notify nobody)."""
        before = self.verdict()
        after = before
        if before.gaps:
            notified = {str(a["_id"]) for a in self.cluster.search(self.cluster.alerts_index)}
            done = self.workspace.cli("backfill", "--gaps", timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            after = self.verdict(notified=notified)
        figures = self.figures
        figures.faults.update(self.proxy.injected)
        lines = self.lines()
        figures.executions = sum(1 for line in lines if line.get("event") == "rule_executed")
        figures.record(after)
        figures.lost = len(before.lost) + len(after.lost)
        figures.backfilled = len(before.in_gaps)
        moves = lease_moves(lines)
        figures.moved, figures.longest_unowned_s = moves.moved, moves.longest_unowned_s
        figures.gaps_reported = len(before.gaps)
        noted = Counter(str(line.get("event")) for line in lines)
        notes = tuple(f"{name}: {noted[name]}" for name in DIAGNOSTIC_EVENTS if noted[name])
        self.workspace.cli("status", "--json")  # its output is searched too
        return Outcome(figures=figures, before=before, after=after, notes=notes, leaks=self.leaks())

    def leaks(self) -> tuple[str, ...]:
        """Which forms of the configured credentials appear in any output of the drill: every
        daemon's stdout and stderr (debug logs included) and every CLI command's."""
        if self.workspace.env.get("RUNNER_ES_API_KEY") is None:
            return ()
        pair = f"{API_KEY_ID}:{API_KEY}"
        forms = {
            "API key": API_KEY,
            "API key, base64": base64.b64encode(API_KEY.encode()).decode(),
            "id:key, base64 (the ApiKey header)": base64.b64encode(pair.encode()).decode(),
        }
        texts = ["".join(d.raw) for d in self.daemons()] + self.workspace.outputs
        return tuple(name for name, secret in forms.items() if any(secret in t for t in texts))


@dataclass(frozen=True, kw_only=True)
class Outcome:
    figures: Figures
    before: Verdict  # when the daemons stopped
    after: Verdict  # after `runner backfill --gaps` (the same when no gap was reported)
    notes: tuple[str, ...] = ()  # log events that explain a broken invariant, counted
    leaks: tuple[str, ...] = ()  # forms of the configured credentials seen in some output

    def problems(self) -> list[str]:
        """What breaks an invariant: alerts lost (not written, not in a reported gap) or
        duplicated, notifications lost or repeated, gaps still open after the backfill."""
        found = [f"when the daemons stopped: {p}" for p in self.before.problems()]
        found += [f"after the backfill: {p}" for p in self.after.problems()]
        if self.after.in_gaps or self.after.gaps:
            found.append(f"still open after the backfill: {len(self.after.gaps)} gap(s)")
        if found and self.notes:
            found.append(f"daemon log events: {', '.join(self.notes)}")
        found += [f"a configured secret was printed ({form})" for form in self.leaks]
        return found


@contextlib.contextmanager
def slot() -> Iterator[None]:
    """At most ``RUNNER_DRILL_SLOTS`` (default 2) drills at a time on this machine, whatever
    the number of pytest workers: each drill keeps a stand-in, a proxy and daemons busy, and
    four at once on two cores starve all of them (executions overrun their budgets)."""
    slots = max(1, int(os.environ.get("RUNNER_DRILL_SLOTS", "2")))
    folder = Path(tempfile.gettempdir()) / f"runner-drill-slots-{os.getuid()}"
    folder.mkdir(exist_ok=True)
    deadline = time.monotonic() + 900
    while True:
        for n in range(slots):
            handle = (folder / f"slot-{n}.lock").open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                handle.close()  # closing drops the lock
            return
        if time.monotonic() > deadline:
            raise AssertionError("no drill slot free for 15 minutes")
        time.sleep(0.2)


@contextlib.contextmanager
def drill(
    root: Path, url: str | None, *, rules: int, interval: int = 2, lookback: int = 16
) -> Iterator[Drill]:
    """Rules every 2s over the last 16 by default: a catch-up limit of 24s, past a kill's
    restart and the hold its execution leaves behind (budget and lease time, 12s)."""
    root.mkdir(parents=True, exist_ok=True)
    with slot(), target(root, url) as cluster:
        (root / "ws").mkdir()
        world = Drill(root / "ws", cluster, rules=rules, interval=interval, lookback=lookback)
        try:
            yield world
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{world.tail()}") from None
        finally:
            world.close()


def _alerts_bulk(index: str, rule: str | None = None) -> Callable[[Request], bool]:
    def match(request: Request) -> bool:
        if not request.bulk:
            return False
        lines = request.lines()
        docs = lines[1::2]
        ours = bool(lines) and next(iter(lines[0].values())).get("_index") == index
        return ours and (rule is None or any(d.get("kibana.alert.rule.rule_id") == rule
                                             for d in docs))  # fmt: skip

    return match


def _eql_search(rule_k: int | None = None) -> Callable[[Request], bool]:
    def match(request: Request) -> bool:
        if not request.path.endswith("/_eql/search"):
            return False
        return rule_k is None or f'"parent-{rule_k}"' in str((request.json() or {}).get("query"))

    return match


def _more(count: Callable[[], int], than: int) -> bool:
    return count() > than


def _wait_claims(daemon: DaemonProcess) -> None:
    daemon.wait_for(lambda: any(line.get("claimed") for line in daemon.events("leases_changed")),
                    150)  # fmt: skip


# -- the drills ------------------------------------------------------------------------------
def network_drill(root: Path, url: str | None = None) -> Outcome:
    with drill(root, url, rules=2) as world:
        daemon = world.daemon("net-1")
        world.wait_every_rule_ran()
        world.feeder.start()
        proxy, alerts_index = world.proxy, world.cluster.alerts_index
        # Longer than the client's retries, on recording a delivered notification as sent:
        # armed first, it meets the first notification delivered while the rest go on.
        on_record = proxy.inject("http_503", count=MAX_RETRIES + 1,
                                 match=_outbox_mark(world.cluster.prefix))  # fmt: skip
        steps: list[tuple[str, int, Callable[[Request], bool]]] = [
            ("http_429", 3, lambda r: True),
            ("http_503", 3, lambda r: True),
            ("stall", 1, _eql_search()),
            ("reset_bulk_request", 1, _alerts_bulk(alerts_index)),
            ("reset_bulk_response", 1, _alerts_bulk(alerts_index)),
            ("bulk_items_failed", 1, _alerts_bulk(alerts_index)),
        ]
        for kind, count, match in steps:
            fault = proxy.inject(kind, count=count, match=match)
            eventually(fault.done, 150, f"the fault was injected: {kind}")
            seen = len(daemon.events("rule_executed"))
            daemon.wait_event("rule_executed", count=seen + 1, timeout=150)  # the next fault
            # meets another execution
        eventually(on_record.done, 150, "the 503 burst on a notification's record")
        proxy.refuse_for(1.5)
        world.settle()
        return world.conclude()


def _outbox_mark(prefix: str) -> Callable[[Request], bool]:
    def match(request: Request) -> bool:
        if request.method != "PUT" or not request.path.startswith(f"/{prefix}-outbox/_doc/"):
            return False
        return (request.json() or {}).get("status") == "sent"

    return match


class KillAt:
    """Arms the proxy to SIGKILL ``victim`` once, at ``point`` of an execution of rule ``k``:
    ``before_search`` (its ``_eql/search`` arrives: dropped), ``mid_write`` (its alerts'
    ``_bulk`` was applied, the answer not yet relayed), ``after_write_before_state`` (the run
    state ``PUT`` of an execution that wrote alerts arrives: dropped)."""

    def __init__(self, world: Drill, victim: DaemonProcess, k: int, point: str) -> None:
        self.world, self.victim, self.point = world, victim, point
        self.fired = False
        self.wrote = False
        rule, proxy = world.rule_ids[k], world.proxy
        alerts = _alerts_bulk(world.cluster.alerts_index, rule)
        if point == "before_search":
            proxy.before(_eql_search(k), self._kill)
        elif point == "mid_write":
            proxy.after(alerts, lambda request, response: self._kill(request))
        else:
            state = f"/{world.cluster.prefix}-state/_doc/{rule}"
            proxy.after(alerts, self._note)
            proxy.before(lambda r: r.method == "PUT" and r.path == state,
                         lambda r: self.wrote and self._kill(r))  # fmt: skip

    def done(self) -> bool:
        return self.fired

    def _note(self, request: Request, response: Response) -> None:
        self.wrote = True

    def _kill(self, request: Request) -> bool:
        if self.fired:
            return False
        self.fired = True
        self.world.kill(self.victim, self.point)
        return True  # the request is dropped: the process that sent it is gone


def process_drill(root: Path, url: str | None = None, *, seed: int = 16) -> Outcome:
    """SIGKILL at each point of an execution of rule k (k = 0, 1, 2), then at a random
    moment; the daemon is restarted (same name) after each."""
    rng = random.Random(seed)
    with drill(root, url, rules=3) as world:
        daemon = world.daemon("proc-1")
        world.wait_every_rule_ran()
        world.feeder.start()
        for k, point in enumerate(("before_search", "mid_write", "after_write_before_state")):
            armed = KillAt(world, daemon, k, point)
            eventually(armed.done, 150, f"a kill {point}")
            daemon = world.daemon("proc-1")
            daemon.wait_event("daemon_started", timeout=150)
        time.sleep(rng.uniform(0.5, 1.5))
        world.kill(daemon, "random")
        world.daemon("proc-1").wait_event("daemon_started", timeout=150)
        world.settle()
        return world.conclude()


def outage_drill(root: Path, url: str | None = None) -> Outcome:
    """Down for 12s, past the catch-up limit (4s look-back + 4 windows of 1s): a gap is
    reported (execution log, ``runner status``), nothing is lost, and ``runner backfill
    --gaps`` then writes the alerts it held."""
    with drill(root, url, rules=2, interval=1, lookback=4) as world:
        world.daemon("out-1")
        world.wait_every_rule_ran()
        world.feeder.start()
        time.sleep(1.0)
        world.proxy.refuse_for(12.0)
        world.settle()
        status = world.workspace.cli("status", "--json")
        assert status.returncode == 0, status.stderr
        shown = [json.loads(line) for line in status.stdout.splitlines()]
        outcome = world.conclude()
        gaps = outcome.before.gaps
        assert gaps, "an outage past the catch-up limit reported no gap"
        assert sum(len(rule["open_gaps"]) for rule in shown) == len(gaps), status.stdout
        logged = [line for line in world.lines() if line.get("event") == "rule_gap"]
        assert {line["rule_id"] for line in logged} == {g.rule_id for g in gaps}
        return outcome


def three_daemons_drill(
    root: Path, url: str | None = None, *, kills: int = 3, seed: int = 16
) -> Outcome:
    rng = random.Random(seed)
    with drill(root, url, rules=4) as world:
        victim = world.daemon("d3")
        others = [world.daemon("d1"), world.daemon("d2")]
        world.wait_every_rule_ran()
        world.feeder.start()

        def takeovers() -> int:
            return sum(len(d.events("lease_taken_over")) for d in others)

        for _ in range(kills):
            _wait_claims(victim)
            time.sleep(rng.uniform(0.5, 1.5))
            taken = takeovers()
            world.kill(victim, "random")
            eventually(
                partial(_more, takeovers, taken), 150, "the killed daemon's rules taken over"
            )
            victim = world.daemon("d3")
        _wait_claims(victim)
        world.settle()
        return world.conclude()
