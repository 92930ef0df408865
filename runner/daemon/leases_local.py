"""Leases on the embedded store: one daemon per store file, holds as file locks.

The daemon takes an exclusive ``flock`` on ``<store>.daemon`` (the kernel drops it when the
process dies, however it dies) and writes who it is there, so a second daemon on the same file
is refused with a message naming the first.  A rule's hold is an ``flock`` on a file of its own
under ``<store>.holds/``, which also keeps the last window executed, for counting overlaps.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from runner.cleanup import after
from runner.daemon.leases import DaemonRefused, Hold, Owner, RuleBusyError, TickResult
from runner.timeutil import isoformat, parse_absolute, utcnow

_POLL = 0.05


def _locked(handle: IO[str]) -> bool:
    """Take the exclusive lock without waiting; False if another open file holds it."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_json(handle: IO[str]) -> dict[str, Any]:
    handle.seek(0)
    try:
        found = json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _write_json(handle: IO[str], value: dict[str, Any]) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(value))
    handle.flush()


class LocalLeases:
    """:class:`~runner.daemon.leases.Leases` for the embedded store file ``store``."""

    def __init__(self, store: Path, *, name: str) -> None:
        self.name = name
        self.store = store
        self.lock_path = store.with_name(store.name + ".daemon")
        self.holds = store.with_name(store.name + ".holds")
        self._handle: IO[str] | None = None
        self._rules: tuple[str, ...] = ()
        self._guard = threading.Lock()

    def _open(self, path: Path) -> IO[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a+", encoding="utf-8")

    def start(self, rule_ids: Sequence[str]) -> TickResult:
        handle = self._open(self.lock_path)
        if not _locked(handle):
            first = _read_json(handle)
            handle.close()
            raise DaemonRefused(
                f"another daemon already runs on the embedded store {self.store}: "
                f"{first.get('name', '?')} (pid {first.get('pid', '?')} on host "
                f"{first.get('host', '?')}, started {first.get('started', '?')}). The embedded "
                "store takes one daemon: stop that one first, or configure Elasticsearch to "
                "run several"
            )
        _write_json(handle, {"name": self.name, "pid": os.getpid(), "host": socket.gethostname(),
                             "started": isoformat(utcnow())})  # fmt: skip
        self._handle = handle
        return self.tick(rule_ids)

    def tick(self, rule_ids: Sequence[str]) -> TickResult:
        with self._guard:
            self._rules = tuple(rule_ids) if self._handle is not None else ()
            return TickResult(owned=self._rules)

    def owns(self, rule_id: str) -> bool:
        return self._handle is not None

    def owners(self, rule_ids: Sequence[str]) -> dict[str, Owner]:
        owner: str | None = None
        if self.lock_path.exists():
            with open(self.lock_path, encoding="utf-8") as probe:
                if self._handle is not None or not _locked(probe):
                    owner = str(_read_json(probe).get("name") or "?")
        return {
            rule_id: Owner(rule_id=rule_id, owner=owner, overlaps=self._overlaps(rule_id))
            for rule_id in rule_ids
        }

    def _hold_path(self, rule_id: str) -> Path:
        return self.holds / hashlib.sha256(rule_id.encode()).hexdigest()[:32]

    def _overlaps(self, rule_id: str) -> int:
        path = self._hold_path(rule_id)
        if not path.exists():
            return 0
        with open(path, encoding="utf-8") as handle:
            return int(_read_json(handle).get("overlaps") or 0)

    def stop(self) -> None:
        if self._handle is not None:
            _write_json(self._handle, {})
            self._handle.close()  # closing drops the lock
            self._handle = None

    @contextmanager
    def hold(self, rule_id: str, *, wait: timedelta, ttl: timedelta) -> Iterator[Hold]:
        # ``ttl`` is the kernel's business here: the lock goes with the process.
        handle = self._open(self._hold_path(rule_id))
        with after(handle.close):
            deadline = time.monotonic() + wait.total_seconds()
            while not _locked(handle):
                if time.monotonic() >= deadline:
                    holder = _read_json(handle).get("holder", "another process")
                    raise RuleBusyError(
                        f"rule {rule_id} is being executed by {holder}; not waiting longer "
                        f"than {wait}"
                    )
                time.sleep(_POLL)
            state = _read_json(handle)
            last_end = state.get("last_end")
            hold = Hold(
                rule_id=rule_id, holder=self.name,
                previous_end=parse_absolute(last_end) if last_end else None,
                previous_by=state.get("last_by"),
            )  # fmt: skip
            _write_json(handle, {**state, "rule_id": rule_id, "holder": self.name})

            def release() -> None:
                done = {**state, "rule_id": rule_id, "holder": None,
                        "overlaps": int(state.get("overlaps") or 0) + hold.overlaps}  # fmt: skip
                if hold.last_end is not None:
                    done.update(last_end=isoformat(hold.last_end), last_by=hold.holder)
                _write_json(handle, done)

            with after(release):
                yield hold
