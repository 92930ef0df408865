"""Hosts and processes: identities, entity ids and their cached JSON fragments."""

from __future__ import annotations

import base64
import random
from typing import Any, TypeVar

from runner.demo import catalog, linux, macos
from runner.demo.catalog import AppSpec, OsSpec
from runner.demo.render import (
    DATASETS,
    ECS_VERSION,
    FILE_SHAPES,
    MESSAGES,
    SHAPES,
    FileRef,
    Shape,
    dumps,
    jstr,
)

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class FilePool:
    """A path template with a random part (``{rand}``).  Recent names are reused, as programs
    create, rewrite and delete the same temporary files; a new name 30% of the time."""

    __slots__ = ("recent", "template")

    SIZE = 8

    def __init__(self, template: str) -> None:
        self.template = template
        self.recent: list[FileRef] = []

    def pick(self, rng: random.Random) -> FileRef:
        recent = self.recent
        r = rng.random()
        if r < 0.3 or len(recent) < self.SIZE:
            ref = FileRef(self.template.replace("{rand}", f"{rng.getrandbits(32):08x}"))
            if len(recent) < self.SIZE:
                recent.append(ref)
            else:
                recent[int(r / 0.3 * self.SIZE)] = ref
            return ref
        return recent[int((r - 0.3) / 0.7 * self.SIZE)]


# An entry of a program's file list: a resolved path, or a template with a random part.
FileChoice = FileRef | FilePool


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.getrandbits(2)]}{h[17:20]}-{h[20:]}"


class Proc:
    """One process instance; ``entity_id`` is unique per (agent, pid, start time) like
    Elastic Defend's.  JSON fragments are built on first use and cached."""

    __slots__ = (
        "_full_doc",
        "_slim_doc",
        "_user_doc",
        "args",
        "cwd",
        "entity_id",
        "executable",
        "full_fragment",
        "host",
        "name",
        "parent",
        "pid",
        "slim_fragment",
        "user_id",
        "user_name",
    )

    def __init__(
        self,
        host: Host,
        *,
        pid: int,
        executable: str,
        args: tuple[str, ...],
        user: tuple[str, str],
        start_ms: int,
        parent: Proc | None,
        cwd: str = "/",
        name: str | None = None,
    ) -> None:
        self.host = host
        self.pid = pid
        self.executable = executable
        if name is None:
            name = executable.rsplit("\\" if "\\" in executable else "/", 1)[-1]
        self.name = name
        self.args = args
        self.cwd = cwd
        self.parent = parent
        self.user_name, self.user_id = user
        raw = f"{host.agent_id}-{pid}-{start_ms}".encode()
        self.entity_id = base64.b64encode(raw).decode()
        self.full_fragment = ""
        self.slim_fragment = ""
        self._full_doc: dict[str, Any] | None = None
        self._slim_doc: dict[str, Any] | None = None
        self._user_doc: dict[str, str] | None = None

    def _parent_doc(self) -> dict[str, Any]:
        p = self.parent
        assert p is not None
        return {"entity_id": p.entity_id, "executable": p.executable, "name": p.name, "pid": p.pid}

    def full_doc(self) -> dict[str, Any]:
        """``process`` as on process events (args, command line, working directory)."""
        doc = self._full_doc
        if doc is None:
            doc = {
                "args": list(self.args),
                "args_count": len(self.args),
                "command_line": " ".join(self.args),
                "executable": self.executable,
                "name": self.name,
                "working_directory": self.cwd,
                "entity_id": self.entity_id,
                "pid": self.pid,
            }
            if self.parent is not None:
                doc["parent"] = self._parent_doc()
            self._full_doc = doc
        return doc

    def slim_doc(self) -> dict[str, Any]:
        """``process`` as on file and network events."""
        doc = self._slim_doc
        if doc is None:
            doc = {
                "executable": self.executable,
                "name": self.name,
                "entity_id": self.entity_id,
                "pid": self.pid,
            }
            if self.parent is not None:
                doc["parent"] = self._parent_doc()
            self._slim_doc = doc
        return doc

    def user_doc(self) -> dict[str, str]:
        doc = self._user_doc
        if doc is None:
            doc = self._user_doc = {"id": self.user_id, "name": self.user_name}
        return doc

    # The fragments below are the JSON of full_doc()/slim_doc()/user_doc(), assembled from
    # per-program pieces cached across processes (the same program runs many times).

    def _names(self) -> str:
        key = (self.executable, self.name)
        text = _NAMES.get(key)
        if text is None:
            text = _remember(_NAMES, key, f'"executable":{jstr(key[0])},"name":{jstr(key[1])}')
        return text

    def _parent_json(self) -> str:
        p = self.parent
        if p is None:
            return ""
        return f',"parent":{{"entity_id":"{p.entity_id}",{p._names()},"pid":{p.pid}}}'

    def _user_json(self) -> str:
        key = (self.user_id, self.user_name)
        text = _USERS.get(key)
        if text is None:
            text = _remember(_USERS, key, f'"user":{dumps(self.user_doc())}')
        return text

    def make_full_fragment(self) -> str:
        key = (self.executable, self.name, self.args)
        program = _PROGRAMS.get(key)
        if program is None:
            args = self.args
            program = _remember(
                _PROGRAMS,
                key,
                f'"args":{dumps(list(args))},"args_count":{len(args)},'
                f'"command_line":{jstr(" ".join(args))},{self._names()}',
            )
        self.full_fragment = (
            f'"process":{{{program},"working_directory":{jstr(self.cwd)},'
            f'"entity_id":"{self.entity_id}","pid":{self.pid}{self._parent_json()}}},'
            f"{self._user_json()}"
        )
        return self.full_fragment

    def make_slim_fragment(self) -> str:
        self.slim_fragment = (
            f'"process":{{{self._names()},"entity_id":"{self.entity_id}","pid":{self.pid}'
            f"{self._parent_json()}}},{self._user_json()}"
        )
        return self.slim_fragment


