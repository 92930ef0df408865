#!/usr/bin/env python3
"""How fast can DuckDB itself ingest these events on this machine?  The load rate's ceiling.

    scripts/bench_ingest_floor.py [NDJSON] [--events N] [--keep DIR] [--runner] [--rules DIR]

Times DuckDB alone (no runner code) on the same NDJSON ``runner events load`` reads, each step
one SQL statement over all the lines, with DuckDB's own parallel CSV reader and JSON functions:

* ``read lines``: split the file into lines (what every loader must do);
* ``parse every field``: parse each line once and extract every field the sample has, as text;
* ``store documents``: write the raw lines into a fresh DuckDB file, uncompressed, as the
  store keeps ``_source`` (nothing parsed);
* ``store fields``: write every field as a plain VARCHAR column (no documents, no types, ids,
  checks or dedupe);
* ``store documents + fields``: both, the least a store that returns the original documents and
  queries any field by column must write;
* ``add one field later``: in the documents-only table, add a column and fill it with one field
  from every stored document: what a store that loads documents only and materialises a
  field's column when a query first needs it pays once per field (``process.name`` when the
  sample has it).

* ``lazy design: documents + load checks``: what a store with lazily materialised columns
  writes at load, with every check the loader makes on each line: ``_source`` (a hit's own),
  ``_index`` and ``_id`` (a hit's, else ``logs-{dataset}-{namespace}`` and the MD5 of the
  text), ``_key``, ``_ts`` (``@timestamp`` as Elasticsearch reads a date, runner's own SQL
  macro) and a status per line (invalid JSON or not an object, no timestamp, no index);
* ``lazy design + rules' fields``: the same plus a VARCHAR column for each field the rules
  (``--rules``, default the seed rules) name, filled at load so that a rule's first search
  materialises nothing.

The "documents + fields" figure is the ceiling of a column-per-field loader on DuckDB here:
runner's loader does all of it plus typed and list columns, date columns, ids, duplicate and
bad-line checks.  With
``--runner`` it also loads the file with :func:`runner.embedded.load_events` for comparison.
Without NDJSON, ``--events`` (default 1,000,000) events are generated as bench_engine.py does.
Figures are printed one per line; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "scripts"):  # runner, and bench_engine beside this script
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_engine import (  # noqa: E402
    NOW,
    TARGET_LOAD_RATE,
    TARGET_PEAK_RSS_KIB,
    TRUE_POSITIVE_RATIO,
    gb,
    rate,
    runner_command,
)

from runner.demo import EventSet, GeneratorConfig  # noqa: E402 - after the path set-up
from runner.embedded.fields import quote_ident, sql_string  # noqa: E402
from runner.embedded.ingest import lines_scan  # noqa: E402
from runner.embedded.sqlfuncs import install as install_macros  # noqa: E402
from runner.eql import ast as eql_ast  # noqa: E402
from runner.eql import parse_eql  # noqa: E402
from runner.kql import parse_kql  # noqa: E402
from runner.kql.fields import query_fields  # noqa: E402
from runner.resources import seed_rules_dir  # noqa: E402
from runner.rules.loader import load_rules  # noqa: E402

_SAMPLE_LINES = 2000


def field_paths(path: Path, sample: int = _SAMPLE_LINES) -> list[tuple[str, ...]]:
    """Every leaf field (object keys, arrays kept whole) of the first ``sample`` documents."""
    found: dict[tuple[str, ...], None] = {}

    def walk(value: Any, prefix: tuple[str, ...]) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*prefix, str(key)))
        elif prefix:
            found.setdefault(prefix, None)

    with path.open("rb") as fh:
        for number, raw in enumerate(fh):
            if number >= sample:
                break
            try:
                document = json.loads(raw)
            except ValueError:
                continue
            if isinstance(document, dict):
                walk(document.get("_source", document), ())
    return list(found)


def rule_fields(rules_dir: Path) -> list[str]:
    """Every field the EQL and KQL rules in ``rules_dir`` name (sequence keys included), and
    ``event.category`` (EQL's event category field)."""
    found: dict[str, None] = {"event.category": None}

    def walk(node: object) -> None:
        if isinstance(node, eql_ast.Field):
            found.setdefault(node.name, None)
        elif isinstance(node, tuple | list):
            for item in node:
                walk(item)
        elif hasattr(node, "__dataclass_fields__"):
            for name in node.__dataclass_fields__:
                walk(getattr(node, name))

    for rule in load_rules([rules_dir]).rules:
        if rule.language == "eql":
            walk(parse_eql(rule.query).body)
        elif rule.language == "kuery" and rule.query:
            for name in query_fields(parse_kql(rule.query)):
                found.setdefault(name, None)
    # A wildcard name (`file.hash.*`) is a pattern over fields, not one column to fill (and
    # DuckDB before 1.4 reads its `*` as a JSON path wildcard even quoted).
    return [name for name in found if "*" not in name]


def lazy_insert_sql(lines: str, fields: Sequence[str]) -> str:
    """The lazy design's load statement: documents, ids, timestamps and a status per line."""
    picks = "".join(f", f[{i + 1}]" for i in range(len(fields)))
    paths = ", ".join(json_path(tuple(name.split("."))) for name in fields)
    extract = f", json_extract_string(src, [{paths}]) AS f" if fields else ""
    # try(): a line that is not JSON gives NULL instead of failing the statement.
    head = "['$.\"@timestamp\"', '$.data_stream.dataset', '$.data_stream.namespace']"
    return f"""
        SELECT CASE WHEN h IS NULL OR NOT starts_object THEN -1
                    WHEN ts IS NULL THEN -10 WHEN idx IS NULL THEN -11 ELSE 0 END,
               coalesce(idx, ''), id, (hash(coalesce(idx, ''), id) >> 1)::BIGINT,
               coalesce(ts, 0), src{picks}
        FROM (
            SELECT *, es_date_ms(h[1]) AS ts,
                   coalesce(hit[1], 'logs-' || h[2] || '-' || h[3]) AS idx,
                   coalesce(hit[2], md5(src)) AS id{extract}
            FROM (
                SELECT *, try(json_extract_string(src, {head})) AS h
                FROM (
                    SELECT line, coalesce(hit_src, line) AS src, hit,
                           CASE WHEN left(line, 1) = '{{' THEN true
                                ELSE starts_with(ltrim(line, ' \t\r'), '{{') END AS starts_object
                    FROM (
                        SELECT line,
                               CASE WHEN contains(line, '_source"')
                                    THEN try(line->>'$._source') END AS hit_src,
                               CASE WHEN contains(line, '_source"')
                                    THEN try(json_extract_string(line, ['$._index', '$._id']))
                               END AS hit
                        FROM {lines}
                        WHERE line IS NOT NULL
                              AND (left(line, 1) = '{{' OR trim(line, ' \t\r') <> '')
                    )
                )
            )
        )
    """


def json_path(parts: tuple[str, ...]) -> str:
    return sql_string("$." + ".".join(json.dumps(p) for p in parts))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    label: str, count: int, step: Callable[[], object], out: Callable[[str], None]
) -> float:
    cpu, start = cpu_seconds(), time.perf_counter()
    step()
    wall = time.perf_counter() - start
    out(
        f"{label}: {wall:.2f} s ({cpu_seconds() - cpu:.1f} CPU-s) = {rate(count, wall)}"
        f"{'' if count / wall >= TARGET_LOAD_RATE else ' (below 250k events/s)'}"
    )
    return wall


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def floors(
    path: Path, workdir: Path, out: Callable[[str], None], rules_dir: Path | None = None
) -> dict[str, float]:
    """Time each DuckDB step over ``path``; the seconds of each, by label."""
    con = duckdb.connect()
    install_macros(con, temporary=True)
    con.execute("SET preserve_insertion_order = false")  # as runner's loader runs
    lines = lines_scan(path)
    row = con.execute(f"SELECT count(*) FROM {lines} WHERE line <> ''").fetchone()
    count = int(row[0]) if row else 0
    paths = field_paths(path)
    out(f"input: {path} ({path.stat().st_size / 1e6:.0f} MB, {count} lines, {len(paths)} fields)")
    # A hit's fields are under _source (bare documents, as generated, skip that extraction).
    document = "CASE WHEN contains(line, '\"_source\"') THEN line->>'$._source' ELSE line END"
    extract = f"json_extract_string({document}, [{', '.join(json_path(p) for p in paths)}])"
    picks = ", ".join(f"f[{i + 1}]" for i in range(len(paths)))
    columns = ", ".join(f"{quote_ident('.'.join(p))} VARCHAR" for p in paths)
    stored = "line VARCHAR USING COMPRESSION uncompressed"
    con.execute(f"ATTACH {sql_string(str(workdir / 'floor.duckdb'))} AS floor")
    con.execute(f"CREATE TABLE floor.documents ({stored})")
    con.execute(f"CREATE TABLE floor.fields ({columns})")
    con.execute(f"CREATE TABLE floor.documents_fields ({stored}, {columns})")
    wanted = rule_fields(rules_dir or seed_rules_dir())
    lazy_table = (
        "_seq BIGINT, _index VARCHAR, _id VARCHAR, _key BIGINT, _ts BIGINT, "
        "_source VARCHAR USING COMPRESSION uncompressed"
    )
    rule_columns = "".join(f", {quote_ident(name)} VARCHAR" for name in wanted)
    con.execute(f"CREATE TABLE floor.lazy ({lazy_table})")
    con.execute(f"CREATE TABLE floor.lazy_rule_fields ({lazy_table}{rule_columns})")
    steps: dict[str, str] = {
        "read lines": f"SELECT count(*) FROM {lines}",
        "parse every field": f"SELECT count(f[1]) FROM (SELECT {extract} AS f FROM {lines})",
        "store documents": f"INSERT INTO floor.documents SELECT line FROM {lines}",
        "store fields": (
            f"INSERT INTO floor.fields SELECT {picks} FROM (SELECT {extract} AS f FROM {lines})"
        ),
        "store documents + fields": (
            f"INSERT INTO floor.documents_fields SELECT line, {picks} "
            f"FROM (SELECT line, {extract} AS f FROM {lines})"
        ),
        "lazy design: documents + load checks": (
            f"INSERT INTO floor.lazy {lazy_insert_sql(lines, [])}"
        ),
        f"lazy design + rules' fields ({len(wanted)})": (
            f"INSERT INTO floor.lazy_rule_fields {lazy_insert_sql(lines, wanted)}"
        ),
    }
    seconds: dict[str, float] = {}
    for label, sql in steps.items():
        seconds[label] = measure(label, count, partial(run_sql, con, sql), out)
        con.execute("CHECKPOINT floor")
    lazy = ("process", "name") if ("process", "name") in paths else paths[0]
    con.execute("ALTER TABLE floor.documents ADD COLUMN lazy_field VARCHAR")
    fill = (
        "UPDATE floor.documents SET lazy_field = "
        f"json_extract_string({document}, {json_path(lazy)})"
    )
    label = "add one field later"
    seconds[label] = measure(label, count, lambda: con.execute(fill).fetchall(), out)
    con.execute("CHECKPOINT floor")
    con.close()
    ceiling = seconds["store documents + fields"]
    reachable = count / ceiling >= TARGET_LOAD_RATE
    out(
        "ceiling: a DuckDB store keeping the documents and a column per field loads at most "
        f"{rate(count, ceiling)} here (target {TARGET_LOAD_RATE // 1000}k events/s: "
        f"{'reachable' if reachable else 'NOT reachable'})"
    )
    lazy_seconds = seconds["lazy design: documents + load checks"]
    out(
        "lazy design: documents with every load check, no field column, at most "
        f"{rate(count, lazy_seconds)} here (target {TARGET_LOAD_RATE // 1000}k events/s: "
        f"{'reachable' if count / lazy_seconds >= TARGET_LOAD_RATE else 'NOT reachable'})"
    )
    return seconds


