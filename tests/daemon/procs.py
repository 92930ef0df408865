"""Running the real ``runner`` CLI as subprocesses, for end-to-end tests and the fault drills.

One place for what those tests share: a :class:`Workspace` (rules directory, store, the CLI
pointed at them; a cluster through ``RUNNER_ES_URL`` or ``--es``), daemon processes whose JSON
log lines (stderr) are parsed as they arrive, so a test can wait for "an execution started"
and act within milliseconds (:class:`Processes`: each process is bounded by a timeout and
killed at teardown), :func:`eventually`, the seed emond rule's events, and the scripted
``_eql/search`` answer the canned fake cluster gives daemons (:func:`fake_cluster`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from runner.timeutil import isoformat, utcnow
from tests.conftest import SEED_RULES
from tests.elastic.fake_cluster import FakeCluster, Reply

PROCESS_INDEX = "logs-endpoint.events.process-default"
EQL_PATH = "/logs-endpoint.events.process*/_eql/search"
EMOND = "3e3d15c6-1509-479a-b125-21718372157e"  # rule_id of the seed emond rule
Line = dict[str, Any]


def eventually(check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    """Poll ``check`` every 0.1s until it holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s" + (f": {what}" if what else ""))
        time.sleep(0.1)


class Workspace:
    """A temporary rules directory and store, and the CLI pointed at them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rules = root / "rules"
        self.rules.mkdir()
        self.store = root / "runner.duckdb"
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("RUNNER_")
        }
        self.env.update(RUNNER_STORE=str(self.store), RUNNER_RULES=str(self.rules),
                        RUNNER_LOG_FORMAT="json")  # fmt: skip
        self._batch = 0
        self.outputs: list[str] = []

    def add_seed_rule(self, name: str = "emond_child_process.toml") -> None:
        shutil.copy(SEED_RULES / name, self.rules)

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "runner", *args], cwd=self.root, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        self.outputs.append(done.stdout + done.stderr)  # searched for secrets by the drills
        return done

    def load(self, events: Sequence[Line], index: str = PROCESS_INDEX) -> None:
        self._batch += 1
        path = self.root / f"events-{self._batch}.ndjson"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        done = self.cli("events", "load", str(path), "--index", index)
        assert done.returncode == 0, done.stderr


def emond_event(entity_id: str, when: datetime, child: str = "bash") -> Line:
    """A process start that the seed rule "Suspicious Emond Child Process" matches."""
    stamp = isoformat(when)
    return {
        "@timestamp": stamp,
        "event": {"category": ["process"], "type": ["start"], "ingested": stamp,
                  "kind": "event", "action": "exec"},
        "host": {"name": "mac-01", "id": "host-1", "os": {"type": "macos"}},
        "process": {"name": child, "pid": 4242, "entity_id": entity_id,
                    "parent": {"name": "emond"}},
        "user": {"name": "root"},
    }  # fmt: skip


def emond_hit(doc_id: str, age: timedelta = timedelta(seconds=30)) -> Line:
    """A search hit (``_index``/``_id``/``_source``) the emond rule alerts on."""
    stamp = isoformat(utcnow() - age)
    return {
        "_index": ".ds-logs-endpoint.events.process-default-000001",
        "_id": doc_id,
        "_source": {
            "@timestamp": stamp,
            "event": {"category": ["process"], "type": ["start"], "ingested": stamp},
            "host": {"name": "mac-01", "os": {"type": "macos"}},
            "process": {"name": "bash", "parent": {"name": "emond"}},
        },
    }


def eql_answer(events: Sequence[Line]) -> Line:
    """An ``_eql/search`` answer holding ``events``."""
    total = {"value": len(events), "relation": "eq"}
    return {"is_partial": False, "is_running": False, "took": 3, "timed_out": False,
            "hits": {"total": total, "events": list(events)}}  # fmt: skip


@contextlib.contextmanager
def fake_cluster(*hits: Line, **options: Any) -> Iterator[FakeCluster]:
    """The canned fake cluster with a document store, answering every ``_eql/search`` of the
    seed emond rule with ``hits``; ``options`` go to :class:`FakeCluster` (``tls``)."""
    fake = FakeCluster(**options).start()
    fake.enable_store()
    fake.script("POST", EQL_PATH, Reply(200, eql_answer(hits)), repeat_last=True)
    try:
        yield fake
    finally:
        fake.stop()


class DaemonProcess:
    def __init__(self, workspace: Workspace, args: Sequence[str]) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner", "--log-level", "debug", "daemon", *args],
            cwd=workspace.root, env=workspace.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[Line] = []
        self.raw: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for text in self.proc.stderr:
            with self._changed:
                self.raw.append(text)
                with contextlib.suppress(json.JSONDecodeError):  # a traceback, say
                    self.lines.append(json.loads(text))
                self._changed.notify_all()

    def events(self, name: str, **fields: Any) -> list[Line]:
        with self._changed:
            return [
                line for line in self.lines
                if line.get("event") == name and all(line.get(k) == v for k, v in fields.items())
            ]  # fmt: skip

    def events_all(self) -> list[Line]:
        """Every JSON log line so far."""
        with self._changed:
            return list(self.lines)

    def wait_for(self, check: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not check()):
                    raise AssertionError(
                        f"timed out after {timeout}s (exit {self.proc.poll()}); daemon log tail:\n"
                        + "".join(self.raw[-15:])
                    )
                self._changed.wait(min(left, 0.1))

    def wait_event(self, name: str, count: int = 1, timeout: float = 15, **fields: Any) -> Line:
        self.wait_for(lambda: len(self.events(name, **fields)) >= count, timeout)
        return self.events(name, **fields)[count - 1]

    def send(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)


class Processes:
    """Starts daemons; :meth:`close` (the fixture's teardown) kills any still alive."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._started: list[DaemonProcess] = []

    def daemon(self, *args: str) -> DaemonProcess:
        process = DaemonProcess(self.workspace, args)
        self._started.append(process)
        return process

    @property
    def started(self) -> list[DaemonProcess]:
        return list(self._started)

    def close(self) -> None:
        for process in self._started:
            process.kill()

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
