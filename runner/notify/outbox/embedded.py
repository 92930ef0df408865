"""The outbox as a table in the embedded DuckDB store.

Entries are inserted by :func:`insert_notifications` inside the transaction that writes their
alerts (see :class:`~runner.backends.embedded_alerts.EmbeddedAlertStore`), so alerts and
notifications are committed together or not at all.  Every change after that is an
``UPDATE ... WHERE version = <the version read>``: the DuckDB file is held by one process at
a time, and inside a process DuckDB's own transaction conflicts fence concurrent claims.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from runner.embedded.store import register_schema
from runner.embedded.transaction import transaction
from runner.notify.model import Notification, OutboxCounts, OutboxItem, OutboxStatus

Connect = Callable[[], AbstractContextManager[Any]]

register_schema(
    "outbox",
    """CREATE TABLE IF NOT EXISTS outbox (
        id VARCHAR PRIMARY KEY,
        connector_id VARCHAR NOT NULL,
        connector_type VARCHAR NOT NULL,
        rule_id VARCHAR NOT NULL,
        rule_name VARCHAR,
        action_uuid VARCHAR,
        kind VARCHAR NOT NULL,
        alert_ids JSON,
        idempotency_key VARCHAR NOT NULL,
        params JSON,
        queued_at TIMESTAMP NOT NULL,
        throttle_key VARCHAR,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at TIMESTAMP,
        last_error VARCHAR,
        claimed_by VARCHAR,
        claimed_until TIMESTAMP,
        sent_at TIMESTAMP,
        version BIGINT NOT NULL
    )""",
)

_COLUMNS = (
    "id, connector_id, connector_type, rule_id, rule_name, action_uuid, kind, alert_ids, "
    "idempotency_key, params, queued_at, throttle_key, status, attempts, next_attempt_at, "
    "last_error, claimed_by, claimed_until, sent_at, version"
)


def _db(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(n: Notification) -> tuple[Any, ...]:
    return (
        n.id, n.connector_id, n.connector_type, n.rule_id, n.rule_name, n.action_uuid, n.kind,
        json.dumps(list(n.alert_ids)), n.idempotency_key, json.dumps(n.params, default=str),
        _db(n.queued_at), n.throttle_key, "pending", 0, _db(n.queued_at), "", None, None, None, 1,
    )  # fmt: skip


def insert_notifications(con: Any, notifications: Sequence[Notification]) -> int:
    """Insert-if-absent on an open connection (the caller's transaction)."""
    if not notifications:
        return 0
    ids = [n.id for n in notifications]
    present = {
        row[0]
        for row in con.execute(
            "SELECT id FROM outbox WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
        ).fetchall()
    }
    rows, seen = [], set(present)
    for n in notifications:
        if n.id not in seen:
            seen.add(n.id)
            rows.append(_row(n))
    if rows:
        con.executemany(
            f"INSERT INTO outbox ({_COLUMNS}) VALUES ({', '.join('?' * 20)}) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)


def _item(row: Sequence[Any]) -> OutboxItem:
    (id_, connector_id, connector_type, rule_id, rule_name, action_uuid, kind, alert_ids,
     key, params, queued_at, throttle_key, status, attempts, next_at, last_error, claimed_by,
     claimed_until, sent_at, version) = row  # fmt: skip
    notification = Notification(
        id=id_, connector_id=connector_id, connector_type=connector_type, rule_id=rule_id,
        rule_name=rule_name or "", action_uuid=action_uuid or "", kind=kind,
        alert_ids=tuple(json.loads(alert_ids or "[]")), idempotency_key=key,
        params=json.loads(params or "{}"), queued_at=_ts(queued_at) or datetime.now(UTC),
        throttle_key=throttle_key,
    )  # fmt: skip
    return OutboxItem(
        notification=notification, status=status, attempts=attempts,
        next_attempt_at=_ts(next_at), last_error=last_error or "", claimed_by=claimed_by,
        claimed_until=_ts(claimed_until), sent_at=_ts(sent_at), version=(int(version), 0),
    )  # fmt: skip


_CONFLICT_RETRIES = 20


class EmbeddedOutbox:
    """:class:`~runner.notify.outbox.base.Outbox` on the embedded store."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def enqueue(self, notifications: Sequence[Notification]) -> int:
        with self._connect() as con, transaction(con):
            return insert_notifications(con, notifications)

    def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        try:
            with self._connect() as con, transaction(con):
                rows = con.execute(
                    "UPDATE outbox SET claimed_by = ?, claimed_until = ?, version = version + 1 "
                    "WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' "
                    "AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) "
                    f"ORDER BY queued_at, id LIMIT {int(limit)}) RETURNING {_COLUMNS}",
                    [owner, _db(now + lease), _db(now), _db(now)],
                ).fetchall()
        except duckdb.TransactionException:
            # Another thread of this process claimed at the same moment: its rows are taken,
            # ours are not; try again next round.
            return []
        return sorted((_item(r) for r in rows), key=lambda i: (i.notification.queued_at,
                                                                 i.notification.id))  # fmt: skip

    def _change(self, item: OutboxItem, assignments: str, params: list[Any]) -> bool:
        # A conflict with another worker's concurrent write (DuckDB detects it coarsely, even
        # for other rows) is retried: giving up after a delivery would leave a sent
        # notification pending, to be sent again once its lease ends.  The version and owner
        # checks keep a retry from overwriting anyone else's change.
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._connect() as con:
                    rows = con.execute(
                        f"UPDATE outbox SET {assignments}, version = version + 1 "
                        "WHERE id = ? AND version = ? AND claimed_by = ? RETURNING id",
                        [*params, item.notification.id, item.version[0], item.claimed_by],
                    ).fetchall()
                return bool(rows)
            except duckdb.TransactionException:
                time.sleep(0.005 * (attempt + 1))
        return False

    def mark_sent(self, item: OutboxItem, *, now: datetime, detail: str) -> bool:
        return self._change(
            item,
            "status = 'sent', sent_at = ?, attempts = attempts + 1, claimed_until = NULL, "
            "last_error = ''",
            [_db(now)],
        )

    def mark_retry(
        self, item: OutboxItem, *, now: datetime, error: str, next_attempt_at: datetime
    ) -> bool:
        return self._change(
            item,
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?, claimed_until = NULL",
            [error, _db(next_attempt_at)],
        )

    def mark_failed(self, item: OutboxItem, *, now: datetime, error: str) -> bool:
        return self._change(
            item,
            "status = 'failed', attempts = attempts + 1, last_error = ?, claimed_until = NULL",
            [error],
        )

    def requeue_failed(self, *, now: datetime, connector_id: str | None = None) -> int:
        query = ("UPDATE outbox SET status = 'pending', next_attempt_at = ?, "
                 "version = version + 1 WHERE status = 'failed'")  # fmt: skip
        params: list[Any] = [_db(now)]
        if connector_id is not None:
            query += " AND connector_id = ?"
            params.append(connector_id)
        with self._connect() as con:
            return len(con.execute(query + " RETURNING id", params).fetchall())

    def last_queued(self, throttle_key: str) -> datetime | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT max(queued_at) FROM outbox WHERE throttle_key = ?", [throttle_key]
            ).fetchone()
        return _ts(row[0]) if row else None

    def counts(self) -> OutboxCounts:
        with self._connect() as con:
            row = con.execute(
                "SELECT count(*) FILTER (WHERE status = 'pending'), "
                "count(*) FILTER (WHERE status = 'sent'), "
                "count(*) FILTER (WHERE status = 'failed'), "
                "count(*) FILTER (WHERE status = 'pending' AND attempts > 0) FROM outbox"
            ).fetchone()
            last = con.execute(
                "SELECT last_error, connector_id FROM outbox WHERE last_error <> '' "
                "AND status <> 'sent' ORDER BY next_attempt_at DESC LIMIT 1"
            ).fetchone()
        assert row is not None
        return OutboxCounts(
            pending=row[0], sent=row[1], failed=row[2], retrying=row[3],
            last_error=last[0] if last else "", last_error_connector=last[1] if last else "",
        )  # fmt: skip

    def items(self, *, status: OutboxStatus | None = None, limit: int = 50) -> list[OutboxItem]:
        query = f"SELECT {_COLUMNS} FROM outbox"
        params: list[Any] = []
        if status is not None:
            query += " WHERE status = ?"
            params.append(status)
        with self._connect() as con:
            rows = con.execute(
                query + f" ORDER BY queued_at DESC, id LIMIT {int(limit)}", params
            ).fetchall()
        return [_item(r) for r in rows]
