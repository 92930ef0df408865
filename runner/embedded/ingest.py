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
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from runner.embedded.catalog import Catalog
from runner.embedded.coverage import check_sql
from runner.embedded.fields import FieldSpec, field_specs, sql_string
from runner.embedded.inputs import Source, clean_copy, readable_file, source_name
from runner.embedded.shape import Shape, transform_type
from runner.embedded.store import Store
from runner.errors import StoreError

__all__ = ["LoadProblem", "LoadProgress", "LoadSummary", "ProgressCallback", "load_events"]

_MAX_SHAPE_ROUNDS = 50
_SUSPECT_PAGE = 20_000

_STATUS_MESSAGES = {
    1: "invalid JSON",
    2: "not a JSON object",
    4: "hit without an object `_source`",
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


def _csv_scan(path: Path) -> str:
    # One VARCHAR per line: a delimiter and quote that JSON text never contains raw.
    return (
        f"read_csv({sql_string(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = chr(1), quote = '', escape = '', auto_detect = false, strict_mode = false, "
        "max_line_size = 16777216, compression = 'auto')"
    )


def _run_with_progress(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    progress: Callable[[float], None],
    span: tuple[float, float] = (0.0, 0.6),
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
    try:
        return con.execute(sql).fetchone()
    finally:
        stop.set()
        watcher.join()
        con.execute("RESET enable_progress_bar; RESET enable_progress_bar_print")


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

    cleaned: Path | None = None
    try:
        with store.connect() as con:
            catalog = Catalog.load(con)
            shape = catalog.shape
            # Staged outside the transaction: temp rows then get plain, contiguous row ids.
            try:
                _learn_sample(con, path, shape)
                specs = _settle(con, path, shape, index, report)
            except duckdb.InvalidInputException:
                cleaned, early = clean_copy(path)
                path = cleaned
                _learn_sample(con, path, shape)
                specs = _settle(con, path, shape, index, report)
            report(0.6)
            try:
                con.execute("BEGIN TRANSACTION")
                catalog.apply_shape(con, shape)
                result = _insert(
                    con,
                    catalog,
                    specs,
                    name=name,
                    max_problems=max_problems,
                    early=early,
                    report=report,
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.execute("DROP TABLE IF EXISTS _load_rows")
            return result
    except duckdb.Error as exc:
        raise StoreError(f"{name}: loading failed: {exc}") from exc
    finally:
        if cleaned is not None:
            os.unlink(cleaned)


_GOOD = "st = 3 AND ts IS NOT NULL AND idx IS NOT NULL"
_SAMPLE = 2000


def _learn_sample(con: duckdb.DuckDBPyConnection, path: Path, shape: Shape) -> None:
    """Grow the shape from the first documents (the check catches what they miss)."""
    rows = con.execute(f"SELECT line FROM {_csv_scan(path)} LIMIT {_SAMPLE}").fetchall()
    for (line,) in rows:
        try:
            doc = json.loads(line) if line else None
        except ValueError:
            continue
        if isinstance(doc, dict):
            source = doc.get("_source")
            shape.add_document(source if isinstance(source, dict) else doc)


def _settle(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    shape: Shape,
    index: str | None,
    report: Callable[[float], None],
) -> dict[str, FieldSpec]:
    """Build ``_load_rows`` (typed columns ``c0``...) once ``shape`` covers every row.

    Rows the SQL check flags are walked in Python; when that grows the shape, the rows are
    built again with it.
    """
    for _ in range(_MAX_SHAPE_ROUNDS):
        specs = field_specs(shape)
        # Keeping file order costs DuckDB half its speed here; only lines with a problem need
        # their number, so the rows are built in file order again only when some have one.
        con.execute("SET preserve_insertion_order = false")
        try:
            _run_with_progress(con, _rows_sql(path, shape, specs, index), report)
        finally:
            con.execute("RESET preserve_insertion_order")
        cursor = con.execute("SELECT coalesce(hsrc, raw) FROM _load_rows WHERE suspect")
        grew = False
        while not grew:
            page = cursor.fetchmany(_SUSPECT_PAGE)
            if not page:
                break
            for (text,) in page:
                grew = shape.add_document(json.loads(text)) or grew
        if not grew:
            if _has_problems(con):
                _run_with_progress(con, _rows_sql(path, shape, specs, index), report)
            return specs
    raise StoreError("the documents' shape did not settle; please report this input")


def _rows_sql(path: Path, shape: Shape, specs: dict[str, FieldSpec], index: str | None) -> str:
    """One pass over the file: status, hit parts, timestamp, index, id and typed columns.

    Row ``rowid`` of the result is line ``rowid + 1`` (the scan keeps file order).
    """
    # One JSON parse per line for validity; hits are recognised by a substring first; trim()
    # is slow on long text, so only lines that fail the cheap tests pay for it.
    st = (
        "CASE WHEN line IS NULL THEN 0"
        " WHEN json_valid(line) THEN (CASE WHEN left(line, 1) = '{'"
        " OR starts_with(ltrim(line, ' \t\r'), '{') THEN 3 ELSE 2 END)"
        " WHEN trim(line, ' \t\r') = '' THEN 0"
        " ELSE 1 END"
    )
    hit = "json_extract(line, ['$._source', '$._index', '$._id'])"
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
    cols = "".join(f", {spec.sql} AS c{i}" for i, spec in enumerate(specs.values()))
    return f"""
        CREATE OR REPLACE TEMP TABLE _load_rows AS
        SELECT raw, st, hsrc, {ts_sql} AS ts, coalesce(hidx, {explicit}, {data_stream}) AS idx,
               coalesce(hid, md5(coalesce(hsrc, raw))) AS id,
               st = 3 AND coalesce({check_sql(shape, source="coalesce(hsrc, raw)")}, false)
                   AS suspect
               {cols}
        FROM (
            SELECT raw, st, hsrc, hidx, hid,
                   CASE WHEN st = 3 THEN json_transform(coalesce(hsrc, raw), {structure}) END AS d
            FROM (
                SELECT raw,
                       CASE WHEN h[1] IS NOT NULL AND json_type(h[1]) <> 'OBJECT' THEN 4
                            ELSE st END AS st,
                       CASE WHEN json_type(h[1]) = 'OBJECT' THEN h[1]::VARCHAR END AS hsrc,
                       h[2]->>'$' AS hidx,
                       h[3]->>'$' AS hid
                FROM (
                    SELECT line AS raw, st,
                           CASE WHEN st = 3 AND contains(line, '"_source"') THEN {hit} END AS h
                    FROM (SELECT line, {st} AS st FROM {_csv_scan(path)})
                )
            )
        ) AS t
    """


def _insert(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    specs: dict[str, FieldSpec],
    *,
    name: str,
    max_problems: int,
    early: dict[int, str],
    report: Callable[[float], None],
) -> LoadSummary:
    columns = catalog.columns_for(specs)
    targets = "".join(f", {col}" for _, col in columns)
    sources = "".join(f", c{i}" for i in range(len(columns)))
    last = con.execute("SELECT coalesce(max(_seq), 0) FROM events").fetchone()
    seq_base = int(last[0]) if last else 0
    base = _rowid_base(con)
    problems = _problems(con, name, max_problems, early)
    counted = con.execute(f"SELECT count(*) FROM _load_rows WHERE {_GOOD}").fetchone()
    candidates = int(counted[0]) if counted else 0
    # The window that drops repeats inside the input is costly: only pay for it when needed.
    repeats = con.execute(
        f"SELECT count(*) - count(DISTINCT (idx, id)) FROM _load_rows WHERE {_GOOD}"
    ).fetchone()
    first_only = (
        "QUALIFY row_number() OVER (PARTITION BY idx, id ORDER BY r.rowid) = 1"
        if repeats and repeats[0]
        else ""
    )
    con.execute("SET preserve_insertion_order = false")  # _seq carries the order
    inserted_row = _run_with_progress(
        con,
        f"""
        INSERT INTO events (_seq, _index, _id, _ts, _source{targets})
        SELECT {seq_base - base + 1} + r.rowid, idx, id, ts, coalesce(hsrc, raw){sources}
        FROM _load_rows r ANTI JOIN events e ON e._index = r.idx AND e._id = r.id
        WHERE {_GOOD}
        {first_only}
        """,
        report,
        (0.6, 1.0),
    )
    con.execute("RESET preserve_insertion_order")
    inserted = int(inserted_row[0]) if inserted_row else 0
    skipped_row = con.execute(f"SELECT count(*) FROM _load_rows WHERE {_PROBLEM}").fetchone()
    skipped = int(skipped_row[0]) if skipped_row else 0
    return LoadSummary(
        loaded=inserted,
        duplicates=candidates - inserted,
        skipped=skipped,
        problems=tuple(problems),
    )


_PROBLEM = "st IN (1, 2, 4) OR (st = 3 AND (ts IS NULL OR idx IS NULL))"


def _has_problems(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(f"SELECT 1 FROM _load_rows WHERE {_PROBLEM} LIMIT 1").fetchone() is not None


def _rowid_base(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(min(rowid), 0) FROM _load_rows").fetchone()
    return int(row[0]) if row else 0


def _first(sql: str, is_list: bool) -> str:
    return f"({sql})[1]" if is_list else sql


def _problems(
    con: duckdb.DuckDBPyConnection, name: str, limit: int, early: dict[int, str]
) -> list[LoadProblem]:
    base = _rowid_base(con)
    rows = con.execute(
        f"""
        SELECT rowid - {base} + 1 AS ln,
               CASE WHEN st <> 3 THEN st WHEN ts IS NULL THEN 10 ELSE 11 END AS code
        FROM _load_rows
        WHERE {_PROBLEM}
        ORDER BY ln LIMIT {int(limit)}
        """
    ).fetchall()
    out: list[LoadProblem] = []
    for ln, code in rows:
        if code == 10:
            message = "no usable @timestamp (ISO 8601 date or epoch milliseconds)"
        elif code == 11:
            message = (
                "no index: pass --index NAME, or give the document "
                "data_stream.dataset and data_stream.namespace"
            )
        else:
            message = early.get(int(ln), _STATUS_MESSAGES[int(code)])
        out.append(LoadProblem(source=name, line=int(ln), message=message))
    return out
