"""Loading NDJSON events into the store (the library behind ``runner events load``).

Each input (a path, ``-`` for stdin, or a binary stream; ``.gz`` is decompressed) is read by
DuckDB's own CSV reader as one text line per row, so JSON is parsed in native code and in
parallel; Python only touches the few rows the coverage check flags (:mod:`.coverage`).  Inputs
DuckDB cannot read as UTF-8 text take a slower path that cleans them line by line first.

A line is a bare document or an Elasticsearch hit (``{"_index", "_id", "_source"}``).  A bare
document's index is the ``index`` argument, else ``logs-{data_stream.dataset}-{namespace}``;
its id is the MD5 of its text, so loading a file twice stores each event once (hits keep their
``_id``; the pair ``_index``/``_id`` is unique).  Bad lines are reported with their number and
skipped; the rest loads.

How a load runs: in one transaction, every non-blank line is parsed and inserted into ``events``
in a single parallel pass, with a status in ``_seq`` (0 for a clean row, a negative code for the
others, see ``_FLAG_*``; stored events have ``_seq >= 1``).  The exceptions are then settled on
the few rows they concern: lines with a problem are noted and deleted, duplicates deleted, and
rows the coverage check flagged are walked in Python; when they grow the shape, the columns are
widened and those rows derived again from their stored text.  After the commit, a second short
transaction numbers the new rows (``_seq``, in row order) and rebuilds the index on ``_seq``:
updating freshly inserted rows inside the first transaction would rewrite them all at commit.
A load interrupted between the two leaves rows with ``_seq`` 0; the next load numbers them.

The main pass runs with ``preserve_insertion_order`` off (a DuckDB-wide setting: keeping the
file's order costs a sixth of the load's time): rows are stored in the order DuckDB's threads
parse them, which is the load order (it only breaks timestamp ties).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from runner.cleanup import after
from runner.embedded.catalog import Catalog
from runner.embedded.coverage import check_sql
from runner.embedded.fields import field_specs, sql_string
from runner.embedded.inputs import Source, clean_copy, readable_file, source_name
from runner.embedded.shape import Shape, join_path, transform_type
from runner.embedded.store import EVENT_SEQ_INDEX, Store, event_key_sql
from runner.embedded.transaction import transaction
from runner.errors import StoreError

__all__ = ["LoadProblem", "LoadProgress", "LoadSummary", "ProgressCallback", "load_events"]

_MAX_SHAPE_ROUNDS = 50
_SUSPECT_PAGE = 20_000
_SAMPLE = 2000

# Row status while a load runs, kept in ``_seq`` (stored rows are numbered from 1).
_FLAG_CLEAN = 0
_FLAG_INVALID_JSON = -1
_FLAG_NOT_OBJECT = -2
_FLAG_BAD_HIT = -4
_FLAG_NO_TIMESTAMP = -10
_FLAG_NO_INDEX = -11
_FLAG_TOO_DEEP = -12
_FLAG_SUSPECT = -20
_FLAG_DUPLICATE = -30
_PROBLEM_FLAGS = (
    _FLAG_INVALID_JSON,
    _FLAG_NOT_OBJECT,
    _FLAG_BAD_HIT,
    _FLAG_NO_TIMESTAMP,
    _FLAG_NO_INDEX,
    _FLAG_TOO_DEEP,
)

_MESSAGES = {
    _FLAG_INVALID_JSON: "invalid JSON",
    _FLAG_NOT_OBJECT: "not a JSON object",
    _FLAG_BAD_HIT: "hit without an object `_source`",
    _FLAG_NO_TIMESTAMP: "no usable @timestamp (ISO 8601 date or epoch milliseconds)",
    _FLAG_NO_INDEX: (
        "no index: pass --index NAME, or give the document "
        "data_stream.dataset and data_stream.namespace"
    ),
    _FLAG_TOO_DEEP: "nested too deeply (arrays or objects inside each other, ~1000 levels)",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadProblem:
    """One skipped line."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadSummary:
    """What a load did; ``problems`` holds at most ``max_problems`` of the ``skipped`` lines."""

    loaded: int = 0
    duplicates: int = 0
    skipped: int = 0
    problems: tuple[LoadProblem, ...] = ()

    def __add__(self, other: LoadSummary) -> LoadSummary:
        return LoadSummary(
            loaded=self.loaded + other.loaded,
            duplicates=self.duplicates + other.duplicates,
            skipped=self.skipped + other.skipped,
            problems=self.problems + other.problems,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadProgress:
    """Progress of one input: ``fraction`` in [0, 1]; ``done`` once it is fully stored."""

    source: str
    fraction: float
    done: bool = False


ProgressCallback = Callable[[LoadProgress], None]


def load_events(
    store: Store,
    sources: Sequence[Source],
    *,
    index: str | None = None,
    progress: ProgressCallback | None = None,
    max_problems: int = 1000,
) -> LoadSummary:
    """Load NDJSON inputs (paths, ``"-"`` for stdin, or binary streams) into ``store``."""
    summary = LoadSummary()
    for source in sources:
        name = source_name(source)
        room = max(max_problems - len(summary.problems), 0)
        with readable_file(source) as (path, early_problems):
            part = _load_file(
                store,
                path=path,
                name=name,
                index=index,
                progress=progress,
                max_problems=room,
                early=early_problems,
            )
        summary = summary + part
        if progress is not None:
            progress(LoadProgress(source=name, fraction=1.0, done=True))
    return summary


# ---------------------------------------------------------------------------------------------


def lines_scan(path: Path) -> str:
    """SQL reading ``path`` (plain or compressed) as one VARCHAR ``line`` per line."""
    # One VARCHAR per line: a delimiter and quote that JSON text never contains raw.  Lines may
    # be long (max_line_size); an explicit buffer size keeps the reader parallel with that.
    return (
        f"read_csv({sql_string(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = chr(1), quote = '', escape = '', auto_detect = false, strict_mode = false, "
        "max_line_size = 16777216, buffer_size = 33554432, compression = 'auto')"
    )


def _run_with_progress(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    progress: Callable[[float], None],
    span: tuple[float, float] = (0.0, 0.9),
) -> tuple[Any, ...] | None:
    """Run one statement, reporting DuckDB's own progress mapped onto ``span``."""
    stop = threading.Event()
    low, high = span

    def poll() -> None:
        last = -1.0
        while not stop.wait(0.2):
            try:
                value = float(con.query_progress())
            except duckdb.Error:
                return
            if value > last:
                last = value
                progress(low + (high - low) * min(value / 100.0, 1.0))

    # DuckDB tracks progress only with its bar on; never let it print one itself.
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    with after(
        stop.set,
        watcher.join,
        lambda: con.execute("RESET enable_progress_bar; RESET enable_progress_bar_print"),
    ):
        return con.execute(sql).fetchone()


def _load_file(
    store: Store,
    *,
    path: Path,
    name: str,
    index: str | None,
    progress: ProgressCallback | None,
    max_problems: int,
    early: dict[int, str],
) -> LoadSummary:
    def report(fraction: float) -> None:
        if progress is not None:
            progress(LoadProgress(source=name, fraction=fraction))

    cleaned: list[Path] = []

    def remove_cleaned() -> None:
        for copy in cleaned:
            os.unlink(copy)

    with after(remove_cleaned):
        try:
            with store.connect() as con:
                try:
                    return _load_once(con, path, name, index, report, max_problems, early)
                except duckdb.InvalidInputException:
                    # Text DuckDB's reader rejects (not UTF-8, NUL bytes): clean it, then again.
                    copy, early = clean_copy(path)
                    cleaned.append(copy)
                    return _load_once(con, copy, name, index, report, max_problems, early)
        except duckdb.Error as exc:
            raise StoreError(f"{name}: loading failed: {exc}") from exc


def _load_once(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    index: str | None,
    report: Callable[[float], None],
    max_problems: int,
    early: dict[int, str],
) -> LoadSummary:
    _number_rows(con)  # rows an interrupted load left unnumbered
    catalog = Catalog.load(con)
    shape = catalog.shape
    dates = _DateFields()
    _learn_sample(con, path, shape, dates)
    with after(lambda: con.execute("DROP TABLE IF EXISTS _load_problems")), transaction(con):
        load = _Load(con, catalog, shape, path=path, index=index, report=report, dates=dates)
        result = load.run(name=name, max_problems=max_problems, early=early)
    _number_rows(con)
    report(1.0)
    return result


def _number_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Number the rows of committed loads that have no ``_seq`` yet, in row order."""
    row = con.execute(f"SELECT min(rowid) FROM events WHERE _seq = {_FLAG_CLEAN}").fetchone()
    if row and row[0] is not None:
        _number_from(con, int(row[0]))
    con.execute(f"CREATE INDEX IF NOT EXISTS {EVENT_SEQ_INDEX} ON events (_seq)")


def _number_from(con: duckdb.DuckDBPyConnection, first: int) -> None:
    base = _scalar(con, "SELECT max(_seq) FROM events")
    with transaction(con):
        # An UPDATE of an indexed column rewrites whole rows: index dropped, then made again
        # (DuckDB makes no index in the transaction that updated the table).
        con.execute(f"DROP INDEX IF EXISTS {EVENT_SEQ_INDEX}")
        con.execute(
            f"UPDATE events SET _seq = {base + 1} + (rowid - {first}) WHERE _seq = {_FLAG_CLEAN}"
        )


def _learn_sample(
    con: duckdb.DuckDBPyConnection, path: Path, shape: Shape, dates: _DateFields
) -> None:
    """Grow the shape from the first documents (the check catches what they miss)."""
    rows = con.execute(f"SELECT line FROM {lines_scan(path)} LIMIT {_SAMPLE}").fetchall()
    for (line,) in rows:
        try:
            doc = json.loads(line) if line else None
        except (ValueError, RecursionError):
            continue  # the main pass reports it
        if isinstance(doc, dict):
            source = doc.get("_source")
            document = source if isinstance(source, dict) else doc
            shape.add_document(document)
            dates.add(document)


_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class _DateFields:
    """Fields whose every value seen is an ISO date-time string (``@timestamp`` has ``_ts``)."""

    def __init__(self) -> None:
        self.seen: dict[str, bool] = {}

    def add(self, value: Any, path: str = "") -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key:
                    self.add(child, join_path(path, key))
        elif isinstance(value, list):
            for item in value:
                self.add(item, path)
        elif value is not None:
            looks = isinstance(value, str) and _ISO_DATE_TIME.match(value) is not None
            self.seen[path] = self.seen.get(path, True) and looks

    def names(self) -> set[str]:
        return {name for name, dated in self.seen.items() if dated and name != "@timestamp"}


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


class _Load:
    """One input's load inside the open transaction (see the module docstring)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        shape: Shape,
        *,
        path: Path,
        index: str | None,
        report: Callable[[float], None],
        dates: _DateFields,
    ) -> None:
        self.con = con
        self.catalog = catalog
        self.shape = shape
        self.dates = dates
        self.path = path
        self.index = index
        self.report = report
        self.duplicates = 0
        self.problem_rows = 0
        self.dedupe = False

    def run(self, *, name: str, max_problems: int, early: dict[int, str]) -> LoadSummary:
        con = self.con
        # Duplicates of stored events are looked up only when there are some.
        self.dedupe = con.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None
        # Rows of this load are numbered after the commit; the index is made again then.
        con.execute(f"DROP INDEX IF EXISTS {EVENT_SEQ_INDEX}")
        self.catalog.apply_shape(con, self.shape, self.dates.names())
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _load_problems (flag INTEGER, text VARCHAR, n BIGINT)"
        )
        con.execute("SET preserve_insertion_order = false")
        with after(lambda: con.execute("RESET preserve_insertion_order")):
            _run_with_progress(con, self._insert_sql(self._from_file(), check=True), self.report)
            self._settle_flags()
            self._settle_suspects()
            self._drop_repeats()
        loaded = _scalar(con, f"SELECT count(*) FROM events WHERE _seq = {_FLAG_CLEAN}")
        problems = self._problems(name, max_problems, early) if self.problem_rows else []
        return LoadSummary(
            loaded=loaded,
            duplicates=self.duplicates,
            skipped=self.problem_rows,
            problems=tuple(problems),
        )

    # -- the rows' SQL -------------------------------------------------------------------------
    def _from_file(self, numbered: bool = False) -> str:
        """(line, src, st, hidx, hid) per non-blank line of the input (``ln`` first if numbered).

        ``src`` is the document text (a hit's ``_source``); ``st`` 3 when it may be an object,
        2 when it cannot be one, 4 for a hit whose ``_source`` is no object (for 3 and 2, the
        parse then tells invalid JSON, 1, apart); ``hidx``/``hid`` a hit's index and id.
        """
        scan = lines_scan(self.path)
        # Plain SELECTs: a bare table function in parentheses is a syntax error in most DuckDB
        # releases (only 2.0.0 took it).
        columns = "row_number() OVER () AS ln, line" if numbered else "line"
        lines = f"SELECT {columns} FROM {scan}"
        hit = "try(json_extract(line, ['$._source', '$._index', '$._id']))"
        return f"""
            SELECT * EXCLUDE (h, hsrc), coalesce(hsrc, line) AS src,
                   CASE WHEN h[1] IS NOT NULL AND hsrc IS NULL THEN 4
                        WHEN hsrc IS NOT NULL OR left(line, 1) = '{{'
                             OR starts_with(ltrim(line, ' \t\r'), '{{') THEN 3
                        ELSE 2 END AS st,
                   h[2]->>'$' AS hidx, h[3]->>'$' AS hid
            FROM (
                SELECT *, CASE WHEN json_type(h[1]) = 'OBJECT' THEN h[1]::VARCHAR END AS hsrc
                FROM (
                    SELECT *, CASE WHEN contains(line, '_source"') THEN {hit} END AS h
                    FROM ({lines})
                    WHERE line IS NOT NULL AND (left(line, 1) = '{{' OR trim(line, ' \t\r') <> '')
                )
            )
        """

    @staticmethod
    def _from_suspects(last_rowid: int) -> str:
        """The same columns for the flagged rows stored so far (their text is the document)."""
        return f"""
            SELECT _source AS line, _source AS src, 3 AS st, nullif(_index, '') AS hidx,
                   _id AS hid
            FROM events WHERE _seq = {_FLAG_SUSPECT} AND rowid <= {last_rowid}
        """

    def _rows_sql(self, rows: str, *, check: bool, dedupe: bool) -> str:
        """``rows`` parsed: their status ``flag``, index, id, timestamp and parsed ``d``."""
        shape, index = self.shape, self.index
        specs = field_specs(shape)
        structure = sql_string(json.dumps(transform_type(shape), separators=(",", ":")))
        ts_spec = specs.get("@timestamp")
        ts_sql = (
            "NULL::BIGINT"
            if ts_spec is None
            else f"es_date_ms(CAST({_first(ts_spec.sql, ts_spec.is_list)} AS VARCHAR))"
        )
        ds, ns = specs.get("data_stream.dataset"), specs.get("data_stream.namespace")
        data_stream = (
            "NULL::VARCHAR"
            if ds is None or ns is None
            else f"'logs-' || CAST({_first(ds.sql, ds.is_list)} AS VARCHAR) || '-' || "
            f"CAST({_first(ns.sql, ns.is_list)} AS VARCHAR)"
        )
        explicit = "NULL::VARCHAR" if index is None else sql_string(index)
        suspect = f"coalesce({check_sql(shape, source='src')}, false)" if check else "false"
        dup_join = (
            "LEFT JOIN (SELECT _key AS e_key, _index AS e_idx, _id AS e_id FROM events "
            "WHERE _seq > 0) AS e ON e.e_key = t.key AND e.e_idx = t.idx AND e.e_id = t.id"
            if dedupe
            else ""
        )
        dup = "e.e_id IS NOT NULL" if dedupe else "false"
        flag = (
            f"CASE WHEN st <> 3 THEN -st WHEN suspect THEN {_FLAG_SUSPECT} "
            f"WHEN ts IS NULL THEN {_FLAG_NO_TIMESTAMP} WHEN idx IS NULL THEN {_FLAG_NO_INDEX} "
            f"WHEN {dup} THEN {_FLAG_DUPLICATE} ELSE {_FLAG_CLEAN} END"
        )
        key = event_key_sql("idx", "id")
        return f"""
            SELECT t.*, {flag} AS flag
            FROM (
                SELECT *, {key} AS key FROM (
                SELECT * REPLACE (
                           CASE WHEN (st = 3 AND d IS NULL) OR st = 2
                                THEN (CASE WHEN json_valid(src) THEN 2 ELSE 1 END)
                                ELSE st END AS st),
                       {ts_sql} AS ts,
                       coalesce(hidx, {explicit}, {data_stream}) AS idx,
                       coalesce(hid, md5(src)) AS id,
                       st = 3 AND d IS NOT NULL AND {suspect} AS suspect
                FROM (
                    SELECT *, CASE WHEN st = 3 THEN try(json_transform(src, {structure})) END AS d
                    FROM ({rows})
                )
            )) AS t {dup_join}
        """

    def _insert_sql(self, rows: str, *, check: bool) -> str:
        """INSERT every row of ``rows`` with its status in ``_seq`` and its typed columns."""
        specs = field_specs(self.shape)
        explicit = "NULL::VARCHAR" if self.index is None else sql_string(self.index)
        columns = self.catalog.columns_for(specs)
        targets = "".join(f", {col}" for col, _ in columns)
        values = "".join(f", {value}" for _, value in columns)
        problem = ", ".join(str(f) for f in _PROBLEM_FLAGS)
        parsed = self._rows_sql(rows, check=check, dedupe=self.dedupe)
        if self.dedupe:
            # Duplicates are deleted before commit: no need to compute their columns.
            parsed = (
                f"SELECT * REPLACE (CASE WHEN flag <> {_FLAG_DUPLICATE} THEN d END AS d) "
                f"FROM ({parsed})"
            )
        return f"""
            INSERT INTO events (_seq, _index, _id, _key, _ts, _source{targets})
            SELECT flag,
                   CASE WHEN flag = {_FLAG_SUSPECT} THEN coalesce(hidx, {explicit}, '')
                        ELSE coalesce(idx, '') END,
                   coalesce(id, ''), coalesce(key, 0), coalesce(ts, 0),
                   CASE WHEN flag IN ({problem}) THEN line
                        WHEN flag = {_FLAG_DUPLICATE} THEN '' ELSE src END
                   {values}
            FROM ({parsed})
        """

    # -- settling the exceptions ---------------------------------------------------------------
    def _settle_flags(self) -> None:
        """Note problem lines, count duplicates of stored events; delete both kinds of rows."""
        con = self.con
        problem = ", ".join(str(f) for f in _PROBLEM_FLAGS)
        counted = con.execute(
            f"SELECT _seq, count(*) FROM events WHERE _seq IN ({problem}, {_FLAG_DUPLICATE}) "
            "GROUP BY _seq"
        ).fetchall()
        if not counted:
            return
        for flag, count in counted:
            if int(flag) == _FLAG_DUPLICATE:
                self.duplicates += int(count)
            else:
                self.problem_rows += int(count)
        con.execute(
            "INSERT INTO _load_problems "
            f"SELECT _seq, _source, count(*) FROM events WHERE _seq IN ({problem}) GROUP BY ALL"
        )
        con.execute(f"DELETE FROM events WHERE _seq IN ({problem}, {_FLAG_DUPLICATE})")

    def _settle_suspects(self) -> None:
        """Walk the flagged rows in Python; when they grow the shape, derive them again."""
        con = self.con
        for _ in range(_MAX_SHAPE_ROUNDS):
            flagged = con.execute(
                f"SELECT count(*), max(rowid) FROM events WHERE _seq = {_FLAG_SUSPECT}"
            ).fetchone()
            if not flagged or not flagged[0]:
                return
            last = int(flagged[1])
            grew = self._walk_suspects()
            if grew:
                self.catalog.apply_shape(con, self.shape, self.dates.names())
            # Derived again with the grown shape (checked again), or for good when it did not
            # grow: the check only flags rows that might hold something new.
            con.execute(self._insert_sql(self._from_suspects(last), check=grew))
            con.execute(f"DELETE FROM events WHERE _seq = {_FLAG_SUSPECT} AND rowid <= {last}")
            self._settle_flags()
            if not grew:
                return
        raise StoreError("the documents' shape did not settle; please report this input")

    def _walk_suspects(self) -> bool:
        cursor = self.con.execute(f"SELECT rowid, _source FROM events WHERE _seq = {_FLAG_SUSPECT}")
        grew = False
        too_deep: list[int] = []
        while not grew:
            page = cursor.fetchmany(_SUSPECT_PAGE)
            if not page:
                break
            for rowid, text in page:
                # DuckDB parses any depth; Python's parser (and the shape walk) recurse, so a
                # line nested past the interpreter's limit is a problem line, not a crash.
                try:
                    document = json.loads(text)
                    grew = self.shape.add_document(document) or grew
                    self.dates.add(document)
                except RecursionError:
                    too_deep.append(int(rowid))
        if too_deep:
            listed = ", ".join(str(rowid) for rowid in too_deep)
            self.con.execute(f"UPDATE events SET _seq = {_FLAG_TOO_DEEP} WHERE rowid IN ({listed})")
        return grew

    def _drop_repeats(self) -> None:
        """Events repeated inside the input: the first one stays."""
        con = self.con
        clean = f"_seq = {_FLAG_CLEAN}"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _load_repeats AS
            SELECT _index AS idx, _id AS id, min(rowid) AS keep FROM events
            WHERE {clean} AND _key IN (
                SELECT _key FROM events WHERE {clean} GROUP BY _key HAVING count(*) > 1
            )
            GROUP BY ALL HAVING count(*) > 1
            """
        )
        with after(lambda: con.execute("DROP TABLE _load_repeats")):
            if con.execute("SELECT 1 FROM _load_repeats LIMIT 1").fetchone():
                dropped = con.execute(
                    f"""
                    DELETE FROM events USING _load_repeats r
                    WHERE events._seq = {_FLAG_CLEAN} AND events._index = r.idx
                          AND events._id = r.id AND events.rowid <> r.keep
                    """
                ).fetchone()
                self.duplicates += int(dropped[0]) if dropped else 0

    # -- problem lines -----------------------------------------------------------------------
    def _problems(self, name: str, limit: int, early: dict[int, str]) -> list[LoadProblem]:
        """The problem lines by number: found by their text, or by a second ordered pass."""
        con = self.con
        con.execute("SET preserve_insertion_order = true")
        with after(lambda: con.execute("RESET preserve_insertion_order")):
            numbered = f"SELECT row_number() OVER () AS ln, line FROM {lines_scan(self.path)}"
            rows = con.execute(
                f"""
                SELECT ln, flag FROM ({numbered}) AS l JOIN _load_problems p ON l.line = p.text
                ORDER BY ln
                """
            ).fetchall()
            if len(rows) != self.problem_rows:
                # A problem row stored without its line's text (a hit derived again).
                rows = self._problems_by_status()
        out: list[LoadProblem] = []
        for ln, flag in rows[: max(limit, 0)]:
            message = early.get(int(ln), _MESSAGES[int(flag)])
            out.append(LoadProblem(source=name, line=int(ln), message=message))
        return out

    def _problems_by_status(self) -> list[tuple[Any, ...]]:
        """Every line's status computed again with the settled shape, in file order."""
        problem = ", ".join(str(f) for f in _PROBLEM_FLAGS)
        parsed = self._rows_sql(self._from_file(numbered=True), check=False, dedupe=False)
        return self.con.execute(
            f"SELECT ln, flag FROM ({parsed}) WHERE flag IN ({problem}) ORDER BY ln"
        ).fetchall()


def _first(sql: str, is_list: bool) -> str:
    return f"({sql})[1]" if is_list else sql