_NAMES: dict[tuple[str, str], str] = {}
_USERS: dict[tuple[str, str], str] = {}
_PROGRAMS: dict[tuple[str, str, tuple[str, ...]], str] = {}


K = TypeVar("K")


def _remember(cache: dict[K, str], key: K, text: str) -> str:
    if len(cache) > 50_000:
        cache.clear()
    cache[key] = text
    return text


class Host:
    """One endpoint: identity, cached ``agent``/``host``/``data_stream`` fragments, the
    long-running programs and what they touch."""

    def __init__(
        self,
        rng: random.Random,
        *,
        name: str,
        os: OsSpec,
        role: str,
        ip: str,
        user: str,
        architecture: str,
    ) -> None:
        self.name = name
        self.os = os
        self.os_type = os.type
        self.role = role
        self.ip = ip
        if os.type == "macos":
            self.id = _uuid(rng).upper()
        else:
            self.id = f"{rng.getrandbits(128):032x}"
        self.agent_id = _uuid(rng)
        self.eid_prefix = "".join(_B64[rng.getrandbits(6)] for _ in range(15))
        mac = "-".join(f"{rng.getrandbits(8):02x}" for _ in range(6))
        self.user = user
        self.accounts: dict[str, tuple[str, str]] = dict(catalog.ACCOUNTS)
        if os.type == "macos":
            self.accounts["user"] = ("501", f"/Users/{user}")
            self.accounts[user] = self.accounts["user"]
        elif os.type == "linux":
            self.accounts["user"] = catalog.ACCOUNTS["admin"]
        else:
            self.accounts["user"] = ("S-1-5-21-1004336348-1177238915-682003330-500", "")
        self.agent_doc = {"id": self.agent_id, "type": "endpoint", "version": catalog.AGENT_VERSION}
        self.ecs_doc = {"version": ECS_VERSION}
        self.host_doc: dict[str, Any] = {
            "architecture": architecture,
            "hostname": name,
            "id": self.id,
            "ip": [ip],
            "mac": [mac],
            "name": name,
            "os": os.as_dict(),
        }
        self.data_stream_docs = tuple(
            {"dataset": ds, "namespace": "default", "type": "logs"} for ds in DATASETS
        )
        self.fragments = tuple(
            f'"agent":{dumps(self.agent_doc)},"data_stream":{dumps(ds)},'
            f'"ecs":{dumps(self.ecs_doc)},"host":{dumps(self.host_doc)},'
            f'"message":{dumps(msg)},'
            for ds, msg in zip(self.data_stream_docs, MESSAGES, strict=True)
        )
        # Everything of a line before the event id's sequence number, per event shape.
        self.heads = [self.fragments[s.kind] + s.head + self.eid_prefix for s in SHAPES]
        self.next_pid = 300 + rng.randrange(2000)
        self.pid_max = 99998 if os.type == "macos" else 4194304
        self.apps: dict[str, Proc] = {}
        # (process, file choices, file event shapes) for programs that touch files
        self.file_apps: list[tuple[Proc, list[FileChoice], tuple[Shape, ...]]] = []
        # (process, destination pool) for programs that connect out
        self.net_apps: list[tuple[Proc, tuple[tuple[str, int, str], ...]]] = []
        # (process, local port, client addresses) for programs that accept connections
        self.inbound_apps: list[tuple[Proc, int, tuple[str, ...]]] = []

    @property
    def is_mac(self) -> bool:
        return self.os_type == "macos"

    def account(self, key: str) -> tuple[str, str]:
        """(name, uid) of an account key ("user" = the interactive user)."""
        name = self.user if key == "user" else key
        if self.os_type == "linux" and key == "user":
            name = "admin"
        return name, self.accounts[key][0]

    def home(self, key: str) -> str:
        return self.accounts[key][1]

    def alloc_pid(self, rng: random.Random) -> int:
        pid = self.next_pid + 1 + (rng.getrandbits(5))
        if pid > self.pid_max:
            pid = 300 + (pid % 1000)
        self.next_pid = pid
        return pid

    def resolve(self, template: str, account: str) -> str:
        return (
            template.replace("{home}", self.home(account))
            .replace("{user}", self.account(account)[0])
            .replace("{machine}", self.id.replace("-", "").lower())
        )

    def file_choices(self, templates: tuple[str, ...], account: str) -> list[FileChoice]:
        out: list[FileChoice] = []
        for t in templates:
            path = self.resolve(t, account)
            out.append(FilePool(path) if "{rand}" in path else FileRef(path))
        return out

    def add_app(self, rng: random.Random, spec: AppSpec, start_ms: int) -> Proc:
        parent = self.apps.get(spec.parent) if spec.parent else None
        pid = 1 if spec.parent is None else self.alloc_pid(rng)
        proc = Proc(
            self,
            pid=pid,
            executable=spec.executable.replace("{home}", self.home("user")),
            args=tuple(self.resolve(a, spec.user) for a in spec.args),
            user=self.account(spec.user),
            start_ms=start_ms,
            parent=parent,
            cwd=self.resolve(spec.cwd, spec.user),
        )
        self.apps[spec.key] = proc
        if spec.files:
            shapes = tuple(FILE_SHAPES[a] for a in spec.file_actions)
            self.file_apps.append((proc, self.file_choices(spec.files, spec.user), shapes))
        for key in spec.net:
            self.net_apps.append((proc, catalog.DESTINATIONS[key]))
        for key in spec.inbound:
            port, clients = catalog.INBOUND[key]
            self.inbound_apps.append((proc, port, clients))
        return proc


