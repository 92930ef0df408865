"""The embedded store's alerts as documents of Kibana's alerts index (alert_index.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.alerts import build_event_alert
from runner.backends.embedded import EmbeddedBackend
from runner.embedded import ingest
from runner.embedded.alert_index import ALERTS_INDEX
from runner.embedded.indices import index_filter
from runner.embedded.store import Store
from runner.errors import StoreError
from runner.rules.loader import load_rules
from runner.rules.select import resolve_rule
from runner.search import Hit
from tests.conftest import SEED_RULES
from tests.contract.events import process

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _alerts(*ids: str) -> list[dict[str, Any]]:
    rule = resolve_rule(load_rules([SEED_RULES]).rules, "emond_child_process")
    out = []
    for doc_id in ids:
        h = process(doc_id, NOW)
        out.append(
            build_event_alert(
                rule, Hit(index=h["_index"], id=h["_id"], source=h["_source"]), now=NOW
            )
        )
    return out


def _copied(backend: EmbeddedBackend, pattern: str) -> set[str]:
    with backend.store.connect() as con:
        rows = con.execute(f"SELECT _id FROM events WHERE {index_filter([pattern])}").fetchall()
    return {r[0] for r in rows}


def test_patterns_reach_the_alerts_through_kibanas_aliases(tmp_path: Path) -> None:
    backend = EmbeddedBackend(Store(tmp_path / "s.duckdb"))
    alerts = _alerts("e-1", "e-2")
    backend.write_alerts(alerts)
    ids = {a["kibana.alert.uuid"] for a in alerts}
    for pattern in (
        ".alerts-security.*",
        ".alerts-security.alerts-default",
        ".siem-signals-*",
        ".internal.alerts-security.*",
        ALERTS_INDEX,
    ):
        assert _copied(backend, pattern) == ids, pattern
    # Hidden names: a pattern not starting with "." does not reach them.
    for pattern in ("*", "*alerts-security*", "logs-*", ".alerts-security.*,-.alerts-security.*"):
        assert _copied(backend, pattern) & ids == set(), pattern


def test_a_failed_copy_is_made_by_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = EmbeddedBackend(Store(tmp_path / "s.duckdb"))
    first, second = _alerts("e-1"), _alerts("e-2")
    real = ingest.load_events

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk full")

    monkeypatch.setattr(ingest, "load_events", broken)
    with pytest.raises(StoreError, match="disk full"):
        backend.write_alerts(first)
    assert backend.existing_alert_ids([first[0]["kibana.alert.uuid"]])  # the alerts committed
    monkeypatch.setattr(ingest, "load_events", real)
    backend.write_alerts(second)
    wanted = {a["kibana.alert.uuid"] for a in first + second}
    assert _copied(backend, ".alerts-security.*") == wanted


def test_an_updated_alert_is_copied_again(tmp_path: Path) -> None:
    backend = EmbeddedBackend(Store(tmp_path / "s.duckdb"))
    (alert,) = _alerts("e-1")
    backend.write_alerts([alert])
    backend.update_alerts(
        [(alert["kibana.alert.uuid"], {"kibana.alert.workflow_status": "closed"})]
    )
    with backend.store.connect() as con:
        rows = con.execute(
            "SELECT json_extract_string(_source, '$.\"kibana.alert.workflow_status\"') FROM events "
            "WHERE _index = ?",
            [ALERTS_INDEX],
        ).fetchall()
    assert rows == [("closed",)]
