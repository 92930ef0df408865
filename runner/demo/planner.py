"""Recording special documents: timing, labels, processes and manifest entries.

:class:`Planner` is the toolbox of :class:`runner.demo.specials.Specials`.  Times (epoch ms):

* in-window documents: ``@timestamp`` in ``now-8m .. now-75s`` and ``event.ingested``
  0.3-5.3 s later, so a rule run up to a minute after ``now`` still sees them;
* late arrivals: ``@timestamp`` 12-16 min ago, ingested 1-5 min ago;
* stale documents: ``@timestamp`` 12-25 min ago, ingested seconds later (outside the window).

Documents that only support a scenario (the installer's own exec, a process end...) are
labelled ``context``; they match no seed rule.
"""

from __future__ import annotations

import random
from datetime import timedelta

from runner.demo.fleet import Host, Proc
from runner.demo.model import (
    ExpectedAlert,
    GeneratorConfig,
    HistoryTerm,
    NearMiss,
)
from runner.demo.render import (
    EXEC,
    PROCESS_END,
    FileRef,
    Label,
    NetInfo,
    Record,
    Shape,
    event_id,
)

SECOND = 1000
MINUTE = 60 * SECOND
DAY = 24 * 60 * MINUTE
AUTO = -2  # ingest argument: "a little after @timestamp"
NONE = -1  # ingest argument: no event.ingested
ROOT = ("root", "0")
MS = timedelta(milliseconds=1)


class Planner:
    """Collects special records (``records``) and the manifest entries about them."""

    def __init__(
        self, rng: random.Random, fleet: list[Host], config: GeneratorConfig, now_ms: int, seq: int
    ) -> None:
        self.rng = rng
        self.config = config
        self.now = now_ms
        self.seq = seq
        self.records: list[Record] = []
        self.alerts: list[ExpectedAlert] = []
        self.near: list[NearMiss] = []
        self.history: list[HistoryTerm] = []
        self.extra_hosts: list[Host] = []
        self.macs = [h for h in fleet if h.is_mac]
        self.linux = [h for h in fleet if h.os_type == "linux"]
        self.mail = [h for h in self.linux if h.role == "mail"]
        self._labels: dict[tuple[str, str, str], Label] = {}
        self._unique = 0

    def label(self, role: str, rule: str, case: str) -> Label:
        key = (role, rule, case)
        lab = self._labels.get(key)
        if lab is None:
            lab = self._labels[key] = Label(role, rule, case)
        return lab

    def context(self, label: Label) -> Label:
        return self.label("context", label.rule, label.case)

    def rec(
        self,
        ts: int,
        shape: Shape,
        host: Host,
        proc: Proc,
        label: Label,
        *,
        extra: FileRef | NetInfo | None = None,
        ingest: int = AUTO,
    ) -> str:
        if ingest == AUTO:
            ingest = min(ts + 300 + self.rng.randrange(5000), self.now)
        seq = self.seq
        self.seq += 1
        self.records.append((ts, seq, shape, host, proc, ingest, extra, label))
        return event_id(host, seq)

    def pick(self, hosts: list[Host]) -> Host:
        return hosts[self.rng.randrange(len(hosts))]

    def token(self) -> str:
        self._unique += 1
        return f"{self.rng.getrandbits(24):06x}{self._unique:x}"

    def in_window(self) -> int:
        return self.rng.randrange(self.now - 480 * SECOND, self.now - 75 * SECOND)

    def stale(self) -> int:
        return self.rng.randrange(self.now - 25 * MINUTE, self.now - 12 * MINUTE)

    def late(self) -> tuple[int, int]:
        """(@timestamp, event.ingested) of a document that arrived late."""
        ts = self.rng.randrange(self.now - 16 * MINUTE, self.now - 12 * MINUTE)
        return ts, self.rng.randrange(self.now - 5 * MINUTE, self.now - 1 * MINUTE)

    def timing(self, kind: str) -> tuple[int, int]:
        """(@timestamp, ingest argument) for a true positive's timing kind."""
        if kind == "late":
            return self.late()
        return self.in_window(), NONE if kind == "no_ingested" else AUTO

    @staticmethod
    def later(ingest: int, dt: int) -> int:
        return ingest if ingest < 0 else ingest + dt

    def proc(
        self,
        host: Host,
        executable: str,
        args: tuple[str, ...],
        parent: Proc | None,
        *,
        start: int,
        user: tuple[str, str] = ROOT,
    ) -> Proc:
        return Proc(
            host,
            pid=host.alloc_pid(self.rng),
            executable=executable,
            args=args,
            user=user,
            start_ms=start,
            parent=parent,
        )

    def daemon(self, host: Host, key: str, executable: str, parent_key: str) -> Proc:
        """A long-running program created on first use (emond, package_script_service...)."""
        proc = host.apps.get(key)
        if proc is None:
            start = self.now - 3 * DAY - self.rng.randrange(DAY)
            proc = self.proc(host, executable, (executable,), host.apps[parent_key], start=start)
            host.apps[key] = proc
        return proc

    def outbound(self, host: Host, port: int) -> NetInfo:
        remote = f"203.0.113.{10 + self.rng.randrange(200)}"
        return (host.ip, 49152 + self.rng.getrandbits(14), remote, port, "tcp", "egress")

    def near_miss(self, label: Label, host: Host, *eids: str) -> None:
        self.near.append(
            NearMiss(rule=label.rule, case=label.case, host_id=host.id, event_ids=eids)
        )

    def expect(self, label: Label, host: Host, *eids: str, new_term: str | None = None) -> None:
        self.alerts.append(
            ExpectedAlert(
                rule=label.rule, case=label.case, host_id=host.id, event_ids=eids, new_term=new_term
            )
        )

    def child(
        self,
        host: Host,
        parent: Proc,
        exe: str,
        args: tuple[str, ...],
        *,
        ts: int,
        label: Label,
        ingest: int = AUTO,
        shape: Shape = EXEC,
        user: tuple[str, str] = ROOT,
        end: bool = True,
    ) -> str:
        """A child process event (and, after a while, its end as context)."""
        proc = self.proc(host, exe, args, parent, start=ts, user=user)
        eid = self.rec(ts, shape, host, proc, label, ingest=ingest)
        if end:
            dt = 20 + self.rng.randrange(3000)
            self.rec(
                ts + dt, PROCESS_END, host, proc, self.context(label), ingest=self.later(ingest, dt)
            )
        return eid
