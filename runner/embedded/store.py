"""The embedded store: one DuckDB file, opened only for the length of one operation.

DuckDB lets a single process hold a database file for writing (read-only openers share a lock,
but never with a writer).  A daemon and the interactive commands (``events load``, ``hunt``,
``alerts list``) must share the store, so nothing here keeps the file open: every operation
opens a connection in :meth:`Store.connect`, does its work and closes it.  When another process
holds the file, opening is retried with a short exponential backoff; if it stays busy,
:class:`~runner.errors.StoreBusyError` names the PID that holds it (DuckDB's lock error carries
it).

Opening is cheap: each process keeps one in-memory DuckDB instance (creating one costs ~12 ms,
its built-in extensions load every time) and *attaches* the store file to it for an operation
(~1 ms).  The file stays attached while any operation of the process uses it, and is detached
(checkpointed and unlocked) as soon as the last one ends.

Other parts of the runner (alerts, executions, rule state) keep their own tables in the same
file: they call :func:`register_schema` at import time with idempotent ``CREATE ... IF NOT
EXISTS`` statements, and every store applies the registered schemas on its first connection.
The file records a digest of each schema (and of the SQL macros) it holds in
``runner_schema``: a schema is applied again only when its statements changed, so a process
that only reads (``runner hunt``) reads one small table and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from runner.cleanup import after, run_cleanups
from runner.embedded import sqlfuncs
from runner.embedded.transaction import transaction
from runner.errors import StoreBusyError, StoreError

__all__ = [
    "EVENT_SEQ_INDEX",
    "Store",
    "StoreConfig",
    "database_of",
    "event_key_sql",
    "register_schema",
    "registered_schemas",
]

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


EVENT_SEQ_INDEX = "events_seq"  # ALTER COLUMN TYPE needs it dropped, then made again


def event_key_sql(index: str, doc_id: str) -> str:
    """SQL for an event's ``_key`` from SQL for its ``_index`` and ``_id``."""
    return f"(hash({index}, {doc_id}) >> 1)::BIGINT"


