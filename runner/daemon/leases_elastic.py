"""Leases in a runner index on the cluster (``<prefix>-leases``).

Three kinds of documents, each changed only by a whole-document ``PUT`` with
``if_seq_no``/``if_primary_term`` of the version read (or ``op_type=create`` when absent), so of
two daemons racing for one, Elasticsearch accepts exactly one:

- ``daemon:<name>``: a heartbeat, so a daemon that owns nothing yet still counts in the split;
- ``rule:<rule_id>``: the rule's lease (owner, expires_at, renewed_at);
- ``run:<rule_id>``: the rule's hold (holder, expires_at) and the last window executed
  (last_end, last_by), from which overlaps are counted.

Expiry is judged by each daemon's clock against ``expires_at``: clocks must agree to well within
the lease time (NTP does).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runner.cleanup import after
from runner.daemon.leases import DEFAULT_TTL, Hold, Moved, Owner, RuleBusyError, TickResult
from runner.elastic.client import ElasticClient
from runner.elastic.dsl import doc_path, index_path
from runner.errors import RunnerError
from runner.logs import get_logger
from runner.timeutil import isoformat, parse_absolute, utcnow

NEVER = "1970-01-01T00:00:00.000Z"
_SEARCH = "ignore_unavailable=true&allow_no_indices=true"
_POLL = 0.1  # seconds between looks at a busy hold

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in (
            "kind", "rule_id", "owner", "holder", "last_by")},
        **{name: {"type": "date"} for name in ("expires_at", "renewed_at", "last_end")},
        "overlaps": {"type": "integer"},
    },
}  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class Doc:
    source: Mapping[str, Any]
    version: tuple[int, int]

    def time(self, name: str) -> datetime | None:
        value = self.source.get(name)
        return parse_absolute(str(value)) if value and value != NEVER else None

    def live(self, now: datetime) -> bool:
        expires = self.time("expires_at")
        return expires is not None and expires > now


def share(rules: int, live: Sequence[str], name: str) -> int:
    """This daemon's number of rules: an even split, the first daemons by name taking one
    more each while rules remain (every daemon computes the same split)."""
    whole, extra = divmod(rules, len(live))
    return whole + (1 if live.index(name) < extra else 0)


class ElasticLeases:
    """:class:`~runner.daemon.leases.Leases` on the cluster."""

    def __init__(
        self,
        client: ElasticClient,
        index: str,
        *,
        name: str,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.index = index
        self.ttl = ttl
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        # rule_id -> (our lease's expiry by our clock, its version)
        self._owned: dict[str, tuple[datetime, tuple[int, int]]] = {}

    # -- documents -----------------------------------------------------------------------
    def _read_all(self) -> dict[str, Doc]:
        response = self._client.request(
            "POST", f"/{index_path([self.index])}/_search?{_SEARCH}",
            {"size": 10000, "seq_no_primary_term": True, "query": {"match_all": {}}},
            allow=(404,),
        )  # fmt: skip
        if response.status != 200:
            return {}
        return {
            str(hit["_id"]): Doc(
                source=hit.get("_source") or {},
                version=(int(hit.get("_seq_no", 0)), int(hit.get("_primary_term", 0))),
            )
            for hit in response.body.get("hits", {}).get("hits", [])
        }

    def _get(self, doc_id: str) -> Doc | None:
        response = self._client.request("GET", doc_path(self.index, doc_id), allow=(404,))
        if response.status != 200 or not response.body.get("found"):
            return None
        body = response.body
        return Doc(source=body.get("_source") or {},
                   version=(int(body["_seq_no"]), int(body["_primary_term"])))  # fmt: skip

    def _put(
        self, doc_id: str, source: Mapping[str, Any], version: tuple[int, int] | None
    ) -> tuple[int, int] | None:
        """Write if the document is still at ``version`` (None: absent); None on a conflict."""
        query = (
            "op_type=create"
            if version is None
            else f"if_seq_no={version[0]}&if_primary_term={version[1]}"
        )
        # No refresh=wait_for (a second per write on a cluster): holds are read by GET, which is
        # real-time, and a stale search only costs a 409, never a second owner.
        path = f"{doc_path(self.index, doc_id)}?{query}"
        response = self._client.request("PUT", path, dict(source), allow=(409,))
        if response.status == 409:
            return None
        return int(response.body["_seq_no"]), int(response.body["_primary_term"])

    def _lease(self, rule_id: str, owner: str | None, now: datetime) -> dict[str, Any]:
        return {
            "kind": "lease", "rule_id": rule_id, "owner": owner,
            "expires_at": isoformat(now + self.ttl) if owner else NEVER,
            "renewed_at": isoformat(now),
        }  # fmt: skip

    # -- leases --------------------------------------------------------------------------
    def start(self, rule_ids: Sequence[str]) -> TickResult:
        return self.tick(rule_ids)

    def tick(self, rule_ids: Sequence[str]) -> TickResult:
        now = self._clock()
        docs = self._read_all()
        beat = {"kind": "daemon", "owner": self.name, "expires_at": isoformat(now + self.ttl),
                "renewed_at": isoformat(now)}  # fmt: skip
        self._client.request("PUT", doc_path(self.index, "daemon:" + self.name), beat)
        live = {self.name} | {
            str(d.source.get("owner")) for d in docs.values()
            if d.source.get("kind") == "daemon" and d.live(now)
        }  # fmt: skip
        wanted = sorted(set(rule_ids), key=self._order)
        target = share(len(wanted), sorted(live), self.name)
        owned: list[str] = []
        released: list[str] = []
        lost: list[str] = []
        with self._lock:
            previously = set(self._owned)
        for rule_id in [*wanted, *sorted(previously - set(wanted))]:
            doc = docs.get(f"rule:{rule_id}")
            ours = doc is not None and doc.source.get("owner") == self.name and doc.live(now)
            if not ours:
                if rule_id in previously:
                    lost.append(rule_id)
                    self._forget(rule_id)
                continue
            assert doc is not None
            keep = rule_id in wanted and len(owned) < target
            version = self._put(
                f"rule:{rule_id}", self._lease(rule_id, self.name if keep else None, now),
                doc.version,
            )  # fmt: skip
            if version is None:
                lost.append(rule_id)
                self._forget(rule_id)
            elif keep:
                owned.append(rule_id)
                self._remember(rule_id, now, version)
            else:
                released.append(rule_id)
                self._forget(rule_id)
        claimed: list[str] = []
        moved: list[Moved] = []
        for rule_id in wanted:
            if len(owned) >= target:
                break
            if rule_id in owned:
                continue
            doc = docs.get(f"rule:{rule_id}")
            if doc is not None and doc.live(now) and doc.source.get("owner"):
                continue
            version = self._put(
                f"rule:{rule_id}", self._lease(rule_id, self.name, now),
                doc.version if doc is not None else None,
            )  # fmt: skip
            if version is None:
                continue  # another daemon claimed it first
            owned.append(rule_id)
            claimed.append(rule_id)
            self._remember(rule_id, now, version)
            previous = doc.source.get("owner") if doc is not None else None
            renewed = doc.time("renewed_at") if doc is not None else None
            if previous and previous != self.name and renewed is not None:
                moved.append(Moved(rule_id=rule_id, previous=str(previous), unowned=now - renewed))
        return TickResult(owned=tuple(owned), claimed=tuple(claimed), released=tuple(released),
                          lost=tuple(lost), moved=tuple(moved))  # fmt: skip

    def _order(self, rule_id: str) -> str:
        # Each daemon tries the free rules in its own order: fewer races for the same lease.
        return hashlib.sha256(f"{self.name}\0{rule_id}".encode()).hexdigest()

    def _remember(self, rule_id: str, now: datetime, version: tuple[int, int]) -> None:
        with self._lock:
            self._owned[rule_id] = (now + self.ttl, version)

    def _forget(self, rule_id: str) -> None:
        with self._lock:
            self._owned.pop(rule_id, None)

    def owns(self, rule_id: str) -> bool:
        with self._lock:
            lease = self._owned.get(rule_id)
        return lease is not None and self._clock() < lease[0]

    def owners(self, rule_ids: Sequence[str]) -> dict[str, Owner]:
        now = self._clock()
        docs = self._read_all()
        found: dict[str, Owner] = {}
        for rule_id in rule_ids:
            lease = docs.get(f"rule:{rule_id}")
            run = docs.get(f"run:{rule_id}")
            live = lease is not None and lease.live(now) and lease.source.get("owner")
            found[rule_id] = Owner(
                rule_id=rule_id,
                owner=str(lease.source["owner"]) if live and lease is not None else None,
                expires_at=lease.time("expires_at") if live and lease is not None else None,
                overlaps=int(run.source.get("overlaps") or 0) if run is not None else 0,
            )
        return found

    def stop(self) -> None:
        now = self._clock()
        with self._lock:
            owned = dict(self._owned)
            self._owned.clear()
        for rule_id, (_expiry, version) in owned.items():
            try:
                self._put(f"rule:{rule_id}", self._lease(rule_id, None, now), version)
            except RunnerError as exc:  # it lapses by itself after the lease time
                get_logger().warning("lease_not_released", rule_id=rule_id, error=str(exc))
        try:
            gone = {"kind": "daemon", "owner": self.name, "expires_at": NEVER,
                    "renewed_at": isoformat(now)}  # fmt: skip
            self._client.request("PUT", doc_path(self.index, "daemon:" + self.name), gone)
        except RunnerError as exc:
            get_logger().warning("lease_not_released", daemon=self.name, error=str(exc))

    # -- holds ---------------------------------------------------------------------------
    @contextmanager
    def hold(self, rule_id: str, *, wait: timedelta, ttl: timedelta) -> Iterator[Hold]:
        doc_id = f"run:{rule_id}"
        deadline = time.monotonic() + wait.total_seconds()
        while True:
            now = self._clock()
            doc = self._get(doc_id)
            source: Mapping[str, Any] = doc.source if doc is not None else {}
            holder = source.get("holder")
            if doc is not None and holder and doc.live(now):
                if time.monotonic() >= deadline:
                    raise RuleBusyError(
                        f"rule {rule_id} is being executed by {holder} (until "
                        f"{source.get('expires_at')}); not waiting longer than {wait}"
                    )
                time.sleep(_POLL)
                continue
            hold = Hold(
                rule_id=rule_id, holder=self.name,
                previous_end=doc.time("last_end") if doc is not None else None,
                previous_by=source.get("last_by"), stolen_from=str(holder) if holder else None,
            )  # fmt: skip
            taken = {**self._run_doc(rule_id, source), "holder": self.name,
                     "expires_at": isoformat(now + ttl)}  # fmt: skip
            version = self._put(doc_id, taken, doc.version if doc is not None else None)
            if version is not None:
                break
        with after(lambda: self._release(hold, taken, version)):
            yield hold

    @staticmethod
    def _run_doc(rule_id: str, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "kind": "run", "rule_id": rule_id, "holder": None, "expires_at": NEVER,
            "last_end": source.get("last_end"), "last_by": source.get("last_by"),
            "overlaps": int(source.get("overlaps") or 0),
        }  # fmt: skip

    def _release(self, hold: Hold, taken: Mapping[str, Any], version: tuple[int, int]) -> None:
        done = {**self._run_doc(hold.rule_id, taken),
                "overlaps": int(taken.get("overlaps") or 0) + hold.overlaps}  # fmt: skip
        if hold.last_end is not None:
            done.update(last_end=isoformat(hold.last_end), last_by=hold.holder)
        try:
            if self._put(f"run:{hold.rule_id}", done, version) is None:
                get_logger().warning(
                    "hold_lost", rule_id=hold.rule_id, holder=hold.holder,
                    detail="the hold expired during the execution and another process took it",
                )  # fmt: skip
        except RunnerError as exc:  # it lapses by itself at its expiry
            get_logger().warning("hold_not_released", rule_id=hold.rule_id, error=str(exc))
