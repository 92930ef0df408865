"""Alerts, run state, execution records and gaps in the embedded DuckDB file.

The tables are registered with the store's schema registry, so every store creates them on
first use.  Writes are insert-if-absent on the alert id, so a duplicate
that slips past the existence check is counted, never written twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

import duckdb

from runner.embedded.store import register_schema
from runner.embedded.transaction import transaction
from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from runner.notify.model import NotifyHook
from runner.notify.outbox.embedded import insert_notifications
from runner.suppression.select import select_suppression_alerts
from runner.timeutil import parse_absolute

Connect = Callable[[], AbstractContextManager[Any]]
_WRITE_ATTEMPTS = 3

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alerts (
        id VARCHAR PRIMARY KEY,
        rule_id VARCHAR NOT NULL,
        rule_name VARCHAR,
        created_at TIMESTAMP NOT NULL,
        original_time TIMESTAMP,
        severity VARCHAR,
        building_block BOOLEAN NOT NULL DEFAULT FALSE,
        reason VARCHAR,
        doc JSON NOT NULL,
        seq BIGINT
    )""",
    "CREATE SEQUENCE IF NOT EXISTS alert_seq",
    """CREATE TABLE IF NOT EXISTS rule_state (
        rule_id VARCHAR PRIMARY KEY,
        last_start TIMESTAMP,
        covered_to TIMESTAMP,
        last_status VARCHAR,
        last_message VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS executions (
        execution_id VARCHAR PRIMARY KEY,
        rule_id VARCHAR NOT NULL,
        rule_name VARCHAR,
        started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP NOT NULL,
        window_start TIMESTAMP,
        window_end TIMESTAMP,
        status VARCHAR NOT NULL,
        message VARCHAR,
        search_ms BIGINT,
        index_ms BIGINT,
        candidates BIGINT,
        alerts_created BIGINT,
        duplicates BIGINT,
        capped BOOLEAN,
        gap_seconds DOUBLE,
        catch_up BOOLEAN,
        backend VARCHAR,
        extra JSON
    )""",
    """CREATE TABLE IF NOT EXISTS gaps (
        rule_id VARCHAR NOT NULL,
        gap_start TIMESTAMP NOT NULL,
        gap_end TIMESTAMP NOT NULL,
        PRIMARY KEY (rule_id, gap_start)
    )""",
)


register_schema("alerts", *SCHEMA)


