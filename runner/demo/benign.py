"""Benign noise: ordinary process, file and network activity on macOS and Linux hosts.

:meth:`Noise.stream` yields exactly ``count`` records spread over a time span, in
non-decreasing ``(timestamp, seq)`` order.  Each step picks a host and a scenario (an app
touching files, a connection, a shell command, a cron job...), which appends a few records
starting at the current cursor; a heap puts the overlapping scenarios back in time order.
The cursor advances in proportion to the records produced, so the span is filled evenly
and the count is exact (the last scenario may be cut short).
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect
from collections.abc import Callable, Iterator

from runner.demo import catalog, linux, macos
from runner.demo.catalog import CommandSpec
from runner.demo.fleet import FileChoice, Host, Proc
from runner.demo.render import (
    EXEC,
    FILE_SHAPES,
    FORK,
    NET_ACCEPT,
    NET_CONNECT,
    NET_DISCONNECT,
    PROCESS_END,
    FileRef,
    NetInfo,
    Record,
    Shape,
)

Scenario = Callable[[Host, int], None]

# Share of documents without event.ingested (exercises the @timestamp fallback).
NO_INGESTED_SHARE = 0.02
BATCH = 128
# No scenario lasts longer than this (the longest command, 60 s x 1.3, plus connections).
MAX_SCENARIO_MS = 300_000
_DELAY_MASK = 8191


class Noise:
    """Benign record factory shared by all hosts; one ``rng`` drives everything."""

    def __init__(self, rng: random.Random, fleet: list[Host], *, now_ms: int, seq: int) -> None:
        self.rng = rng
        self.fleet = fleet
        self.seq = seq
        self.ingested_cap = now_ms
        self.buf: list[Record] = []
        # event.ingested - @timestamp by sequence number (-1: no event.ingested); a table
        # lookup is much cheaper than drawing per record.
        self._delays = [
            -1 if r < NO_INGESTED_SHARE else 250 + int(r * r * r * 6000)
            for r in (rng.random() for _ in range(_DELAY_MASK + 1))
        ]
        self._files: dict[tuple[int, int], list[FileChoice]] = {}
        mac: list[tuple[int, Scenario]] = [
            (34, self.app_files),
            (22, self.app_network),
            (12, self.mac_shell),
            (8, self.mac_service),
            (4, self.fork),
        ]
        linux: list[tuple[int, Scenario]] = [
            (28, self.app_files),
            (14, self.app_network),
            (16, self.inbound),
            (6, self.cron_job),
            (8, self.ssh_command),
            (4, self.fork),
        ]
        self._tables: list[tuple[list[float], list[Scenario]]] = []
        for host in fleet:
            table = mac if host.is_mac else list(linux)
            if host.role == "mail":
                table.append((12, self.exim4_queue))
            total = sum(w for w, _ in table)
            cum: list[float] = []
            acc = 0
            for w, _ in table:
                acc += w
                cum.append(acc / total)
            self._tables.append((cum, [fn for _, fn in table]))

    # -- records -------------------------------------------------------------------------

    def rec(
        self, ts: int, shape: Shape, host: Host, proc: Proc, extra: FileRef | NetInfo | None = None
    ) -> None:
        seq = self.seq
        delay = self._delays[seq & _DELAY_MASK]
        if delay < 0:
            ing = -1
        else:
            ing = ts + delay
            if ing > self.ingested_cap:  # noqa: PLR1730 (hot path: min() is a call)
                ing = self.ingested_cap
        self.buf.append((ts, seq, shape, host, proc, ing, extra, None))
        self.seq = seq + 1

    def batches(self, start_ms: int, end_ms: int, count: int) -> Iterator[list[Record]]:
        """Exactly ``count`` records with ``start_ms <= @timestamp < end_ms``, time-ordered,
        in lists of about :data:`BATCH` (per-record generators cost too much)."""
        if count <= 0:
            return
        rand = self.rng.random
        heap: list[Record] = []
        push, pop = heapq.heappush, heapq.heappop
        fleet, tables = self.fleet, self._tables
        nhosts = len(fleet)
        span = end_ms - start_ms
        safe = end_ms - MAX_SCENARIO_MS
        buf = self.buf
        out: list[Record] = []
        emitted = 0
        while emitted < count:
            cursor = start_ms + span * emitted // count
            while heap and heap[0][0] <= cursor:
                out.append(pop(heap))
            if len(out) >= BATCH:
                yield out
                out = []
            i = int(rand() * nhosts)
            cum, fns = tables[i]
            buf.clear()
            fns[bisect(cum, rand())](fleet[i], cursor)
            n = len(buf)
            if n > count - emitted:
                n = count - emitted
                del buf[n:]
            if cursor < safe:
                for r in buf:
                    push(heap, r)
            else:  # near the end: keep every record before end_ms
                for r in buf:
                    push(heap, r if r[0] < end_ms else (end_ms - 1, *r[1:]))
            emitted += n
        while heap:
            out.append(pop(heap))
        if out:
            yield out

    # -- helpers -------------------------------------------------------------------------

    def token(self) -> str:
        return f"{self.rng.getrandbits(32):08x}"

    def file_ref(self, choice: FileChoice) -> FileRef:
        return choice if isinstance(choice, FileRef) else choice.pick(self.rng)

    def ephemeral(self, host: Host) -> int:
        bits = self.rng.getrandbits(14)
        return 49152 + bits if host.is_mac else 32768 + bits + (bits >> 1)

    def connect(
        self, host: Host, proc: Proc, pool: tuple[tuple[str, int, str], ...], t: int
    ) -> int:
        rng = self.rng
        ip, port, transport = pool[int(rng.random() * len(pool))]
        info: NetInfo = (host.ip, self.ephemeral(host), ip, port, transport, "egress")
        self.rec(t, NET_CONNECT, host, proc, info)
        r = rng.random()
        end = t + 5 + int(r * r * 30_000)
        self.rec(end, NET_DISCONNECT, host, proc, info)
        return end

    def spawn(
        self,
        host: Host,
        parent: Proc,
        spec: CommandSpec,
        t: int,
        args: tuple[str, ...] | None = None,
    ) -> Proc:
        user = host.account(spec.user) if spec.user else (parent.user_name, parent.user_id)
        return Proc(
            host,
            pid=host.alloc_pid(self.rng),
            executable=spec.executable,
            args=args if args is not None else spec.args,
            user=user,
            start_ms=t,
            parent=parent,
            cwd=parent.cwd,
        )

    def command(
        self, host: Host, parent: Proc, spec: CommandSpec, t: int, proc: Proc | None = None
    ) -> int:
        """exec, the command's file and network activity, end; returns the end time."""
        rng = self.rng
        if proc is None:
            proc = self.spawn(host, parent, spec, t)
        self.rec(t, EXEC, host, proc)
        t += 1 + rng.getrandbits(6)
        for dest in spec.net:
            self.connect(host, proc, catalog.DESTINATIONS[dest], t)
            t += 5 + rng.getrandbits(8)
        if spec.files:
            key = (id(host), id(spec))
            choices = self._files.get(key)
            if choices is None:
                account = spec.user or (
                    "user" if parent.user_id == host.account("user")[1] else "root"
                )
                choices = self._files[key] = host.file_choices(spec.files, account)
            actions = spec.file_actions
            for choice in choices:
                if rng.random() < 0.6:
                    shape = FILE_SHAPES[actions[int(rng.random() * len(actions))]]
                    self.rec(t, shape, host, proc, self.file_ref(choice))
                    t += 1 + rng.getrandbits(7)
        end = t + int(spec.duration_ms * (0.3 + rng.random()))
        self.rec(end, PROCESS_END, host, proc)
        return end

    # -- scenarios -----------------------------------------------------------------------

    def app_files(self, host: Host, t: int) -> None:
        rng = self.rng
        rand = rng.random
        apps = host.file_apps
        proc, choices, shapes = apps[int(rand() * len(apps))]
        nc, ns = len(choices), len(shapes)
        rec = self.rec
        for _ in range(2 + int(rand() * 5)):  # programs touch files in bursts
            choice = choices[int(rand() * nc)]
            if not isinstance(choice, FileRef):
                choice = choice.pick(rng)
            rec(t, shapes[int(rand() * ns)], host, proc, choice)
            t += 1 + rng.getrandbits(8)

    def app_network(self, host: Host, t: int) -> None:
        rng = self.rng
        apps = host.net_apps
        proc, pool = apps[int(rng.random() * len(apps))]
        for _ in range(1 + rng.getrandbits(1)):
            self.connect(host, proc, pool, t)
            t += 1 + rng.getrandbits(9)

    def inbound(self, host: Host, t: int) -> None:
        rng = self.rng
        apps = host.inbound_apps
        proc, port, clients = apps[int(rng.random() * len(apps))]
        for _ in range(1 + int(rng.random() * 3)):
            client = clients[int(rng.random() * len(clients))]
            info: NetInfo = (client, 32768 + rng.getrandbits(14), host.ip, port, "tcp", "ingress")
            self.rec(t, NET_ACCEPT, host, proc, info)
            r = rng.random()
            self.rec(t + 2 + int(r * r * 20_000), NET_DISCONNECT, host, proc, info)
            t += 1 + rng.getrandbits(10)

    def mac_shell(self, host: Host, t: int) -> None:
        cmds = macos.MAC_COMMANDS
        self.command(host, host.apps["zsh"], cmds[int(self.rng.random() * len(cmds))], t)

    def mac_service(self, host: Host, t: int) -> None:
        svcs = macos.MAC_SERVICES
        self.command(host, host.apps["launchd"], svcs[int(self.rng.random() * len(svcs))], t)

    def fork(self, host: Host, t: int) -> None:
        parent = host.apps["zsh"] if host.is_mac else host.apps["cron"]
        child = Proc(
            host,
            pid=host.alloc_pid(self.rng),
            executable=parent.executable,
            args=parent.args,
            user=(parent.user_name, parent.user_id),
            start_ms=t,
            parent=parent,
            cwd=parent.cwd,
        )
        self.rec(t, FORK, host, child)
        self.rec(t + 1 + self.rng.getrandbits(9), PROCESS_END, host, child)

    def cron_job(self, host: Host, t: int) -> None:
        jobs = linux.LINUX_CRON
        spec = jobs[int(self.rng.random() * len(jobs))]
        line = " ".join(spec.args)
        shell = self.spawn(host, host.apps["cron"], _SH, t, ("/bin/sh", "-c", line))
        self.rec(t, EXEC, host, shell)
        end = self.command(host, shell, spec, t + 2 + self.rng.getrandbits(4))
        self.rec(end + 1, PROCESS_END, host, shell)

    def ssh_command(self, host: Host, t: int) -> None:
        rng = self.rng
        bash = Proc(
            host,
            pid=host.alloc_pid(rng),
            executable="/usr/bin/bash",
            args=("-bash",),
            user=host.account("user"),
            start_ms=t,
            parent=host.apps["sshd"],
            cwd=host.home("user"),
        )
        self.rec(t, EXEC, host, bash)
        cmds = linux.LINUX_COMMANDS
        for _ in range(1 + rng.getrandbits(1)):
            t = self.command(
                host, bash, cmds[int(rng.random() * len(cmds))], t + 300 + rng.getrandbits(12)
            )
        self.rec(t + 50, PROCESS_END, host, bash)

    def exim4_queue(self, host: Host, t: int) -> None:
        rng = self.rng
        children = linux.EXIM4_BENIGN_CHILDREN
        spec = children[int(rng.random() * len(children))]
        daemon = host.apps["exim4"]
        args = spec.args
        if "{msgid}" in args[-1]:
            tok = self.token()
            msgid = f"1s{tok[:4]}-000{tok[4:7]}-{tok[7]}X"
            args = (*args[:-1], msgid)
        self.command(host, daemon, spec, t, self.spawn(host, daemon, spec, t, args))


_SH = CommandSpec(executable="/bin/sh", args=("/bin/sh",))