def runner_load(path: Path, workdir: Path, out: Callable[[str], None]) -> None:
    """``runner events load`` as its own process: its time, CPU and peak RSS (whole process).

    The peak is the child's own ``VmHWM``, read from ``/proc`` every 20 ms until it exits (the
    last reading counts: it only grows once the program runs).  ``ru_maxrss`` cannot tell it:
    Linux carries the parent's peak into a child at ``exec``, and after the DuckDB steps above
    that is gigabytes.
    """
    store = workdir / "runner.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    argv = [*runner_command(), "--store", str(store), "events", "load", str(path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        rss = 0
        status = Path(f"/proc/{child.pid}/status")
        while child.poll() is None:
            rss = _peak_kib(status, rss)
            time.sleep(0.02)
        stdout, stderr = child.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        raise SystemExit(f"runner events load failed: {stderr}")
    counts = re.search(r"(\d+) loaded, (\d+) duplicates, (\d+) skipped", stdout)
    loaded, skipped = (int(counts[1]), int(counts[3])) if counts else (0, 0)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak = gb(rss) if rss else "not read"
    out(
        f"runner events load: {wall:.2f} s ({cpu:.1f} CPU-s) = {rate(loaded, wall)} "
        f"(target {TARGET_LOAD_RATE // 1000}k events/s: "
        f"{'met' if loaded / wall >= TARGET_LOAD_RATE else 'NOT MET'}), peak RSS {peak} "
        f"(target {gb(TARGET_PEAK_RSS_KIB)}: {'met' if rss <= TARGET_PEAK_RSS_KIB else 'NOT MET'})"
        f" ({loaded} loaded, {skipped} skipped)"
    )


