"""The embedded store: one DuckDB file, opened only for the length of one operation.

DuckDB lets a single process hold a database file for writing (read-only openers share a lock,
but never with a writer).  A daemon and the interactive commands (``events load``, ``hunt``,
``alerts list``) must share the store, so nothing here keeps the file open: every operation
opens a connection in :meth:`Store.connect`, does its work and closes it.  When another process
holds the file, opening is retried with a short exponential backoff; if it stays busy,
:class:`~runner.errors.StoreBusyError` names the PID that holds it (DuckDB's lock error carries
it).

Other parts of the runner (alerts, executions, rule state) keep their own tables in the same
file: they call :func:`register_schema` at import time with idempotent ``CREATE ... IF NOT
EXISTS`` statements, and every store applies the registered schemas on its first connection.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from runner.embedded import sqlfuncs
from runner.errors import StoreBusyError, StoreError

__all__ = ["Store", "StoreConfig", "register_schema", "registered_schemas"]

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")

_SCHEMAS: dict[str, tuple[str, ...]] = {}
_SCHEMAS_LOCK = threading.Lock()
# DuckDB raises "Unique file handle conflict" when two threads of one process open or close
# the same file at the same moment; opening and closing are serialised, queries are not.
_OPEN_CLOSE = threading.Lock()


def register_schema(name: str, *statements: str) -> None:
    """Register idempotent DDL (``CREATE TABLE IF NOT EXISTS ...``) applied to every store.

    ``name`` identifies the owner (``"alerts"``, ``"executions"``...); registering the same name
    again replaces its statements.
    """
    with _SCHEMAS_LOCK:
        _SCHEMAS[name] = tuple(statements)


def registered_schemas() -> dict[str, tuple[str, ...]]:
    with _SCHEMAS_LOCK:
        return dict(_SCHEMAS)


# The event tables; see runner.embedded.fields for why events are stored this way.
register_schema(
    "events",
    """CREATE TABLE IF NOT EXISTS events (
        _seq BIGINT NOT NULL,
        _index VARCHAR NOT NULL,
        _id VARCHAR NOT NULL,
        _ts BIGINT NOT NULL,
        _source VARCHAR USING COMPRESSION zstd NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS event_fields (
        field VARCHAR PRIMARY KEY,
        col VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        is_list BOOLEAN NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS event_shape (
        id INTEGER PRIMARY KEY,
        shape VARCHAR NOT NULL
    )""",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreConfig:
    """How long to wait for a busy file, and DuckDB's resource limits."""

    busy_timeout: float = 5.0
    memory_limit: str = "1GB"
    threads: int | None = None


class Store:
    """A DuckDB file holding events (and the tables other modules register).

    Construction does no I/O; :meth:`connect` opens the file for one operation.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        config: StoreConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.config = config or StoreConfig()
        self._sleep = sleep
        self._local = threading.local()
        self._schemas_applied: set[tuple[str, tuple[str, ...]]] = set()
        self._macros_installed = False

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation; re-entrant within a thread (nested uses share it)."""
        current: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if current is not None:
            yield current
            return
        con = self._open()
        self._local.con = con
        try:
            yield con
        finally:
            self._local.con = None
            with _OPEN_CLOSE:
                con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside ``BEGIN``/``COMMIT`` (rolled back when the block raises)."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        settings: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": self.config.memory_limit
        }
        if self.config.threads:
            settings["threads"] = self.config.threads
        deadline = time.monotonic() + self.config.busy_timeout
        delay = 0.02
        while True:
            try:
                with _OPEN_CLOSE:
                    con = duckdb.connect(str(self.path), config=settings)
                break
            except duckdb.IOException as exc:
                holder = _LOCK_HOLDER.search(str(exc))
                if holder is None:
                    raise StoreError(f"cannot open store {self.path}: {exc}") from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreBusyError(
                        f"store {self.path} is busy: process {holder['pid']} "
                        f"({holder['exe']}) holds it; retry when it is done"
                    ) from exc
                self._sleep(min(delay, remaining))
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        try:
            with _OPEN_CLOSE:  # concurrent CREATE IF NOT EXISTS conflict in the catalog too
                self._prepare(con)
        except BaseException:
            con.close()
            raise
        return con

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        # Timestamps without a zone are UTC, as in Elasticsearch.
        con.execute("SET TimeZone = 'UTC'")
        for name, statements in registered_schemas().items():
            key = (name, statements)
            if key in self._schemas_applied:
                continue
            for statement in statements:
                con.execute(statement)
            self._schemas_applied.add(key)
        if not self._macros_installed:
            sqlfuncs.install(con)
            self._macros_installed = True
