#!/usr/bin/env python3
"""How fast can DuckDB itself ingest these events on this machine?  The load rate's ceiling.

    scripts/bench_ingest_floor.py [NDJSON] [--events N] [--keep DIR] [--runner]

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

The last figure is the ceiling of any such loader on DuckDB here: runner's loader does all of
it plus typed and list columns, date columns, ids, duplicate and bad-line checks.  With
``--runner`` it also loads the file with :func:`runner.embedded.load_events` for comparison.
Without NDJSON, ``--events`` (default 1,000,000) events are generated as bench_engine.py does.
Figures are printed one per line; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "scripts"):  # runner, and bench_engine beside this script
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_engine import NOW, TARGET_LOAD_RATE, TRUE_POSITIVE_RATIO, rate  # noqa: E402

from runner.demo import EventSet, GeneratorConfig  # noqa: E402 - after the path set-up
from runner.embedded import Store, load_events  # noqa: E402
from runner.embedded.fields import quote_ident, sql_string  # noqa: E402
from runner.embedded.ingest import lines_scan  # noqa: E402

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


def floors(path: Path, workdir: Path, out: Callable[[str], None]) -> dict[str, float]:
    """Time each DuckDB step over ``path``; the seconds of each, by label."""
    con = duckdb.connect()
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
    }
    seconds: dict[str, float] = {}
    for label, sql in steps.items():
        seconds[label] = measure(label, count, lambda s=sql: con.execute(s).fetchall(), out)
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
    return seconds


def runner_load(path: Path, workdir: Path, out: Callable[[str], None]) -> None:
    store = Store(workdir / "runner.duckdb")
    start = time.perf_counter()
    cpu = cpu_seconds()
    summary = load_events(store, [path])
    wall = time.perf_counter() - start
    out(
        f"runner events load: {wall:.2f} s ({cpu_seconds() - cpu:.1f} CPU-s) = "
        f"{rate(summary.loaded, wall)} ({summary.loaded} loaded, {summary.skipped} skipped)"
    )


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
        floors(path, workdir, lambda line: print(line, flush=True))
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