def _peak_kib(status: Path, last: int) -> int:
    try:
        text = status.read_text()
    except OSError:  # gone between poll() and here
        return last
    found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(found[1]) if found else last


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("ndjson", nargs="?", type=Path, help="events to ingest (else generated)")
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events to generate (default: 1000000)"
    )
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep its files")
    parser.add_argument(
        "--runner", action="store_true", help="also time runner's own loader on the file"
    )
    parser.add_argument(
        "--rules", type=Path, metavar="DIR", help="rules whose fields to store (default: seeds)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.events < 1:
        print("--events must be at least 1", file=sys.stderr)
        return 2
    if args.ndjson is not None and not args.ndjson.is_file():
        print(f"{args.ndjson}: no such file", file=sys.stderr)
        return 2
    with _workdir(args.keep) as workdir:
        for stale in ("floor.duckdb", "runner.duckdb", "runner.duckdb.wal", "floor.duckdb.wal"):
            (workdir / stale).unlink(missing_ok=True)
        path = args.ndjson or _generate(workdir / "events.ndjson", args.events)
        floors(path, workdir, lambda line: print(line, flush=True), args.rules)
        if args.runner:
            runner_load(path, workdir, lambda line: print(line, flush=True))
    return 0


def _generate(path: Path, events: int) -> Path:
    # The events bench_engine.py generates by default.
    config = GeneratorConfig(
        now=NOW, hosts=200, events=events, true_positive_ratio=TRUE_POSITIVE_RATIO, seed=0
    )
    with path.open("wb") as fh:
        EventSet(config).write_ndjson(fh)
    return path


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="runner-floor-") as tmp:
        yield Path(tmp)


if __name__ == "__main__":
    raise SystemExit(main())