def build_fleet(rng: random.Random, hosts: int, now_ms: int) -> list[Host]:
    """``hosts`` endpoints alternating macOS (even index) and Linux (odd index); the first
    Linux host is a Debian mail server running exim4."""
    fleet: list[Host] = []
    macs = linuxes = 0
    boot_ms = now_ms - 20 * 86_400_000
    for i in range(hosts):
        if i % 2 == 0:
            user = catalog.MAC_USERS[macs % len(catalog.MAC_USERS)]
            model = catalog.MAC_MODELS[rng.randrange(len(catalog.MAC_MODELS))]
            suffix = "" if macs < len(catalog.MAC_USERS) else f"-{macs // len(catalog.MAC_USERS)}"
            host = Host(
                rng,
                name=f"{user}-{model}{suffix}",
                os=catalog.MACOS_VERSIONS[rng.randrange(len(catalog.MACOS_VERSIONS))],
                role="workstation",
                ip=f"10.10.{1 + macs // 200}.{20 + macs % 200}",
                user=user,
                architecture="arm64" if rng.random() < 0.7 else "x86_64",
            )
            macs += 1
            for spec in macos.MAC_APPS:
                host.add_app(rng, spec, boot_ms + rng.randrange(86_400_000))
        else:
            role = catalog.LINUX_ROLES[linuxes % len(catalog.LINUX_ROLES)]
            n = linuxes // len(catalog.LINUX_ROLES)
            subnet = 11 + catalog.LINUX_ROLES.index(role)  # clear of the services in 10.0.0-5
            versions = catalog.LINUX_VERSIONS
            os = versions[0] if role == "mail" else versions[rng.randrange(len(versions))]
            host = Host(
                rng,
                name=f"{role}-{n + 1:02d}",
                os=os,
                role=role,
                ip=f"10.0.{subnet + 10 * (n // 200)}.{30 + n % 200}",
                user="admin",
                architecture="x86_64" if rng.random() < 0.85 else "aarch64",
            )
            linuxes += 1
            for spec in linux.LINUX_APPS:
                if not spec.roles or role in spec.roles:
                    host.add_app(rng, spec, boot_ms + rng.randrange(86_400_000))
        fleet.append(host)
    return fleet


def windows_host(rng: random.Random, now_ms: int) -> Host:
    """A Windows server, only used to show that ``host.os.type`` is checked."""
    host = Host(
        rng,
        name="WIN-MX01",
        os=catalog.WINDOWS_VERSION,
        role="mail",
        ip="10.0.5.40",
        user="Administrator",
        architecture="x86_64",
    )
    host.apps["system"] = Proc(
        host,
        pid=4,
        executable="System",
        args=("System",),
        user=("SYSTEM", "S-1-5-18"),
        start_ms=now_ms - 9 * 86_400_000,
        parent=None,
    )
    return host
