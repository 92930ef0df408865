"""Generator configuration and the expectation manifest (what must alert, what must not)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

RULE_EMOND: Final = "emond_child_process"
RULE_HIDDEN_PLIST: Final = "hidden_launch_agent_daemon"
RULE_INSTALLER: Final = "installer_package_network"
RULE_EXIM4: Final = "exim4_child_process"
RULES: Final = (RULE_EMOND, RULE_HIDDEN_PLIST, RULE_INSTALLER, RULE_EXIM4)

RULE_LOOKBACK: Final = timedelta(minutes=9)  # every seed rule runs over now-9m..now
NEW_TERMS_HISTORY: Final = timedelta(days=14)  # the Exim4 rule's history window
INSTALLER_MAXSPAN: Final = timedelta(seconds=15)

MANIFEST_FORMAT: Final = "runner-demo-manifest/1"

ROLES: Final = ("true_positive", "near_miss", "history", "context", "benign")


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, kw_only=True)
class GeneratorConfig:
    """What to generate.  ``events`` is the exact number of documents.

    ``true_positive_ratio`` is the share of documents that are true positives (the documents
    an alert is made of: one per alert, two for the sequence rule), split evenly over the
    four rules, with at least one alert per rule when ``true_positives`` is on.  Each
    near-miss kind (27 of them) is repeated ``alerts per rule / 4`` times, at least once:
    about twice as many documents as the true positives.  Benign noise fills the rest:
    ``now - spread .. now``, plus 5% over the ``history_days`` before; the Exim4 rule's
    history lies in the last ``min(history_days, 14)`` days.  ``labels`` adds ECS
    ``labels`` to the special documents (off by default: benchmark documents stay clean).
    """

    now: datetime
    hosts: int = 6
    events: int = 2000
    seed: int = 0
    true_positives: bool = True
    true_positive_ratio: float = 0.01
    near_misses: bool = True
    history_days: int = 14
    spread: timedelta = timedelta(minutes=30)
    labels: bool = False

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (e.g. datetime.now(UTC))")
        object.__setattr__(self, "now", self.now.astimezone(UTC))
        if self.hosts < 2:
            raise ValueError("hosts must be at least 2 (one macOS and one Linux host)")
        if self.events < 1:
            raise ValueError("events must be at least 1")
        if not 0.0 <= self.true_positive_ratio <= 0.5:
            raise ValueError("true_positive_ratio must be between 0 and 0.5")
        if self.history_days < 0:
            raise ValueError("history_days must not be negative")
        if self.spread <= timedelta(0):
            raise ValueError("spread must be positive")


@dataclass(frozen=True, kw_only=True)
class ExpectedAlert:
    """One alert the rule must raise.  ``event_ids`` are the ``event.id`` of the documents
    the alert is made of: one document, or (sequence rule) the process then the network
    event.  ``new_term`` is the new ``process.executable`` for the new-terms rule."""

    rule: str
    case: str
    host_id: str
    event_ids: tuple[str, ...]
    new_term: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rule": self.rule,
            "case": self.case,
            "host_id": self.host_id,
            "event_ids": list(self.event_ids),
        }
        if self.new_term is not None:
            doc["new_term"] = self.new_term
        return doc


@dataclass(frozen=True, kw_only=True)
class NearMiss:
    """Documents built to look like ``rule`` but that must not make it alert."""

    rule: str
    case: str
    host_id: str
    event_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "case": self.case,
            "host_id": self.host_id,
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True, kw_only=True)
class HistoryTerm:
    """A new-terms value already present before the rule window (so never new)."""

    rule: str
    term: str
    event_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "term": self.term, "event_ids": list(self.event_ids)}


@dataclass(frozen=True, kw_only=True)
class HostSummary:
    id: str
    name: str
    os_type: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "os_type": self.os_type}


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """The expectation manifest.  ``to_json()`` gives the JSON form (see the README of
    :mod:`runner.demo`); ``from_json`` reads it back."""

    seed: int
    now: datetime
    window_start: datetime
    documents: int
    hosts: tuple[HostSummary, ...]
    role_counts: Mapping[str, int] = field(default_factory=dict)
    expected_alerts: tuple[ExpectedAlert, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    history: tuple[HistoryTerm, ...] = ()

    @property
    def window_end(self) -> datetime:
        return self.now

    def alerts_for(self, rule: str) -> tuple[ExpectedAlert, ...]:
        return tuple(a for a in self.expected_alerts if a.rule == rule)

    def alert_counts(self) -> dict[str, int]:
        return {rule: len(self.alerts_for(rule)) for rule in RULES}

    def expected_event_ids(self, rule: str) -> set[str]:
        return {eid for a in self.alerts_for(rule) for eid in a.event_ids}

    def near_miss_event_ids(self) -> set[str]:
        return {eid for n in self.near_misses for eid in n.event_ids}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "seed": self.seed,
            "now": _iso(self.now),
            "window": {"start": _iso(self.window_start), "end": _iso(self.now)},
            "documents": self.documents,
            "role_counts": dict(self.role_counts),
            "alert_counts": self.alert_counts(),
            "hosts": [h.to_json() for h in self.hosts],
            "expected_alerts": [a.to_json() for a in self.expected_alerts],
            "near_misses": [n.to_json() for n in self.near_misses],
            "history": [h.to_json() for h in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"not a {MANIFEST_FORMAT} manifest: {data.get('format')!r}")
        return cls(
            seed=int(data["seed"]),
            now=_parse_iso(data["now"]),
            window_start=_parse_iso(data["window"]["start"]),
            documents=int(data["documents"]),
            hosts=tuple(
                HostSummary(id=h["id"], name=h["name"], os_type=h["os_type"]) for h in data["hosts"]
            ),
            role_counts={str(k): int(v) for k, v in data["role_counts"].items()},
            expected_alerts=tuple(
                ExpectedAlert(
                    rule=a["rule"],
                    case=a["case"],
                    host_id=a["host_id"],
                    event_ids=tuple(a["event_ids"]),
                    new_term=a.get("new_term"),
                )
                for a in data["expected_alerts"]
            ),
            near_misses=tuple(
                NearMiss(
                    rule=n["rule"],
                    case=n["case"],
                    host_id=n["host_id"],
                    event_ids=tuple(n["event_ids"]),
                )
                for n in data["near_misses"]
            ),
            history=tuple(
                HistoryTerm(rule=h["rule"], term=h["term"], event_ids=tuple(h["event_ids"]))
                for h in data["history"]
            ),
        )
