"""Realistic static values: operating systems, accounts, network destinations, and the
shapes of program descriptions (the programs themselves are in :mod:`runner.demo.macos`
and :mod:`runner.demo.linux`).

Path templates may use ``{home}`` (the account's home), ``{user}``, ``{machine}`` (the host
id) and ``{rand}`` (a random token, see :class:`runner.demo.fleet.FilePool`).  IP addresses
are private (RFC 1918) for the fleet and its services, and the documentation ranges
(RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) stand in for the Internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, kw_only=True, slots=True)
class OsSpec:
    type: str
    name: str
    version: str
    platform: str
    family: str
    full: str
    kernel: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "Ext": {"variant": self.full.rsplit(" ", 1)[0]},
            "family": self.family,
            "full": self.full,
            "kernel": self.kernel,
            "name": self.name,
            "platform": self.platform,
            "type": self.type,
            "version": self.version,
        }


MACOS_VERSIONS: Final = (
    OsSpec(
        type="macos",
        name="macOS",
        version="14.4.1",
        platform="macos",
        family="macos",
        full="macOS 14.4.1",
        kernel="23.4.0",
    ),
    OsSpec(
        type="macos",
        name="macOS",
        version="13.6.6",
        platform="macos",
        family="macos",
        full="macOS 13.6.6",
        kernel="22.6.0",
    ),
    OsSpec(
        type="macos",
        name="macOS",
        version="14.5",
        platform="macos",
        family="macos",
        full="macOS 14.5",
        kernel="23.5.0",
    ),
)
LINUX_VERSIONS: Final = (
    OsSpec(
        type="linux",
        name="Linux",
        version="12.5",
        platform="debian",
        family="debian",
        full="Debian 12.5",
        kernel="6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
    ),
    OsSpec(
        type="linux",
        name="Linux",
        version="22.04.4",
        platform="ubuntu",
        family="ubuntu",
        full="Ubuntu 22.04.4",
        kernel="5.15.0-105-generic #115-Ubuntu SMP Mon Apr 15 09:52:04 UTC 2024",
    ),
)
WINDOWS_VERSION: Final = OsSpec(
    type="windows",
    name="Windows",
    version="10.0",
    platform="windows",
    family="windows",
    full="Windows Server 2019 Datacenter 1809",
    kernel="1809 (10.0.17763.5696)",
)

AGENT_VERSION: Final = "8.13.2"

MAC_USERS: Final = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "kevin",
    "laura",
    "mike",
    "nina",
    "oscar",
    "paula",
)
MAC_MODELS: Final = ("mbp", "mba", "imac", "mini")
LINUX_ROLES: Final = ("mail", "web", "db", "ci", "app")

# Service accounts: name -> (uid, home)
ACCOUNTS: Final = {
    "root": ("0", "/root"),
    "_mdnsresponder": ("65", "/var/empty"),
    "_spotlight": ("89", "/var/empty"),
    "_softwareupdate": ("200", "/var/db/softwareupdate"),
    "www-data": ("33", "/var/www"),
    "Debian-exim": ("101", "/var/spool/exim4"),
    "syslog": ("104", "/home/syslog"),
    "postgres": ("113", "/var/lib/postgresql"),
    "gitlab-runner": ("998", "/home/gitlab-runner"),
    "deploy": ("1001", "/home/deploy"),
    "admin": ("1000", "/home/admin"),
}

# Destination pools: key -> ((ip, port, transport), ...)
DESTINATIONS: Final[dict[str, tuple[tuple[str, int, str], ...]]] = {
    "dns": (("10.0.0.2", 53, "udp"), ("10.0.0.3", 53, "udp")),
    "https": tuple((f"198.51.100.{n}", 443, "tcp") for n in (7, 14, 23, 38, 52, 77, 101, 160))
    + tuple((f"192.0.2.{n}", 443, "tcp") for n in (10, 44, 87, 130)),
    "apple": tuple((f"192.0.2.{n}", 443, "tcp") for n in (17, 18, 19, 20)),
    "http_mirror": (("198.51.100.80", 80, "tcp"), ("198.51.100.81", 80, "tcp")),
    "git": (("10.0.3.15", 443, "tcp"), ("10.0.3.15", 22, "tcp")),
    "proxy": (("10.0.0.10", 3128, "tcp"),),
    "ldap": (("10.0.0.20", 636, "tcp"),),
    "postgres": (("10.0.2.11", 5432, "tcp"), ("10.0.2.12", 5432, "tcp")),
    "smtp_relay": (("10.0.5.20", 25, "tcp"), ("10.0.5.21", 587, "tcp")),
    "registry": (("10.0.3.30", 5000, "tcp"),),
    "ntp": (("10.0.0.4", 123, "udp"),),
}

_OFFICE_CLIENTS = tuple(f"10.10.{a}.{b}" for a in (1, 2, 3) for b in (20, 21, 35, 48, 77, 90))
_APP_CLIENTS = tuple(f"10.0.{a}.{b}" for a in (1, 4) for b in (30, 31, 32, 40))

# Inbound: key -> (local port, client addresses)
INBOUND: Final[dict[str, tuple[int, tuple[str, ...]]]] = {
    "https_in": (443, _OFFICE_CLIENTS + _APP_CLIENTS),
    "ssh_in": (22, _OFFICE_CLIENTS),
    "pg_in": (5432, _APP_CLIENTS),
    "smtp_in": (25, ("10.0.5.20", "10.0.5.21", "10.0.1.30", "10.0.4.30")),
    "app_in": (8080, _APP_CLIENTS),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AppSpec:
    """A long-running program: present on a host from before the generated period."""

    key: str
    executable: str
    args: tuple[str, ...]
    user: str  # "user" = the host's interactive user, else an ACCOUNTS name
    parent: str | None  # key of the parent program on the same host
    cwd: str = "/"
    files: tuple[str, ...] = ()
    file_actions: tuple[str, ...] = ("creation", "modification", "deletion")
    net: tuple[str, ...] = ()
    inbound: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # Linux: the host roles running it; empty = every host

    @property
    def name(self) -> str:
        return self.executable.rsplit("/", 1)[-1]


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandSpec:
    """A short-lived program: exec, maybe some file/network activity, end."""

    executable: str
    args: tuple[str, ...]
    files: tuple[str, ...] = ()
    file_actions: tuple[str, ...] = ("creation", "modification")
    net: tuple[str, ...] = ()
    duration_ms: int = 400
    user: str | None = None  # an ACCOUNTS name or "user"; None = the parent's account

    @property
    def name(self) -> str:
        return self.executable.rsplit("/", 1)[-1]
