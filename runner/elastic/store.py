"""The :class:`~runner.backends.base.AlertStore` half against Elasticsearch.

Alerts go to the alerts index with ``create`` and ``_id = kibana.alert.uuid``; run state,
execution records and gaps live in their own indices (``<prefix>-state``,
``<prefix>-executions``, ``<prefix>-gaps``), so two runners on one cluster share them.
Writes that a later search must see use ``refresh=wait_for``; state is read with a realtime
``GET``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from urllib.parse import quote

from runner.config import DEFAULT_ALERTS_INDEX
from runner.elastic.bulk import Create, bulk_create, bulk_write
from runner.elastic.client import ElasticClient, Response
from runner.elastic.dsl import doc_path, index_path
from runner.errors import BackendError, IndexNotFound
from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from runner.logs import get_logger
from runner.notify.model import NotifyHook
from runner.suppression.select import select_suppression_alerts
from runner.timeutil import isoformat, parse_absolute

IDS_PER_QUERY = 1000
PAGE = 1000
MAX_PAGE = 10_000
SEARCH_PARAMS = "ignore_unavailable=true&allow_no_indices=true"


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexNames:
    alerts: str = DEFAULT_ALERTS_INDEX
    prefix: str = "runner"

    @property
    def state(self) -> str:
        return f"{self.prefix}-state"

    @property
    def executions(self) -> str:
        return f"{self.prefix}-executions"

    @property
    def gaps(self) -> str:
        return f"{self.prefix}-gaps"

    @property
    def leases(self) -> str:
        return f"{self.prefix}-leases"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}-outbox"

    @property
    def lists(self) -> str:
        return f"{self.prefix}-lists"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


def _time(value: Any) -> datetime | None:
    return parse_absolute(str(value)) if value else None


def state_doc(state: RuleState) -> dict[str, Any]:
    return {
        "rule_id": state.rule_id,
        "last_start": _iso(state.last_start),
        "covered_to": _iso(state.covered_to),
        "last_status": state.last_status,
        "last_message": state.last_message,
    }


_DATES = ("started_at", "ended_at", "window_start", "window_end")
_RECORD_FIELDS = {f.name for f in fields(ExecutionRecord)}


def execution_doc(record: ExecutionRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": isoformat(record.started_at)}
    for name in sorted(_RECORD_FIELDS):
        value = getattr(record, name)
        doc[name] = _iso(value) if name in _DATES else value
    return doc


def execution_record(doc: Mapping[str, Any]) -> ExecutionRecord:
    data = {k: v for k, v in doc.items() if k in _RECORD_FIELDS}
    for name in _DATES:
        data[name] = _time(data.get(name))
    data["extra"] = dict(data.get("extra") or {})
    return ExecutionRecord(**data)


def gap_id(rule_id: str, start: datetime) -> str:
    return f"{rule_id}@{isoformat(start)}"


class SetupHint:
    """The client, with a hint to run ``runner setup`` when one of our indices is missing
    (a cluster with ``action.auto_create_index`` off)."""

    def __init__(self, client: ElasticClient) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        allow: Collection[int] = (),
    ) -> Response:
        try:
            return self.client.request(method, path, body, allow=allow)
        except IndexNotFound as exc:
            raise IndexNotFound(
                f"{exc}; run `runner setup` to create the runner's indices"
            ) from None


class ElasticAlertStore:
    def __init__(self, client: ElasticClient, names: IndexNames) -> None:
        self._bulk_client = client
        self._client = SetupHint(client)
        self.names = names

    # --- alerts ----------------------------------------------------------------------------

    def existing_alert_ids(self, ids: Sequence[str]) -> set[str]:
        """An ``ids`` query on the alerts index; a missing index holds no ids."""
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), IDS_PER_QUERY):
            chunk = unique[start : start + IDS_PER_QUERY]
            body = {"size": len(chunk), "track_total_hits": False, "_source": False,
                    "query": {"ids": {"values": chunk}}}  # fmt: skip
            response = self._client.request(
                "POST", f"/{index_path([self.names.alerts])}/_search?{SEARCH_PARAMS}", body,
                allow=(404,),
            )  # fmt: skip
            if response.status == 200:
                found |= {str(h.get("_id")) for h in response.body.get("hits", {}).get("hits", [])}
        return found

    def write_alerts(
        self, alerts: Sequence[Mapping[str, Any]], notify: NotifyHook | None = None
    ) -> WriteOutcome:
        if not alerts:
            return WriteOutcome()
        ids = [str(alert["kibana.alert.uuid"]) for alert in alerts]
        actions = [
            Create(index=self.names.alerts, id=i, doc=a) for i, a in zip(ids, alerts, strict=True)
        ]
        if notify is not None:
            # The same _bulk request carries the alerts and their outbox entries.  The
            # executor already dropped alerts that exist; ids are deterministic, so an entry
            # that another runner queued first answers 409 and is not queued twice.
            from runner.notify.outbox.elastic import outbox_create

            actions += [outbox_create(self.names.outbox, n) for n in notify(ids)]
        outcome = bulk_create(self._bulk_client, actions, refresh="wait_for")
        unqueued = [(p, r) for p, r in outcome.failed if p >= len(ids)]
        if unqueued:
            # After the client's own retries; the alerts are written, so say it loudly.
            get_logger().error("notifications_not_queued", count=len(unqueued),
                               first_error=unqueued[0][1])  # fmt: skip
        outcome.created[:] = [p for p in outcome.created if p < len(ids)]
        outcome.duplicates[:] = [p for p in outcome.duplicates if p < len(ids)]
        outcome.failed[:] = [(p, r) for p, r in outcome.failed if p < len(ids)]
        return WriteOutcome(
            created=tuple(ids[p] for p in outcome.created),
            duplicates=tuple(ids[p] for p in outcome.duplicates),
            failed=tuple((ids[p], reason) for p, reason in outcome.failed),
        )

    def list_alerts(
        self,
        *,
        rule_ids: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = []
        if rule_ids:
            clauses.append({"terms": {"kibana.alert.rule.rule_id": list(rule_ids)}})
        if since is not None:
            clauses.append({"range": {"@timestamp": {"gte": isoformat(since)}}})
        sort = [{"@timestamp": {"order": "desc", "unmapped_type": "date"}},
                {"kibana.alert.uuid": {"order": "asc", "unmapped_type": "keyword"}}]  # fmt: skip
        return [
            dict(h.get("_source") or {})
            for h in self._pages(self.names.alerts, clauses, sort, limit)
        ]

    def suppression_alerts(
        self,
        rule_id: str,
        *,
        started_since: datetime | None = None,
        ended_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Kibana's suppression search: open alerts of the rule with an instance id, started
        (and ending) inside the window, newest start first."""
        clauses: list[dict[str, Any]] = [
            {"term": {"kibana.alert.rule.rule_id": rule_id}},
            {"exists": {"field": "kibana.alert.instance.id"}},
            {"bool": {"must_not": {"term": {"kibana.alert.workflow_status": "closed"}}}},
        ]
        if started_since is not None:
            clauses.append({"range": {"kibana.alert.start": {"gte": isoformat(started_since)}}})
        if ended_since is not None:
            clauses.append(
                {"range": {"kibana.alert.suppression.end": {"gte": isoformat(ended_since)}}}
            )
        sort = [{"kibana.alert.start": {"order": "desc", "unmapped_type": "date"}},
                {"kibana.alert.uuid": {"order": "asc", "unmapped_type": "keyword"}}]  # fmt: skip
        docs = [
            dict(h.get("_source") or {})
            for h in self._pages(self.names.alerts, clauses, sort, None)
        ]
        # The same selection on our side too: a cluster index may hold older shapes.
        return select_suppression_alerts(docs, started_since, ended_since)

    def update_alerts(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """``_update`` of each alert with ``doc`` (partial), visible to the next search."""
        for alert_id, changes in updates:
            path = f"/{quote(self.names.alerts, safe='')}/_update/{quote(alert_id, safe='')}"
            self._client.request("POST", path + "?refresh=wait_for", {"doc": dict(changes)})

    # --- run state -------------------------------------------------------------------------

    def load_state(self, rule_id: str) -> RuleState | None:
        response = self._client.request("GET", doc_path(self.names.state, rule_id), allow=(404,))
        if response.status != 200 or not response.body.get("found"):
            return None
        doc = response.body.get("_source") or {}
        return RuleState(
            rule_id=rule_id,
            last_start=_time(doc.get("last_start")),
            covered_to=_time(doc.get("covered_to")),
            last_status=doc.get("last_status"),
            last_message=doc.get("last_message") or "",
        )

    def save_state(self, state: RuleState) -> None:
        self._client.request("PUT", doc_path(self.names.state, state.rule_id), state_doc(state))

    # --- executions ------------------------------------------------------------------------

    def record_execution(self, record: ExecutionRecord) -> None:
        path = doc_path(self.names.executions, record.execution_id) + "?refresh=wait_for"
        self._client.request("PUT", path, execution_doc(record))

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        """One ``_bulk`` of ``index`` actions (a record written again is the same document)."""
        if not records:
            return
        actions = [
            Create(index=self.names.executions, id=r.execution_id, doc=execution_doc(r))
            for r in records
        ]
        outcome = bulk_write(self._bulk_client, actions, op="index", refresh="wait_for")
        if outcome.failed:
            position, reason = outcome.failed[0]
            raise BackendError(
                f"{len(outcome.failed)} of {len(records)} execution record(s) were not written "
                f"(first: {records[position].execution_id}: {reason})"
            )

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        clauses = [{"terms": {"rule_id": list(rule_ids)}}] if rule_ids else []
        sort = [{"started_at": {"order": "desc", "unmapped_type": "date"}},
                {"ended_at": {"order": "desc", "unmapped_type": "date"}},
                {"execution_id": {"order": "asc", "unmapped_type": "keyword"}}]  # fmt: skip
        hits = self._pages(self.names.executions, clauses, sort, limit)
        return [execution_record(h.get("_source") or {}) for h in hits]

    # --- gaps ------------------------------------------------------------------------------

    def record_gap(self, gap: Gap) -> None:
        """Keyed by (rule, start); a longer gap with the same start extends the end."""
        path = doc_path(self.names.gaps, gap_id(gap.rule_id, gap.start))
        current = self._client.request("GET", path, allow=(404,))
        end = gap.end
        if current.status == 200 and current.body.get("found"):
            known = _time((current.body.get("_source") or {}).get("gap_end"))
            end = max(end, known) if known else end
        self._put_gap(gap.rule_id, gap.start, end)

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]:
        clauses = [{"term": {"rule_id": rule_id}}] if rule_id is not None else []
        sort = [{"gap_start": {"order": "asc", "unmapped_type": "date"}},
                {"rule_id": {"order": "asc", "unmapped_type": "keyword"}}]  # fmt: skip
        gaps = []
        for hit in self._pages(self.names.gaps, clauses, sort, None):
            doc = hit.get("_source") or {}
            start, end = _time(doc.get("gap_start")), _time(doc.get("gap_end"))
            if start is not None and end is not None:
                gaps.append(Gap(rule_id=str(doc.get("rule_id")), start=start, end=end))
        return gaps

    def close_gap(self, gap: Gap, covered_to: datetime) -> None:
        if covered_to < gap.end:
            # Partly filled: the rest stays open, starting where the backfill stopped.
            self._put_gap(gap.rule_id, covered_to, gap.end)
        path = doc_path(self.names.gaps, gap_id(gap.rule_id, gap.start)) + "?refresh=wait_for"
        self._client.request("DELETE", path, allow=(404,))

    def _put_gap(self, rule_id: str, start: datetime, end: datetime) -> None:
        path = doc_path(self.names.gaps, gap_id(rule_id, start)) + "?refresh=wait_for"
        doc = {"rule_id": rule_id, "gap_start": isoformat(start), "gap_end": isoformat(end)}
        self._client.request("PUT", path, doc)

    # --- paging ----------------------------------------------------------------------------

    def _pages(
        self,
        index: str,
        clauses: list[dict[str, Any]],
        sort: list[dict[str, Any]],
        limit: int | None,
    ) -> Iterator[dict[str, Any]]:
        """Hits in ``sort`` order, paged with ``search_after``; a missing index is empty."""
        query = {"bool": {"filter": clauses}} if clauses else {"match_all": {}}
        after: list[Any] | None = None
        left = limit
        while left is None or left > 0:
            size = min(PAGE if left is None else left, MAX_PAGE)
            body: dict[str, Any] = {"size": size, "query": query, "sort": sort}
            if after is not None:
                body["search_after"] = after
            response = self._client.request(
                "POST", f"/{index_path([index])}/_search?{SEARCH_PARAMS}", body, allow=(404,)
            )
            hits = response.body.get("hits", {}).get("hits", []) if response.status == 200 else []
            yield from hits
            if len(hits) < size:
                return
            after = hits[-1].get("sort")
            left = None if left is None else left - len(hits)
