"""The store's alerts as a source: the documents of Kibana's alerts index.

Rules that correlate alerts (the public "multiple alerts" rules, alerts-on-alerts) search
``.alerts-security.*``.  In Kibana that pattern reaches the alias
``.alerts-security.alerts-default`` and through it the concrete index
``.internal.alerts-security.alerts-default-000001``, whose hits carry that ``_index``
(Kibana's ``getIndexTemplateAndPattern`` in the alerting plugin's
``alerts_service/resource_installer_utils.ts``; ``.siem-signals-default`` is its secondary
alias).  So every alert the embedded store writes is also stored as an event of that index,
searched by the same engine as any other index: EQL, KQL, new_terms, threshold and ES|QL all
read alerts exactly as written (``kibana.alert.*`` flat keys, ancestors, the source fields).

The copy is made after the alerts commit (an update gives the alert a new ``seq``, so it is
copied again).  A copy that failed is made again by the next write: ``alert_index_mark``
records up to which ``seq`` the alerts were copied.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from runner.embedded.store import Store, register_schema

__all__ = ["ALERTS_INDEX", "ALIASES", "AlertIndexMirror"]

ALERTS_INDEX = ".internal.alerts-security.alerts-default-000001"
ALIASES: Mapping[str, str] = {
    ".alerts-security.alerts-default": ALERTS_INDEX,
    ".siem-signals-default": ALERTS_INDEX,
}

register_schema(
    "alert_index",
    """CREATE TABLE IF NOT EXISTS alert_index_mark (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL
    )""",
)


# One copy at a time per store file in this process: two executions writing alerts at once
# would otherwise load the same rows together and conflict.  (Only one process writes a
# DuckDB file at a time.)
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class AlertIndexMirror:
    """Copies the alerts table into ``events`` under :data:`ALERTS_INDEX`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def mirror_pending(self) -> None:
        """Copy every alert written or updated since the last copy.  The mark moves only
        after the copy is stored, so a copy that failed is made again by the next call."""
        with _lock(self._store.path):
            self._mirror_pending()

    def _mirror_pending(self) -> None:
        with self._store.connect() as con:
            mark_row = con.execute("SELECT seq FROM alert_index_mark WHERE id = 1").fetchone()
            mark = int(mark_row[0]) if mark_row else 0
            rows = con.execute(
                "SELECT id, doc, seq FROM alerts WHERE seq > ? ORDER BY seq", [mark]
            ).fetchall()
            if not rows:
                return
            # Updated alerts were copied before: their old copy goes.
            con.execute(
                "DELETE FROM events WHERE _index = ? AND _id IN (SELECT unnest(?::VARCHAR[]))",
                [ALERTS_INDEX, [str(r[0]) for r in rows]],
            )
        self._load([(str(r[0]), str(r[1])) for r in rows])
        with self._store.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO alert_index_mark VALUES (1, ?)", [max(r[2] for r in rows)]
            )

    def _load(self, docs: Sequence[tuple[str, str]]) -> None:
        # The alerts table holds each document as JSON text already: it becomes the hit's
        # `_source` as it is, not decoded and encoded again.
        head = '{"_index": ' + json.dumps(ALERTS_INDEX) + ', "_id": '
        lines = "".join(
            f'{head}{json.dumps(alert_id)}, "_source": {doc}}}\n' for alert_id, doc in docs
        )
        # Imported here: index patterns (read by every search, hunts too) import this module.
        from runner.embedded.ingest import load_events

        load_events(self._store, [io.BytesIO(lines.encode())])
