"""The Elasticsearch backend: rules run against an existing cluster.

Composes the two halves (:mod:`runner.elastic.events`, :mod:`runner.elastic.store`) over one
:class:`~runner.elastic.client.ElasticClient`.  Nothing connects at construction time; the
first primitive called does.  ``setup()`` creates the runner's index templates and indices;
``index_events()`` bulk-loads events (``runner events load`` / ``runner demo`` on a cluster).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from runner.config import DEFAULT_ALERTS_INDEX, ElasticsearchSettings
from runner.elastic import esql
from runner.elastic.bulk import CHUNK, Create, bulk_create, event_action
from runner.elastic.client import ElasticClient, RetryPolicy
from runner.elastic.events import MAX_COMBINATIONS, ElasticEventSource
from runner.elastic.setup import SetupStep, cluster_version, ensure
from runner.elastic.store import ElasticAlertStore, IndexNames, SetupHint
from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from runner.kql.ast import Query as KqlQuery
from runner.kql.fields import FieldTypes
from runner.lists.elasticsearch import ElasticLists
from runner.lists.model import ValueList, ValueListInfo
from runner.notify.model import NotifyHook
from runner.search import (
    AnomalyRequest,
    AnomalyResult,
    EqlRequest,
    EqlResult,
    EsqlRequest,
    EsqlResult,
    FirstSeenRequest,
    Hit,
    HitPage,
    IndicatorRequest,
    KqlRequest,
    MlJobState,
    TermDocumentsRequest,
    TermKey,
    TermsPage,
    TermsPageRequest,
    ThresholdPage,
    ThresholdRequest,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadOutcome:
    created: int = 0
    duplicates: int = 0
    failed: tuple[tuple[int, str], ...] = ()  # (line number, reason)


class ElasticsearchBackend:
    """:class:`~runner.backends.base.Backend` on an Elasticsearch 8.x / 9.x cluster."""

    name: str = "elasticsearch"

    def __init__(
        self,
        settings: ElasticsearchSettings,
        *,
        alerts_index: str = DEFAULT_ALERTS_INDEX,
        index_prefix: str = "runner",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_combinations: int = MAX_COMBINATIONS,
    ) -> None:
        self.client = ElasticClient(settings, retry=retry, sleep=sleep)
        self.indices = IndexNames(alerts=alerts_index, prefix=index_prefix)
        self._events = ElasticEventSource(self.client, max_combinations=max_combinations)
        self._store = ElasticAlertStore(self.client, self.indices)
        self._lists = ElasticLists(SetupHint(self.client), self.indices.lists)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ElasticsearchBackend:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- EventSource -----------------------------------------------------------------------

    def search_eql(self, request: EqlRequest) -> EqlResult:
        return self._events.search_eql(request)

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        return self._events.search_kql(request)

    def field_types(self, indices: Sequence[str], query: KqlQuery) -> FieldTypes:
        """The cluster's types of the fields ``query`` names (``_field_caps``, cached five
        minutes; :meth:`refresh_field_types` drops the cache)."""
        return self._events.field_types(indices, query)

    def refresh_field_types(self) -> None:
        self._events.field_caps.clear()

    def query_pages(self, request: KqlRequest) -> Generator[HitPage, None, None]:
        return self._events.query_pages(request)

    def terms_page(self, request: TermsPageRequest) -> TermsPage:
        return self._events.terms_page(request)

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        return self._events.first_seen(request)

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]:
        return self._events.term_documents(request)

    def search_esql(self, request: EsqlRequest) -> EsqlResult:
        return esql.search_esql(self.client, request)

    def documents_by_id(self, indices: Sequence[str], ids: Sequence[str]) -> Mapping[str, Hit]:
        return esql.documents_by_id(self.client, indices, ids)

    def threshold_buckets(self, request: ThresholdRequest) -> ThresholdPage:
        from runner.elastic import threshold

        types = self._events.field_types(request.indices, request.query)
        body = self._events.search(threshold.threshold_search(request, types))
        return threshold.threshold_page(body, request)

    def indicator_pages(self, request: IndicatorRequest) -> Generator[tuple[Hit, ...], None, None]:
        from runner.elastic import indicators

        return indicators.indicator_pages(self.client, self._events, request)

    def search_anomalies(self, request: AnomalyRequest) -> AnomalyResult:
        from runner.elastic.anomalies import anomaly_search, total_hits
        from runner.elastic.responses import search_hits

        body = self._events.search(anomaly_search(request))
        return AnomalyResult(hits=search_hits(body), total=total_hits(body))

    def ml_jobs(self, job_ids: Sequence[str]) -> tuple[MlJobState, ...]:
        from runner.elastic.anomalies import ml_jobs

        return ml_jobs(self.client, job_ids)

    # --- AlertStore ------------------------------------------------------------------------

    def existing_alert_ids(self, ids: Sequence[str]) -> set[str]:
        return self._store.existing_alert_ids(ids)

    def write_alerts(
        self, alerts: Sequence[Mapping[str, Any]], notify: NotifyHook | None = None
    ) -> WriteOutcome:
        return self._store.write_alerts(alerts, notify)

    def suppression_alerts(
        self,
        rule_id: str,
        *,
        started_since: datetime | None = None,
        ended_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        return self._store.suppression_alerts(
            rule_id, started_since=started_since, ended_since=ended_since
        )

    def update_alerts(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        self._store.update_alerts(updates)

    def load_state(self, rule_id: str) -> RuleState | None:
        return self._store.load_state(rule_id)

    def save_state(self, state: RuleState) -> None:
        self._store.save_state(state)

    def record_execution(self, record: ExecutionRecord) -> None:
        self._store.record_execution(record)

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        self._store.record_executions(records)

    def record_gap(self, gap: Gap) -> None:
        self._store.record_gap(gap)

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]:
        return self._store.open_gaps(rule_id)

    def close_gap(self, gap: Gap, covered_to: datetime) -> None:
        self._store.close_gap(gap, covered_to)

    def list_alerts(
        self,
        *,
        rule_ids: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        return self._store.list_alerts(rule_ids=rule_ids, since=since, limit=limit)

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        return self._store.list_executions(rule_ids=rule_ids, limit=limit)

    # --- ValueListStore --------------------------------------------------------------------

    def get_list(self, list_id: str) -> ValueList | None:
        return self._lists.get_list(list_id)

    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        self._lists.put_list(info, values)

    def list_lists(self) -> list[ValueListInfo]:
        return self._lists.list_lists()

    def delete_list(self, list_id: str) -> bool:
        return self._lists.delete_list(list_id)

    # --- operations ------------------------------------------------------------------------

    def setup(self) -> list[SetupStep]:
        """Create the index templates and indices that are missing (idempotent)."""
        return ensure(self.client, self.indices)

    def cluster_version(self) -> str | None:
        return cluster_version(self.client)

    def index_events(self, lines: Iterable[str], *, index: str | None = None) -> LoadOutcome:
        """Bulk-``create`` NDJSON events (``create`` also works for data streams), streamed in
        chunks.  As ``runner events load`` on the embedded store: a line is a search hit
        (``_index``/``_id``/``_source``) or a bare document, whose index is ``index``, else
        ``logs-{data_stream.dataset}-{data_stream.namespace}``, and whose id is the MD5 of
        its text (loading a file twice creates each event once)."""
        created = duplicates = 0
        failed: list[tuple[int, str]] = []
        chunk: list[tuple[int, Create]] = []

        def flush() -> None:
            nonlocal created, duplicates
            outcome = bulk_create(self.client, [a for _, a in chunk], refresh="wait_for")
            created += len(outcome.created)
            duplicates += len(outcome.duplicates)
            failed.extend((chunk[pos][0], reason) for pos, reason in outcome.failed)
            chunk.clear()

        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                chunk.append((number, event_action(line, index)))
            except ValueError as exc:
                failed.append((number, str(exc)))
            if len(chunk) >= CHUNK:
                flush()
        if chunk:
            flush()
        return LoadOutcome(created=created, duplicates=duplicates, failed=tuple(failed))
