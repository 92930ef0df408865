"""Typed, immutable detection rules.

A :class:`Rule` is what a TOML file in Elastic's detection-rules format says, checked and
parsed once at load time.  Run-time state (last run, covered-up-to) never lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.eql.ast import Query as EqlQuery
from runner.esql.ast import Query as EsqlQuery
from runner.kql.ast import Query as KqlQuery
from runner.rules.overrides import AlertOverrides
from runner.suppression.model import AlertSuppression

RuleType = Literal[
    "eql", "query", "new_terms", "esql", "threshold", "threat_match", "machine_learning"
]
Severity = Literal["low", "medium", "high", "critical"]

SUPPORTED_TYPES: tuple[str, ...] = (
    "eql", "query", "new_terms", "esql", "threshold", "threat_match", "machine_learning",
)  # fmt: skip
DEFAULT_FROM = "now-6m"
DEFAULT_INTERVAL = "5m"
DEFAULT_MAX_SIGNALS = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class ThreatEntry:
    """A MITRE ATT&CK tactic, technique or sub-technique reference."""

    id: str
    name: str
    reference: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Technique:
    entry: ThreatEntry
    subtechniques: tuple[ThreatEntry, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Threat:
    framework: str
    tactic: ThreatEntry
    techniques: tuple[Technique, ...] = ()

    def as_kibana(self) -> dict[str, Any]:
        """The shape Kibana stores in ``kibana.alert.rule.threat``."""

        def entry(e: ThreatEntry) -> dict[str, str]:
            return {"id": e.id, "name": e.name, "reference": e.reference}

        return {
            "framework": self.framework,
            "tactic": entry(self.tactic),
            "technique": [
                {**entry(t.entry), "subtechnique": [entry(s) for s in t.subtechniques]}
                for t in self.techniques
            ],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleFilter:
    """One Kibana filter attached to a rule: DSL, applied (or negated) on top of the query."""

    query: Mapping[str, Any]
    negate: bool = False
    disabled: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class NewTerms:
    fields: tuple[str, ...]
    history_window_start: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Cardinality:
    """A threshold's distinct-value condition: at least ``value`` values of ``field``."""

    field: str
    value: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Threshold:
    """``[rule.threshold]``: group by 0 to 3 ``fields``; a group alerts at ``value`` events
    (and, with ``cardinality``, that many distinct values; Kibana uses the first only)."""

    fields: tuple[str, ...]
    value: int
    cardinality: tuple[Cardinality, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ThreatMappingEntry:
    """An event ``field`` that must equal the indicator's ``value`` field (``negate``: must
    not)."""

    field: str
    value: str
    negate: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ThreatMatch:
    """An indicator match rule's indicator side: where indicators are and how they match.

    ``mapping`` holds the ``[[rule.threat_mapping]]`` blocks: the entries of one block are
    ANDed, the blocks ORed."""

    index: tuple[str, ...]
    query: str
    parsed: KqlQuery = field(repr=False, compare=False)
    mapping: tuple[tuple[ThreatMappingEntry, ...], ...]
    filters: tuple[RuleFilter, ...] = ()
    indicator_path: str = "threat.indicator"
    items_per_search: int = 9000
    concurrent_searches: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class MachineLearning:
    """A machine learning rule: anomalies of these jobs scoring at least the threshold."""

    job_ids: tuple[str, ...]
    anomaly_threshold: int


ML_EMBEDDED_REASON = (
    "machine learning rules read the anomaly results (.ml-anomalies-*) of the cluster's "
    "machine learning jobs; the embedded store has no machine learning jobs"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    path: Path
    rule_id: str
    name: str
    description: str
    type: RuleType
    language: Literal["eql", "kuery", "esql"]  # machine_learning rules: kuery, query ""
    query: str
    parsed: EqlQuery | KqlQuery | EsqlQuery = field(repr=False, compare=False)
    index: tuple[str, ...]  # empty for esql rules: their FROM names the indices
    risk_score: int
    severity: Severity
    from_: str = DEFAULT_FROM
    interval: str = DEFAULT_INTERVAL
    max_signals: int = DEFAULT_MAX_SIGNALS
    timestamp_override: str | None = None
    timestamp_field: str = "@timestamp"
    tiebreaker_field: str | None = None
    event_category_override: str | None = None
    new_terms: NewTerms | None = None
    threshold: Threshold | None = None
    threat_match: ThreatMatch | None = None
    machine_learning: MachineLearning | None = None
    filters: tuple[RuleFilter, ...] = ()
    alert_suppression: AlertSuppression | None = None
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    threat: tuple[Threat, ...] = ()
    note: str = ""
    setup: str = ""
    false_positives: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    license: str = ""
    version: int = 1
    enabled: bool = True
    building_block_type: str | None = None
    overrides: AlertOverrides = field(default_factory=AlertOverrides)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Keys of [rule] this runner does not interpret, kept verbatim (the public format grows).
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Not from the file: the interval a daemon started with --interval runs the rule at (its
    # windows and catch-up keep `interval`); executions record it for `runner status`.
    scheduled_interval: str | None = field(default=None, compare=False)

    @property
    def stem(self) -> str:
        """The file name without ``.toml``: the rule's short name."""
        return self.path.stem

    @property
    def eql(self) -> EqlQuery:
        if not isinstance(self.parsed, EqlQuery):
            raise TypeError(f"rule {self.name!r} is not an EQL rule")
        return self.parsed

    @property
    def kql(self) -> KqlQuery:
        if not isinstance(self.parsed, KqlQuery):
            raise TypeError(f"rule {self.name!r} is not a KQL rule")
        return self.parsed

    @property
    def esql(self) -> EsqlQuery:
        if not isinstance(self.parsed, EsqlQuery):
            raise TypeError(f"rule {self.name!r} is not an ES|QL rule")
        return self.parsed

    @property
    def cluster_only(self) -> tuple[str, ...]:
        """Why the embedded store cannot run this rule (empty when it can)."""
        if self.machine_learning is not None:
            return (ML_EMBEDDED_REASON,)
        return self.parsed.cluster_only() if isinstance(self.parsed, EsqlQuery) else ()


@dataclass(frozen=True, kw_only=True, slots=True)
class UnsupportedRule:
    """A well-formed rule of a type this runner does not execute (esql, threshold...)."""

    path: Path
    rule_id: str
    name: str
    type: str
    reason: str

    @property
    def stem(self) -> str:
        return self.path.stem
