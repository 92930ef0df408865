"""The outbox as a runner index on the cluster (``<prefix>-outbox``).

Entries are created in the ``_bulk`` request that writes their alerts (``create`` with the
notification's deterministic id).  Every later change is a whole-document ``PUT`` with
``if_seq_no`` / ``if_primary_term`` of the version read: of two runners racing for the same
entry, Elasticsearch accepts exactly one and answers the other 409, so the entry is claimed,
and later marked, by one runner only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.elastic.bulk import Create, bulk_create
from runner.elastic.client import ElasticClient
from runner.elastic.dsl import doc_path, index_path
from runner.notify.model import Notification, OutboxCounts, OutboxItem, OutboxStatus
from runner.timeutil import isoformat, parse_absolute

NEVER = "1970-01-01T00:00:00.000Z"  # claimed_until of an unclaimed entry: one range query
_SEARCH = "ignore_unavailable=true&allow_no_indices=true"

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in (
            "id", "connector_id", "connector_type", "rule_id", "rule_name", "action_uuid",
            "kind", "alert_ids", "idempotency_key", "throttle_key", "status", "claimed_by")},
        "last_error": {"type": "keyword", "ignore_above": 8191},
        **{name: {"type": "date"} for name in (
            "queued_at", "next_attempt_at", "claimed_until", "sent_at")},
        "attempts": {"type": "integer"},
        "params": {"type": "object", "enabled": False},
    },
}  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


def _time(value: Any) -> datetime | None:
    return parse_absolute(str(value)) if value else None


def notification_doc(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id, "connector_id": n.connector_id, "connector_type": n.connector_type,
        "rule_id": n.rule_id, "rule_name": n.rule_name, "action_uuid": n.action_uuid,
        "kind": n.kind, "alert_ids": list(n.alert_ids), "idempotency_key": n.idempotency_key,
        "params": dict(n.params), "queued_at": isoformat(n.queued_at),
        "throttle_key": n.throttle_key, "status": "pending", "attempts": 0,
        "next_attempt_at": isoformat(n.queued_at), "last_error": "", "claimed_by": None,
        "claimed_until": NEVER, "sent_at": None,
    }  # fmt: skip


def outbox_create(index: str, n: Notification) -> Create:
    return Create(index=index, id=n.id, doc=notification_doc(n))


def _item(hit: Mapping[str, Any]) -> OutboxItem:
    doc = hit.get("_source") or {}
    notification = Notification(
        id=str(doc["id"]), connector_id=str(doc["connector_id"]),
        connector_type=str(doc["connector_type"]), rule_id=str(doc["rule_id"]),
        rule_name=str(doc.get("rule_name") or ""), action_uuid=str(doc.get("action_uuid") or ""),
        kind=doc["kind"], alert_ids=tuple(doc.get("alert_ids") or ()),
        idempotency_key=str(doc["idempotency_key"]), params=dict(doc.get("params") or {}),
        queued_at=_time(doc.get("queued_at")) or datetime.now(UTC),
        throttle_key=doc.get("throttle_key"),
    )  # fmt: skip
    claimed_until = _time(doc.get("claimed_until"))
    return OutboxItem(
        notification=notification, status=doc.get("status", "pending"),
        attempts=int(doc.get("attempts") or 0), next_attempt_at=_time(doc.get("next_attempt_at")),
        last_error=str(doc.get("last_error") or ""), claimed_by=doc.get("claimed_by"),
        claimed_until=None if doc.get("claimed_until") == NEVER else claimed_until,
        sent_at=_time(doc.get("sent_at")),
        version=(int(hit.get("_seq_no", 0)), int(hit.get("_primary_term", 0))),
    )  # fmt: skip


def _doc(item: OutboxItem, **changes: Any) -> dict[str, Any]:
    doc = notification_doc(item.notification)
    doc.update(
        status=item.status, attempts=item.attempts, next_attempt_at=_iso(item.next_attempt_at),
        last_error=item.last_error, claimed_by=item.claimed_by,
        claimed_until=_iso(item.claimed_until) or NEVER, sent_at=_iso(item.sent_at),
    )  # fmt: skip
    doc.update(changes)
    return doc


class ElasticOutbox:
    """:class:`~runner.notify.outbox.base.Outbox` on the cluster."""

    def __init__(self, client: ElasticClient, index: str) -> None:
        self._client = client
        self.index = index

    def enqueue(self, notifications: Sequence[Notification]) -> int:
        actions = [outbox_create(self.index, n) for n in notifications]
        return len(bulk_create(self._client, actions, refresh="wait_for").created)

    def _search(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        response = self._client.request(
            "POST", f"/{index_path([self.index])}/_search?{_SEARCH}", body, allow=(404,)
        )
        if response.status != 200:
            return []
        return list(response.body.get("hits", {}).get("hits", []))

    def _put(self, item: OutboxItem, doc: Mapping[str, Any]) -> OutboxItem | None:
        seq_no, primary_term = item.version
        query = f"if_seq_no={seq_no}&if_primary_term={primary_term}&refresh=wait_for"
        path = f"{doc_path(self.index, item.notification.id)}?{query}"
        response = self._client.request("PUT", path, doc, allow=(409,))
        if response.status == 409:
            return None  # another runner changed it since we read it
        body = response.body
        return _item({"_source": doc, "_seq_no": body.get("_seq_no"),
                      "_primary_term": body.get("_primary_term")})  # fmt: skip

    def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        hits = self._search({
            "size": limit, "seq_no_primary_term": True,
            "query": {"bool": {"filter": [
                {"term": {"status": "pending"}},
                {"range": {"next_attempt_at": {"lte": isoformat(now)}}},
                {"range": {"claimed_until": {"lt": isoformat(now)}}},
            ]}},
            "sort": [{"queued_at": {"order": "asc"}}, {"id": {"order": "asc"}}],
        })  # fmt: skip
        claimed = []
        for hit in hits:
            item = _item(hit)
            taken = self._put(item, _doc(item, claimed_by=owner,
                                         claimed_until=isoformat(now + lease)))  # fmt: skip
            if taken is not None:
                claimed.append(taken)
        return claimed

    def _change(self, item: OutboxItem, **changes: Any) -> bool:
        return self._put(item, _doc(item, claimed_until=NEVER, **changes)) is not None

    def mark_sent(self, item: OutboxItem, *, now: datetime, detail: str) -> bool:
        return self._change(item, status="sent", sent_at=isoformat(now),
                            attempts=item.attempts + 1, last_error="")  # fmt: skip

    def mark_retry(
        self, item: OutboxItem, *, now: datetime, error: str, next_attempt_at: datetime
    ) -> bool:
        return self._change(item, attempts=item.attempts + 1, last_error=error,
                            next_attempt_at=isoformat(next_attempt_at))  # fmt: skip

    def mark_failed(self, item: OutboxItem, *, now: datetime, error: str) -> bool:
        return self._change(item, status="failed", attempts=item.attempts + 1, last_error=error)

    def requeue_failed(self, *, now: datetime, connector_id: str | None = None) -> int:
        clauses: list[dict[str, Any]] = [{"term": {"status": "failed"}}]
        if connector_id is not None:
            clauses.append({"term": {"connector_id": connector_id}})
        hits = self._search({"size": 1000, "seq_no_primary_term": True,
                             "query": {"bool": {"filter": clauses}}})  # fmt: skip
        count = 0
        for hit in hits:
            item = _item(hit)
            if self._put(item, _doc(item, status="pending", next_attempt_at=isoformat(now))):
                count += 1
        return count

    def last_queued(self, throttle_key: str) -> datetime | None:
        hits = self._search({"size": 1, "query": {"term": {"throttle_key": throttle_key}},
                             "sort": [{"queued_at": {"order": "desc"}}]})  # fmt: skip
        return _time((hits[0].get("_source") or {}).get("queued_at")) if hits else None

    def counts(self) -> OutboxCounts:
        def count(*clauses: dict[str, Any]) -> int:
            response = self._client.request(
                "POST", f"/{index_path([self.index])}/_count?{_SEARCH}",
                {"query": {"bool": {"filter": list(clauses)}}}, allow=(404,),
            )  # fmt: skip
            return int(response.body.get("count", 0)) if response.status == 200 else 0

        last = self._search({
            "size": 1, "query": {"bool": {
                "filter": [{"terms": {"status": ["pending", "failed"]}}],
                "must_not": [{"term": {"last_error": ""}}, {"term": {"attempts": 0}}]}},
            "sort": [{"next_attempt_at": {"order": "desc"}}],
        })  # fmt: skip
        doc = (last[0].get("_source") or {}) if last else {}
        return OutboxCounts(
            pending=count({"term": {"status": "pending"}}),
            sent=count({"term": {"status": "sent"}}),
            failed=count({"term": {"status": "failed"}}),
            retrying=count({"term": {"status": "pending"}}, {"range": {"attempts": {"gt": 0}}}),
            last_error=str(doc.get("last_error") or ""),
            last_error_connector=str(doc.get("connector_id") or ""),
        )

    def items(self, *, status: OutboxStatus | None = None, limit: int = 50) -> list[OutboxItem]:
        query: dict[str, Any] = {"term": {"status": status}} if status else {"match_all": {}}
        hits = self._search({"size": limit, "seq_no_primary_term": True, "query": query,
                             "sort": [{"queued_at": {"order": "desc"}}]})  # fmt: skip
        return [_item(h) for h in hits]
