#!/usr/bin/env python3
"""What compiling ES|QL to SQL buys on the embedded store: each query below runs over the same
generated events with the SQL pushdown (``WHERE`` conjuncts, ``LIMIT``, ``WHERE | STATS`` in
the document selection, :mod:`runner.embedded.esql_sql`, :mod:`runner.embedded.esql_stats_sql`)
and with every command in the interpreter, and the two answers must be the same rows.

    scripts/bench_esql_pushdown.py [--events N] [--hosts H] [--repeat R] [--keep DIR]

One line per query: ``interpreted`` and ``compiled`` median seconds, the ratio, the rows, and
what ran in SQL.  Exit code 1 when an answer differs (columns null in every row aside, as a
``drop_null_columns`` answer leaves them out).  Timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runner.demo import EventSet, GeneratorConfig  # noqa: E402 - after the path set-up
from runner.embedded import Store, load_events  # noqa: E402
from runner.embedded.catalog import Catalog  # noqa: E402
from runner.embedded.esql_search import run_esql  # noqa: E402
from runner.embedded.esql_sql import pushed_filter, pushed_limit  # noqa: E402
from runner.embedded.esql_stats_sql import compile_stats  # noqa: E402
from runner.esql import parse_esql  # noqa: E402
from runner.esql.engine import Table  # noqa: E402
from runner.search import EsqlRequest  # noqa: E402

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EVENTS = "logs-endpoint.events.*"

QUERIES = [
    # a first look at the data (the implicit or explicit LIMIT in SQL)
    f"FROM {EVENTS} | LIMIT 10",
    f"FROM {EVENTS} | KEEP @timestamp, host.name, process.name",
    # a WHERE right after FROM, then the rule request's LIMIT
    f'FROM {EVENTS} | WHERE process.name == "bash" | KEEP @timestamp, host.name | LIMIT 100',
    # a WHERE after commands it commutes with
    f'FROM {EVENTS} | EVAL host = TO_LOWER(host.name) | WHERE process.name == "bash" '
    "| KEEP @timestamp, host, process.name",
    f'FROM {EVENTS} | SORT @timestamp DESC | WHERE process.name == "sshd" | LIMIT 20',
    # WHERE | STATS as one GROUP BY, also past commands that keep one row per row
    f'FROM {EVENTS} | WHERE process.name == "bash" | STATS n = COUNT(*) BY host.name',
    f'FROM {EVENTS} | EVAL h = TO_LOWER(host.name) | WHERE user.name == "root" '
    "| STATS n = COUNT(*) BY process.name | SORT n DESC | LIMIT 5",
    # STATS over a renamed field stays in the interpreter; its WHERE is still compiled
    f'FROM {EVENTS} | RENAME host.name AS host | WHERE user.name == "root" '
    "| STATS n = COUNT(*) BY host | SORT n DESC | LIMIT 5",
    # nothing compiles: the interpreter's cost on both sides
    f'FROM {EVENTS} | WHERE TO_LOWER(process.name) == "bash" | STATS n = COUNT(*)',
]


def _answer(table: Table) -> tuple[list[str], list[list[Any]]]:
    columns = [c for c in table.columns if any(r.get(c) is not None for r in table.rows)]
    return columns, [[r.get(c) for c in columns] for r in table.rows]


def _time(store: Store, text: str, pushdown: bool, repeat: int) -> tuple[float, Table]:
    request = EsqlRequest(query=parse_esql(text))
    times: list[float] = []
    table = Table(columns=[], rows=[])
    for _ in range(repeat):
        with store.connect() as con:
            start = time.perf_counter()
            table = run_esql(con, request, NOW, pushdown=pushdown)
            times.append(time.perf_counter() - start)
    return statistics.median(times), table


def _in_sql(store: Store, text: str) -> str:
    query = parse_esql(text)
    with store.connect() as con:
        catalog = Catalog.load(con)
    if compile_stats(query, catalog) is not None:
        return "WHERE+STATS"
    parts = []
    if pushed_filter(query, catalog) != "true":
        parts.append("WHERE")
    limit = pushed_limit(query, catalog)
    if limit is not None:
        parts.append(f"LIMIT {limit}")
    return "+".join(parts) or "nothing"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events (default: 100000)")
    parser.add_argument("--hosts", type=int, default=200, help="hosts (default: 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query (default: 3)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep)
    with tempfile.TemporaryDirectory() as folder:
        return run(args, Path(folder))


def run(args: argparse.Namespace, workdir: Path) -> int:
    config = GeneratorConfig(now=NOW, hosts=args.hosts, events=args.events, seed=0)
    ndjson = workdir / "events.ndjson"
    with ndjson.open("wb") as fh:
        EventSet(config).write_ndjson(fh)
    store_path = workdir / "store.duckdb"
    store_path.unlink(missing_ok=True)
    store = Store(store_path)
    loaded = load_events(store, [ndjson]).loaded
    print(f"bench_esql_pushdown: {loaded} events, {args.hosts} hosts, median of {args.repeat}")
    same = True
    for text in QUERIES:
        slow, interpreted = _time(store, text, False, args.repeat)
        fast, compiled = _time(store, text, True, args.repeat)
        agree = _answer(interpreted) == _answer(compiled)
        same = same and agree
        print(
            f"interpreted {slow:.3f} s, compiled {fast:.3f} s ({slow / max(fast, 1e-9):.1f}x), "
            f"{len(compiled.rows)} rows, in SQL: {_in_sql(store, text)}"
            f"{'' if agree else ', ANSWERS DIFFER'}: {text}",
            flush=True,
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
