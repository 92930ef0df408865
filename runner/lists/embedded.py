"""Value lists in the embedded DuckDB file: one row per list, one row per value."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from runner.embedded.store import register_schema
from runner.lists.model import ValueList, ValueListInfo

Connect = Callable[[], AbstractContextManager[Any]]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS value_lists (
        id VARCHAR PRIMARY KEY,
        type VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        size BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS value_list_items (
        list_id VARCHAR NOT NULL,
        pos BIGINT NOT NULL,
        value VARCHAR NOT NULL
    )""",
)
register_schema("value_lists", *SCHEMA)


class EmbeddedLists:
    """:class:`~runner.lists.model.ValueListStore` on the embedded store."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def get_list(self, list_id: str) -> ValueList | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT id, type, name, description, size FROM value_lists WHERE id = ?", [list_id]
            ).fetchone()
            if row is None:
                return None
            values = con.execute(
                "SELECT value FROM value_list_items WHERE list_id = ? ORDER BY pos", [list_id]
            ).fetchall()
        return ValueList(info=_info(row), values=tuple(v[0] for v in values))

    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        unique = list(dict.fromkeys(values))
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM value_list_items WHERE list_id = ?", [info.id])
                con.execute(
                    "INSERT OR REPLACE INTO value_lists VALUES (?, ?, ?, ?, ?)",
                    [info.id, info.type, info.name, info.description, len(unique)],
                )
                if unique:
                    con.execute(
                        "INSERT INTO value_list_items SELECT ?, generate_subscripts(v, 1), "
                        "unnest(v) FROM (SELECT ?::VARCHAR[] AS v)",
                        [info.id, unique],
                    )
                con.execute("COMMIT")
            except Exception:
                with contextlib.suppress(Exception):  # the first error wins
                    con.execute("ROLLBACK")
                raise

    def list_lists(self) -> list[ValueListInfo]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT id, type, name, description, size FROM value_lists ORDER BY id"
            ).fetchall()
        return [_info(row) for row in rows]

    def delete_list(self, list_id: str) -> bool:
        with self._connect() as con:
            found = con.execute("SELECT 1 FROM value_lists WHERE id = ?", [list_id]).fetchone()
            con.execute("DELETE FROM value_list_items WHERE list_id = ?", [list_id])
            con.execute("DELETE FROM value_lists WHERE id = ?", [list_id])
        return found is not None


def _info(row: Sequence[Any]) -> ValueListInfo:
    return ValueListInfo(
        id=row[0], type=row[1], name=row[2], description=row[3] or "", size=int(row[4])
    )
