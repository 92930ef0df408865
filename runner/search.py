"""Backend-neutral search requests and results.

Both backends (Elasticsearch and the embedded DuckDB store) take these requests and return
these results, so the execution core above them is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # annotations only: a hunt in one language loads no other parser
    from runner.eql.ast import Query as EqlQuery
    from runner.esql.ast import Query as EsqlQuery
    from runner.kql.ast import Query as KqlQuery


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeRange:
    """``start <= field <= end``; with ``fallback``, documents lacking ``field`` are tested on
    ``fallback`` instead (Kibana's ``timestamp_override`` behaviour).  Bounds are inclusive,
    as Kibana's ``gte``/``lte`` range filter; None leaves that side open."""

    field: str = "@timestamp"
    fallback: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class EqlRequest:
    """One ``_eql/search``: the parsed query plus the request options Kibana sends."""

    query: EqlQuery
    indices: tuple[str, ...] = ()  # index patterns; empty means every index
    time_range: TimeRange | None = None
    size: int = 100
    timestamp_field: str = "@timestamp"
    tiebreaker_field: str | None = None
    event_category_field: str = "event.category"
    result_position: Literal["head", "tail"] = "tail"
    # Extra DSL filters (rule filters / exceptions), already in Elasticsearch query DSL.
    filters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class KqlRequest:
    """A ``_search`` with a KQL query compiled to DSL, sorted by timestamp; ``size`` is the
    page size when paged (:meth:`~runner.backends.base.EventSource.query_pages`)."""

    query: KqlQuery
    indices: tuple[str, ...] = ()
    time_range: TimeRange | None = None
    size: int = 100
    timestamp_field: str = "@timestamp"
    filters: tuple[Mapping[str, Any], ...] = ()
    descending: bool = False  # newest first (indicator match rules, as Kibana sorts them)


@dataclass(frozen=True, kw_only=True, slots=True)
class Hit:
    """One source document as Elasticsearch returns it."""

    index: str
    id: str
    source: Mapping[str, Any] = field(default_factory=dict)

    def as_hit(self) -> dict[str, Any]:
        return {"_index": self.index, "_id": self.id, "_source": dict(self.source)}


@dataclass(frozen=True, kw_only=True, slots=True)
class HitPage:
    """One page of a paged search; ``partial_reason`` says why it may lack documents
    (shards that failed or timed out), None when complete."""

    hits: tuple[Hit, ...]
    partial_reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class MissingEvent:
    """Placeholder for a ``![...]`` stage in a sequence result."""

    def as_hit(self) -> dict[str, Any]:
        return {"missing": True}


@dataclass(frozen=True, kw_only=True, slots=True)
class SequenceMatch:
    join_keys: tuple[Any, ...]
    events: tuple[Hit | MissingEvent, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class EqlResult:
    """Events for event queries, sequences for sequence and sample queries, in result order."""

    events: tuple[Hit, ...] = ()
    sequences: tuple[SequenceMatch, ...] = ()
    is_partial: bool = False
    partial_reason: str | None = None


TermValue = str | int | float | bool
TermKey = tuple[TermValue, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class TermsQuery:
    """What the three new-terms phases share: the KQL query, indices, fields and timestamps.

    ``timestamp_override`` (with fallback to ``@timestamp``) is the time that ranges and
    first-seen times are taken on, as Kibana's combined timestamp.
    """

    query: KqlQuery
    fields: tuple[str, ...]
    indices: tuple[str, ...] = ()
    timestamp_override: str | None = None
    filters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class TermsPageRequest:
    """Phase 1: distinct term tuples in ``time_range``, ordered, after ``after``."""

    terms: TermsQuery
    time_range: TimeRange
    after: TermKey | None = None
    size: int = 10_000


@dataclass(frozen=True, kw_only=True, slots=True)
class TermsPage:
    keys: tuple[TermKey, ...]
    after: TermKey | None  # None: no further page
    # The window's terms came from part of the data (failed shards, timeout): the terms found
    # are real, others may be missing.
    partial_reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FirstSeenRequest:
    """Phase 2: the earliest time each of ``keys`` occurs in ``time_range`` (the history).

    With ``new_after`` a backend may leave out keys first seen at or before it (Kibana's
    ``bucket_selector``); the caller re-checks either way."""

    terms: TermsQuery
    time_range: TimeRange
    keys: tuple[TermKey, ...]
    new_after: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TermDocumentsRequest:
    """Phase 3: the oldest document carrying each of ``keys`` in ``time_range``."""

    terms: TermsQuery
    time_range: TimeRange
    keys: tuple[TermKey, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class EsqlRequest:
    """One ``POST /_query``: the query with ``| LIMIT size`` appended (as Kibana does), the
    window and filters as the request's DSL ``filter`` (applied before the first command)."""

    query: EsqlQuery
    time_range: TimeRange | None = None
    filters: tuple[Mapping[str, Any], ...] = ()
    size: int | None = None

    @property
    def text(self) -> str:
        text = self.query.text.rstrip()
        return text if self.size is None else f"{text}\n| LIMIT {int(self.size)}"


@dataclass(frozen=True, kw_only=True, slots=True)
class EsqlColumn:
    name: str
    type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EsqlResult:
    """The ``_query`` answer: columns and rows of values (a multi-value is a list)."""

    columns: tuple[EsqlColumn, ...] = ()
    values: tuple[tuple[Any, ...], ...] = ()

    def documents(self) -> list[dict[str, Any]]:
        """Each row as ``{column: value}``, nulls left out (Kibana's ``rowToDocument``)."""
        names = [c.name for c in self.columns]
        return [
            {n: v for n, v in zip(names, row, strict=False) if v is not None} for row in self.values
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class SignalHistoryEntry:
    """A threshold group alerted before: its terms and the newest event time it covered
    (Kibana's ``ThresholdSignalHistoryRecord``; later requests skip events up to it)."""

    terms: tuple[tuple[str, TermValue], ...]  # (field, value)
    last_signal: datetime

    def term_texts(self) -> list[tuple[str, str]]:
        """Each value as Kibana's template literal writes it (``true``, not ``True``)."""
        return [
            (name, ("true" if value else "false") if isinstance(value, bool) else str(value))
            for name, value in self.terms
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class ThresholdRequest:
    """One page of threshold groups: documents matching the query, filters and window, less
    those a ``history`` entry covers, grouped by ``fields`` (none: one group of all), keeping
    groups of at least ``value`` documents (and ``cardinality`` distinct values)."""

    query: KqlQuery
    fields: tuple[str, ...]
    value: int
    time_range: TimeRange
    indices: tuple[str, ...] = ()
    filters: tuple[Mapping[str, Any], ...] = ()
    cardinality_field: str | None = None
    cardinality_value: int = 0
    history: tuple[SignalHistoryEntry, ...] = ()
    after: TermKey | None = None
    size: int = 10_000


@dataclass(frozen=True, kw_only=True, slots=True)
class ThresholdBucket:
    key: TermKey  # one value per field, in field order; () without fields
    count: int
    min_time: datetime | None
    max_time: datetime | None
    cardinality: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ThresholdPage:
    buckets: tuple[ThresholdBucket, ...]
    after: TermKey | None  # None: no further page


@dataclass(frozen=True, kw_only=True, slots=True)
class IndicatorRequest:
    """Indicator documents of an indicator match rule, paged in index order (a point in time
    sorted by ``_shard_doc`` on a cluster).  ``now`` resolves date math in the query on the
    embedded store (a cluster uses its own clock)."""

    query: KqlQuery
    indices: tuple[str, ...]
    filters: tuple[Mapping[str, Any], ...] = ()
    size: int = 1000
    now: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AnomalyRequest:
    """Anomaly records of machine learning jobs scoring at least ``threshold`` with a
    ``timestamp`` in ``[start, end]``, best first (Kibana's ``buildAnomalyQuery``)."""

    job_ids: tuple[str, ...]
    threshold: int
    start: datetime
    end: datetime
    size: int = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class MlJobState:
    """A machine learning job as Kibana's ``jobsSummary`` reports it."""

    job_id: str
    name: str  # custom_settings.security_app_display_name, else the id
    job_state: str
    datafeed_state: str  # "" without a datafeed

    @property
    def started(self) -> bool:
        """Kibana's ``isJobStarted``: job and datafeed both started (or opened)."""
        enabled = ("started", "opened")
        return self.job_state in enabled and self.datafeed_state in enabled


@dataclass(frozen=True, kw_only=True, slots=True)
class AnomalyResult:
    hits: tuple[Hit, ...]
    total: int  # all records that qualified (more than ``hits`` when over the size)