def _db(value: datetime | None) -> datetime | None:
    """DuckDB TIMESTAMP columns hold naive UTC (TIMESTAMPTZ would need pytz to read back)."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_absolute(str(value))


T = TypeVar("T")


def _retrying(action: Callable[[], T]) -> T:
    """Run a write again when another thread's transaction on the same key committed first
    (DuckDB reports the conflict instead of waiting); each write here is idempotent."""
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            return action()
        except (duckdb.ConstraintException, duckdb.TransactionException):
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class EmbeddedAlertStore:
    """The :class:`~runner.backends.base.AlertStore` half of the embedded backend."""

    def __init__(self, connect: Connect, mirror: Callable[[], None] | None = None) -> None:
        self._connect = connect
        # Copies written and updated alerts to where searches of `.alerts-security.*` read.
        self._mirror = mirror or (lambda: None)

    def existing_alert_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._connect() as con:
            rows = con.execute(
                "SELECT id FROM alerts WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]
            ).fetchall()
        return {row[0] for row in rows}

    def write_alerts(
        self, alerts: Sequence[Mapping[str, Any]], notify: NotifyHook | None = None
    ) -> WriteOutcome:
        if not alerts:
            return WriteOutcome()
        # Another execution of the same rule may commit some of these ids first: written
        # again, they are duplicates.
        outcome = _retrying(lambda: self._write_alerts(alerts, notify))
        self._mirror()
        return outcome

    def _write_alerts(
        self, alerts: Sequence[Mapping[str, Any]], notify: NotifyHook | None
    ) -> WriteOutcome:
        ids = [str(a["kibana.alert.uuid"]) for a in alerts]
        with self._connect() as con, transaction(con):
            present = {
                row[0]
                for row in con.execute(
                    "SELECT id FROM alerts WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
                ).fetchall()
            }
            rows = []
            seen: set[str] = set()
            for alert_id, alert in zip(ids, alerts, strict=True):
                if alert_id in present or alert_id in seen:
                    continue
                seen.add(alert_id)
                rows.append(
                    (
                        alert_id,
                        alert.get("kibana.alert.rule.rule_id"),
                        alert.get("kibana.alert.rule.name"),
                        _db(_ts(alert.get("@timestamp"))),
                        _db(_ts(alert.get("kibana.alert.original_time"))),
                        alert.get("kibana.alert.severity"),
                        alert.get("kibana.alert.building_block_type") is not None,
                        alert.get("kibana.alert.reason"),
                        json.dumps(alert, default=str),
                    )
                )
            if rows and notify is not None:
                # Same transaction: alerts and their notifications commit together.
                insert_notifications(con, notify([r[0] for r in rows]))
            if rows:
                con.executemany(
                    "INSERT INTO alerts (id, rule_id, rule_name, created_at, original_time, "
                    "severity, building_block, reason, doc, seq) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, nextval('alert_seq')) "
                    "ON CONFLICT DO NOTHING",
                    rows,
                )
        created = tuple(r[0] for r in rows)
        return WriteOutcome(
            created=created, duplicates=tuple(i for i in ids if i not in set(created))
        )

    def suppression_alerts(
        self,
        rule_id: str,
        *,
        started_since: datetime | None = None,
        ended_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT doc FROM alerts WHERE rule_id = ? AND NOT building_block AND "
                "json_extract_string(doc, '$.\"kibana.alert.instance.id\"') IS NOT NULL",
                [rule_id],
            ).fetchall()
        docs = [json.loads(row[0]) for row in rows]
        return select_suppression_alerts(docs, started_since, ended_since)

    def update_alerts(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        if not updates:
            return
        # The fields are absolute (computed from what both executions read): safe to repeat.
        _retrying(lambda: self._update_alerts(updates))
        self._mirror()

    def _update_alerts(self, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        with self._connect() as con, transaction(con):
            for alert_id, fields in updates:
                row = con.execute("SELECT doc FROM alerts WHERE id = ?", [alert_id]).fetchone()
                if row is None:
                    continue
                doc = {**json.loads(row[0]), **fields}
                # A new seq: the alert is copied again to the alerts index.
                con.execute(
                    "UPDATE alerts SET doc = ?, seq = nextval('alert_seq') WHERE id = ?",
                    [json.dumps(doc, default=str), alert_id],
                )

    def load_state(self, rule_id: str) -> RuleState | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT last_start, covered_to, last_status, last_message FROM rule_state "
                "WHERE rule_id = ?",
                [rule_id],
            ).fetchone()
        if row is None:
            return None
        return RuleState(
            rule_id=rule_id,
            last_start=_ts(row[0]),
            covered_to=_ts(row[1]),
            last_status=row[2],
            last_message=row[3] or "",
        )

    def save_state(self, state: RuleState) -> None:
        _retrying(lambda: self._save_state(state))

    def _save_state(self, state: RuleState) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO rule_state VALUES (?, ?, ?, ?, ?)",
                [state.rule_id, _db(state.last_start), _db(state.covered_to), state.last_status,
                 state.last_message],
            )  # fmt: skip

    def record_execution(self, record: ExecutionRecord) -> None:
        self.record_executions([record])

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        if not records:
            return
        with self._connect() as con:
            con.executemany(
                "INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                [
                    [
                        r.execution_id, r.rule_id, r.rule_name, _db(r.started_at),
                        _db(r.ended_at), _db(r.window_start), _db(r.window_end), r.status,
                        r.message, r.search_ms, r.index_ms, r.candidates, r.alerts_created,
                        r.duplicates, r.capped, r.gap_seconds, r.catch_up, r.backend,
                        json.dumps(r.extra),
                    ]
                    for r in records
                ],
            )  # fmt: skip

    def record_gap(self, gap: Gap) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO gaps VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET gap_end = "
                "greatest(gaps.gap_end, excluded.gap_end)",
                [gap.rule_id, _db(gap.start), _db(gap.end)],
            )

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]:
        query = "SELECT rule_id, gap_start, gap_end FROM gaps"
        params: list[Any] = []
        if rule_id is not None:
            query += " WHERE rule_id = ?"
            params.append(rule_id)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY gap_start", params).fetchall()
        return [
            Gap(rule_id=r[0], start=_ts(r[1]) or datetime.min, end=_ts(r[2]) or datetime.min)
            for r in rows
        ]

    def close_gap(self, gap: Gap, covered_to: datetime) -> None:
        with self._connect() as con:
            if covered_to >= gap.end:
                con.execute(
                    "DELETE FROM gaps WHERE rule_id = ? AND gap_start = ?",
                    [gap.rule_id, _db(gap.start)],
                )
            else:
                # Partly filled: the rest stays open, starting where the backfill stopped.
                con.execute(
                    "UPDATE gaps SET gap_start = ? WHERE rule_id = ? AND gap_start = ?",
                    [_db(covered_to), gap.rule_id, _db(gap.start)],
                )

    def list_alerts(
        self,
        *,
        rule_ids: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        query = "SELECT doc FROM alerts WHERE TRUE"
        params: list[Any] = []
        if rule_ids:
            query += " AND rule_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(rule_ids))
        if since is not None:
            query += " AND created_at >= ?"
            params.append(_db(since))
        query += " ORDER BY created_at DESC, seq DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as con:
            rows = con.execute(query, params).fetchall()
        return [json.loads(row[0]) for row in rows]

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        query = "SELECT * FROM executions WHERE TRUE"
        params: list[Any] = []
        if rule_ids:
            query += " AND rule_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(rule_ids))
        query += " ORDER BY started_at DESC, ended_at DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as con:
            cursor = con.execute(query, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        records = []
        for row in rows:
            data = dict(zip(names, row, strict=True))
            for key in ("started_at", "ended_at", "window_start", "window_end"):
                data[key] = _ts(data[key])
            data["extra"] = json.loads(data["extra"]) if data.get("extra") else {}
            records.append(ExecutionRecord(**data))
        return records
