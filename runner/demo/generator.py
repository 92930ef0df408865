"""Deterministic generator of Elastic Defend (endpoint) ECS documents for the seed rules.

Use::

    events = EventSet(GeneratorConfig(now=datetime.now(UTC), hosts=6, events=2000, seed=1))
    events.manifest            # what must alert (and what must not), known before streaming
    for doc in events.documents(): ...      # dicts
    events.write_ndjson(fh)                 # fast path: NDJSON from cached JSON fragments

Documents come out in non-decreasing ``@timestamp`` order (ties in creation order) and are
streamed: memory stays flat whatever ``events`` is.  The same config gives the same
documents, byte for byte, on every call and every run.  ``event.id`` is unique per document
and is how the manifest names documents.

The dicts yielded by :meth:`EventSet.documents` share their nested ``agent``, ``host``,
``process`` and ``user`` objects with other documents: treat them as read-only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import IO, Any

from runner.demo.benign import Noise
from runner.demo.fleet import Host, build_fleet
from runner.demo.model import (
    ROLES,
    RULE_LOOKBACK,
    GeneratorConfig,
    HostSummary,
    Manifest,
)
from runner.demo.ndjson import chunk_writer
from runner.demo.render import Record, Renderer
from runner.demo.specials import Specials

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_DAY_MS = 86_400_000
# Share of benign documents spread over the history days instead of the recent ``spread``.
BENIGN_HISTORY_SHARE = 0.05


@dataclass(frozen=True, kw_only=True)
class _Plan:
    now_ms: int
    specials: list[Record]
    noise: Noise
    history_count: int
    recent_count: int
    manifest: Manifest


class EventSet:
    """One configured generation.  Building it plans the special documents (so
    :attr:`manifest` is available at once); every iteration regenerates from the seed."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.manifest = self._plan().manifest

    def _plan(self) -> _Plan:
        cfg = self.config
        now_ms = (cfg.now - _EPOCH) // _MS
        fleet = build_fleet(random.Random(f"runner-demo:{cfg.seed}:fleet"), cfg.hosts, now_ms)
        special = Specials(
            random.Random(f"runner-demo:{cfg.seed}:special"), fleet, cfg, now_ms, seq=0
        )
        special.build()
        records = sorted(special.records, key=lambda r: (r[0], r[1]))
        if len(records) > cfg.events:
            raise ValueError(
                f"events={cfg.events} is too small: the true positives, near misses and "
                f"history alone take {len(records)} documents"
            )
        benign = cfg.events - len(records)
        spread_ms = cfg.spread // _MS
        history = 0
        if cfg.history_days * _DAY_MS > spread_ms:
            history = int(benign * BENIGN_HISTORY_SHARE)
        roles = dict.fromkeys(ROLES, 0)
        for rec in records:
            label = rec[7]
            assert label is not None
            roles[label.role] += 1
        roles["benign"] = benign
        hosts: list[Host] = fleet + special.extra_hosts
        manifest = Manifest(
            seed=cfg.seed,
            now=cfg.now,
            window_start=cfg.now - RULE_LOOKBACK,
            documents=cfg.events,
            hosts=tuple(HostSummary(id=h.id, name=h.name, os_type=h.os_type) for h in hosts),
            role_counts=roles,
            expected_alerts=tuple(special.alerts),
            near_misses=tuple(special.near),
            history=tuple(special.history),
        )
        noise = Noise(
            random.Random(f"runner-demo:{cfg.seed}:noise"), fleet, now_ms=now_ms, seq=special.seq
        )
        return _Plan(
            now_ms=now_ms,
            specials=records,
            noise=noise,
            history_count=history,
            recent_count=benign - history,
            manifest=manifest,
        )

    def batches(self) -> Iterator[list[Record]]:
        """Every record, in (``@timestamp``, creation) order, in lists of a few hundred."""
        plan = self._plan()
        cfg = self.config
        now = plan.now_ms
        spread_ms = cfg.spread // _MS
        phases: list[Iterator[list[Record]]] = []
        if plan.history_count:
            start = now - cfg.history_days * _DAY_MS
            phases.append(plan.noise.batches(start, now - spread_ms, plan.history_count))
        phases.append(plan.noise.batches(now - spread_ms, now - 500, plan.recent_count))
        specials = plan.specials
        j, n = 0, len(specials)
        for phase in phases:
            for batch in phase:
                if j < n:
                    last = _order(batch[-1])
                    k = j
                    while k < n and _order(specials[k]) < last:
                        k += 1
                    if k > j:
                        batch = sorted(batch + specials[j:k], key=_order)  # noqa: PLW2901
                        j = k
                yield batch
        if j < n:
            yield specials[j:]

    def records(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch

    def documents(self) -> Iterator[dict[str, Any]]:
        """The documents as dicts (nested objects shared between documents: read-only)."""
        render = Renderer(labels=self.config.labels).document
        for batch in self.batches():
            yield from map(render, batch)

    def lines(self) -> Iterator[str]:
        """The documents as NDJSON lines (each ending in a newline)."""
        render = Renderer(labels=self.config.labels).line
        for batch in self.batches():
            yield from map(render, batch)

    def write_ndjson(self, out: IO[str] | IO[bytes]) -> int:
        """Write every document as NDJSON (UTF-8) to a text or binary stream; returns the
        number written."""
        write, flush = chunk_writer(out)
        render = Renderer(labels=self.config.labels).line
        count = 0
        for batch in self.batches():
            write("".join(map(render, batch)))
            count += len(batch)
        flush()
        return count


_order = itemgetter(0, 1)


def generate(
    *,
    now: datetime,
    hosts: int = 6,
    events: int = 2000,
    seed: int = 0,
    true_positives: bool = True,
    true_positive_ratio: float = 0.01,
    near_misses: bool = True,
    history_days: int = 14,
    spread: timedelta = timedelta(minutes=30),
    labels: bool = False,
) -> Iterator[dict[str, Any]]:
    """Stream documents as dicts; see :class:`GeneratorConfig` for the parameters.  Use
    :class:`EventSet` to also get the manifest."""
    config = GeneratorConfig(
        now=now,
        hosts=hosts,
        events=events,
        seed=seed,
        true_positives=true_positives,
        true_positive_ratio=true_positive_ratio,
        near_misses=near_misses,
        history_days=history_days,
        spread=spread,
        labels=labels,
    )
    return EventSet(config).documents()


def write_manifest(manifest: Manifest, out: IO[str]) -> None:
    json.dump(manifest.to_json(), out, indent=2)
    out.write("\n")


def read_manifest(source: IO[str]) -> Manifest:
    data = json.load(source)
    if not isinstance(data, Mapping):
        raise ValueError("a manifest is a JSON object")
    return Manifest.from_json(data)
