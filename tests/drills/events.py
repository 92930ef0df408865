"""The drills' rules and the events fed to the cluster while they run.

Rule ``k`` is an EQL rule over the drill's events index that matches process starts whose
parent is ``parent-k``; it runs every ``interval`` seconds over the last ``lookback``, so its
catch-up limit is the look-back plus 4 extra windows of one interval (seconds, where a
production rule has half an hour).  The feeder writes events straight to the cluster (never
through the proxy), each a true positive of one rule or a near miss (the right parent but a
process end, or another parent), and keeps the list of what it wrote: the invariant checker
computes the alerts due from that list alone.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner.elastic.bulk import Create, bulk_write
from runner.timeutil import isoformat, utcnow
from tests.drills.cluster import Target


def rule_id(k: int) -> str:
    return f"drill-rule-{k}"


def rule_toml(k: int, index: str, interval: int, lookback: int) -> str:
    return f"""[rule]
name = "Drill rule {k}"
rule_id = "{rule_id(k)}"
type = "eql"
language = "eql"
description = "Process starts under parent-{k} (fault drills)"
risk_score = 21
severity = "low"
interval = "{interval}s"
from = "now-{lookback}s"
index = ["{index}"]
timestamp_override = "event.ingested"
max_signals = 100
query = '''process where event.type == "start" and process.parent.name == "parent-{k}"'''
"""


def write_rules(
    rules_dir: Path, count: int, index: str, *, interval: int, lookback: int
) -> list[str]:
    for k in range(count):
        (rules_dir / f"drill_{k}.toml").write_text(rule_toml(k, index, interval, lookback))
    return [rule_id(k) for k in range(count)]


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    id: str
    at: datetime
    due_for: str | None  # the rule this event should alert for, if any


def _event(seq: int, at: datetime, parent: str, kind: str) -> dict[str, Any]:
    stamp = isoformat(at)
    return {
        "@timestamp": stamp,
        "event": {"category": ["process"], "type": [kind], "ingested": stamp, "kind": "event"},
        "host": {"name": f"host-{seq % 7}", "os": {"type": "linux"}},
        "process": {"name": "sh", "pid": 1000 + seq, "entity_id": f"p-{seq}",
                    "parent": {"name": parent}},
    }  # fmt: skip


class Feeder:
    """Writes a few events every ``every`` seconds, stamped with the time they are written."""

    def __init__(self, cluster: Target, rules: int, *, every: float = 2.0, batch: int = 10,
                 seed: int = 16) -> None:  # fmt: skip
        self.cluster = cluster
        self.rules = rules
        self.every = every
        self.batch = batch
        self.events: list[Event] = []
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="drill-feeder", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise AssertionError(f"the feeder failed: {self.error}") from self.error

    @property
    def last(self) -> datetime | None:
        return self.events[-1].at if self.events else None

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.every):
                self.write_batch()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def write_batch(self) -> None:
        now = utcnow()
        actions: list[Create] = []
        written: list[Event] = []
        for i in range(self.batch):
            seq = len(self.events) + len(written)
            k = self._rng.randrange(self.rules)
            roll = self._rng.random()
            parent, kind = f"parent-{k}", "start"
            if roll > 0.6:
                kind = "end"  # near miss: the right parent, not a start
            elif roll > 0.45:
                parent = "launchd"  # near miss: another parent
            at = now - timedelta(milliseconds=10 * (self.batch - i))
            doc_id = f"ev-{seq}"
            actions.append(Create(index=self.cluster.events_index, id=doc_id,
                                  doc=_event(seq, at, parent, kind)))  # fmt: skip
            due = rule_id(k) if (parent, kind) == (f"parent-{k}", "start") else None
            written.append(Event(id=doc_id, at=at, due_for=due))
        outcome = bulk_write(self.cluster.client, actions, op="create", refresh="wait_for")
        if outcome.failed:
            raise AssertionError(f"events not written: {outcome.failed[:2]}")
        self.events.extend(written)