# The event tables; see runner.embedded.fields for why events are stored this way.
#
# * ``_seq``: load order, numbered in row order, indexed: hits are read back by it, which reads
#   only their blocks (a scan filtered on rowid reads most of ``_source``: DuckDB has no other
#   way to fetch given rows).  While a load runs, its rows hold their status there.
# * ``_key``: a hash of ``_index`` and ``_id``, to find duplicates with integer comparisons.
# * ``_source``: the document as loaded, uncompressed: DuckDB decompresses a whole vector (2048
#   documents) to read one zstd-compressed value, which made reading the hits the bulk of a
#   search's time; uncompressed, the store is about the size of the NDJSON.
register_schema(
    "events",
    """CREATE TABLE IF NOT EXISTS events (
        _seq BIGINT NOT NULL,
        _index VARCHAR NOT NULL,
        _id VARCHAR NOT NULL,
        _key BIGINT NOT NULL,
        _ts BIGINT NOT NULL,
        _source VARCHAR USING COMPRESSION uncompressed NOT NULL
    )""",
    # Stores from before ``_key``.
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS _key BIGINT",
    f"UPDATE events SET _key = {event_key_sql('_index', '_id')} WHERE _key IS NULL",
    f"CREATE INDEX IF NOT EXISTS {EVENT_SEQ_INDEX} ON events (_seq)",
    """CREATE TABLE IF NOT EXISTS event_fields (
        field VARCHAR PRIMARY KEY,
        col VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        is_list BOOLEAN NOT NULL,
        ms_col VARCHAR
    )""",
    "ALTER TABLE event_fields ADD COLUMN IF NOT EXISTS ms_col VARCHAR",
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


class _Attached:
    __slots__ = ("alias", "users")

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.users = 0


class _Engine:
    """The process's in-memory DuckDB instance, with the store files attached to it now.

    Only used under ``_OPEN_CLOSE``.
    """

    def __init__(self) -> None:
        self.db: duckdb.DuckDBPyConnection | None = None
        self.pid = 0
        self.attached: dict[str, _Attached] = {}
        self.settings: tuple[str, int | None] | None = None
        self.count = 0

    def _instance(self, path: Path, config: StoreConfig) -> duckdb.DuckDBPyConnection:
        if self.db is None or self.pid != os.getpid():  # a forked child needs its own
            self.db = duckdb.connect(
                ":memory:",
                # Spilled data goes next to the store, as with a file opened directly.
                config={"temp_directory": f"{path}.tmp", "memory_limit": config.memory_limit},
            )
            self.pid = os.getpid()
            self.attached = {}
            self.settings = None
            # Timestamps without a zone are UTC, as in Elasticsearch.
            self.db.execute("SET GLOBAL TimeZone = 'UTC'")
        wanted = (config.memory_limit, config.threads)
        if wanted != self.settings:
            self.db.execute(f"SET GLOBAL memory_limit = {_sql_string(config.memory_limit)}")
            if config.threads:
                self.db.execute(f"SET GLOBAL threads = {int(config.threads)}")
            else:
                self.db.execute("RESET GLOBAL threads")
            self.settings = wanted
        return self.db

    def attach(self, path: Path, config: StoreConfig) -> str:
        """Attach the file (unless attached already) and count one more user; its alias."""
        db = self._instance(path, config)
        key = os.path.realpath(path)
        entry = self.attached.get(key)
        if entry is None:
            self.count += 1
            entry = _Attached(f"store_{self.count}")
            db.execute(f"ATTACH {_sql_string(str(path))} AS {entry.alias}")
            self.attached[key] = entry
        entry.users += 1
        return entry.alias

    def cursor(self, alias: str) -> duckdb.DuckDBPyConnection:
        assert self.db is not None
        con = self.db.cursor()
        try:
            con.execute(f"USE {alias}")
        except BaseException as exc:
            run_cleanups((con.close,), exc)
            raise
        return con

    def release(self, path: Path) -> None:
        """One user less; the last one detaches the file."""
        key = os.path.realpath(path)
        entry = self.attached.get(key)
        if entry is None or self.db is None:
            return
        entry.users -= 1
        if entry.users <= 0:
            self.db.execute(f"DETACH {entry.alias}")  # if this fails, the next release retries
            del self.attached[key]


_ENGINE = _Engine()
_DATABASES: dict[int, str] = {}  # id of an open connection -> the alias of its store


def database_of(con: duckdb.DuckDBPyConnection) -> str:
    """The name the store of a connection from :meth:`Store.connect` is attached under."""
    name = _DATABASES.get(id(con))
    if name is None:
        row = con.execute("SELECT current_database()").fetchone()
        name = str(row[0]) if row else "memory"
    return name


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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

        def forget() -> None:
            self._local.con = None

        with after(forget, lambda: self._close(con)):
            yield con

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside ``BEGIN``/``COMMIT`` (rolled back when the block raises)."""
        with self.connect() as con, transaction(con):
            yield con

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.config.busy_timeout
        delay = 0.02
        while True:
            try:
                with _OPEN_CLOSE:
                    alias = _ENGINE.attach(self.path, self.config)
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
                con = _ENGINE.cursor(alias)
                try:
                    self._prepare(con)
                except BaseException as exc:
                    run_cleanups((con.close,), exc)
                    raise
        except BaseException as exc:
            run_cleanups((self._release,), exc)
            raise
        _DATABASES[id(con)] = alias
        return con

    def _close(self, con: duckdb.DuckDBPyConnection) -> None:
        _DATABASES.pop(id(con), None)
        with _OPEN_CLOSE, after(lambda: _ENGINE.release(self.path)):
            con.close()

    def _release(self) -> None:
        with _OPEN_CLOSE:
            _ENGINE.release(self.path)

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        wanted = [*registered_schemas().items(), (_MACROS, sqlfuncs.MACROS)]
        pending = [(n, s) for n, s in wanted if (n, s) not in self._schemas_applied]
        if not pending:
            return
        stored = _stored_digests(con)
        for name, statements in pending:
            digest = _digest(statements)
            if stored.get(name) != digest:
                if name == _MACROS:
                    sqlfuncs.install(con)
                else:
                    for statement in statements:
                        con.execute(statement)
                con.execute(f"INSERT OR REPLACE INTO {_DIGESTS} VALUES (?, ?)", [name, digest])
            self._schemas_applied.add((name, statements))


_DIGESTS = "runner_schema"
_MACROS = "(macros)"  # not a schema name: register_schema names are identifiers


def _digest(statements: tuple[str, ...]) -> str:
    return hashlib.sha256("\x00".join(statements).encode("utf-8")).hexdigest()


def _stored_digests(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What the file says it holds; an older file (or a new one) holds no digests yet."""
    try:
        rows = con.execute(f"SELECT name, digest FROM {_DIGESTS}").fetchall()
    except duckdb.CatalogException:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {_DIGESTS} "
            "(name VARCHAR PRIMARY KEY, digest VARCHAR NOT NULL)"
        )
        return {}
    return {str(name): str(digest) for name, digest in rows}
