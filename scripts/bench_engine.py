#!/usr/bin/env python3
"""Benchmark the embedded engine: load rate, seed-rule query times, peak RSS, and the ``eql``
package's PythonEngine on the same events.

    scripts/bench_engine.py [--events N] [--hosts H] [--seed S] [--repeat R] [--keep DIR]
                            [--skip-eql]

Generates realistic Elastic Defend events with :mod:`runner.demo` (process / file / network mix,
many hosts, 0.1% true positives for the seed rules) into a temporary NDJSON file, loads it into a
fresh store with :func:`runner.embedded.load_events`, then times each seed rule's query built as
the execution core builds it (:mod:`runner.execution.rule_requests`: the rule's index, time
range, timestamp fields and filters; only ``size`` differs) over two windows:

* ``rule window``: the rule's own window at the generator's ``now`` (``now-9m..now``) with
  ``size = max_signals``, exactly what one scheduled execution searches; the hits must be the
  manifest's expected matches (capped at ``max_signals``);
* ``all events``: a window covering every generated event, with a size no result set can reach,
  so each query reads the whole store; the ``eql`` engine is compared with these.

Each EQL seed query then runs as a whole ``runner hunt`` process over every event (``--index``
the rule's patterns, ``--size`` beyond any result count, ``--format ndjson``), the way a user
hunts: start-up, opening the store, parsing, searching and printing included.  The package's
bytecode is compiled first, as installing it does.

The three EQL seed queries are then streamed through the ``eql`` package's PythonEngine (a
benchmark-only extra: ``pip install '.[bench]'``) over the same events, with single-valued
``event.type`` / ``event.category`` as it cannot handle arrays.  The ``eql`` package has no KQL
engine, so the Exim4 KQL query is compared on our side only.  The time to parse and convert the
NDJSON for it is reported but not counted (our load is not counted in our query times either).

Figures are printed one per line and end with a ``targets:`` block (met / NOT MET).  Exit code 1
when a seed query's hits differ from what the generator's manifest expects; targets missed do
not change the exit code.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runner.demo import (  # noqa: E402 - after the path set-up
    RULE_EXIM4,
    RULES,
    EventSet,
    GeneratorConfig,
    Manifest,
    write_manifest,
)
from runner.embedded import Store, load_events, search_eql, search_kql  # noqa: E402
from runner.execution.model import Window  # noqa: E402
from runner.execution.rule_requests import eql_request, kql_request  # noqa: E402
from runner.execution.windows import plan_windows  # noqa: E402
from runner.resources import seed_rules_dir  # noqa: E402
from runner.rules.loader import load_rules  # noqa: E402
from runner.rules.model import Rule  # noqa: E402

# A fixed "now": the same arguments give the same events, byte for byte, on every run.
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRUE_POSITIVE_RATIO = 0.001

TARGET_LOAD_RATE = 250_000  # events/s
TARGET_QUERIES_SECONDS = 1.0  # the four seed queries together, over 1M events
TARGET_SPEEDUP = 30.0  # ours vs the eql package's PythonEngine
TARGET_PEAK_RSS_KIB = 1_500_000_000 // 1024  # 1.5 GB (decimal)
TARGET_HUNT_SECONDS = 0.3  # each EQL seed query as a whole `runner hunt` process
TARGET_EVENTS = 1_000_000  # the event count the targets are stated for

RULE_WINDOW = "rule window"
ALL_EVENTS = "all events"
_EQL_CHUNK = 10_000  # events parsed (untimed) then streamed (timed) at a time


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class QueryRun:
    """One seed query on our engine, timed ``len(seconds)`` times."""

    rule: Rule
    scope: str  # RULE_WINDOW or ALL_EVENTS
    size: int
    seconds: tuple[float, ...]
    hits: int
    expected: int | None = None  # rule window: what the manifest says (capped at size)
    expected_matches: int | None = None  # rule window: the uncapped count

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def ok(self) -> bool:
        return self.expected is None or self.hits == self.expected


@dataclass(frozen=True, kw_only=True, slots=True)
class HuntRun:
    """One EQL seed query as whole ``runner hunt`` processes, timed ``len(seconds)`` times."""

    rule: Rule
    seconds: tuple[float, ...]
    results: int  # output lines: hits, or sequences

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass(frozen=True, kw_only=True, slots=True)
class EqlEngineRun:
    """One EQL seed query on the ``eql`` package's PythonEngine over every event."""

    rule: Rule
    seconds: float
    hits: int


@dataclass(kw_only=True, slots=True)
class EqlComparison:
    version: str
    events: int
    convert_seconds: float
    multi_valued: int  # events whose event.type/category had several values (first kept)
    runs: list[EqlEngineRun] = field(default_factory=list)


# -- helpers -----------------------------------------------------------------------------------


def peak_rss_kib() -> int:
    """Peak resident set size of this process plus the largest child's, in KiB."""
    scale = 1024 if sys.platform == "darwin" else 1  # macOS reports bytes, Linux KiB
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // scale
    return int(own + children)


def rate(count: int, seconds: float) -> str:
    per_second = count / seconds if seconds > 0 else float("inf")
    if per_second >= 10_000:
        return f"{per_second / 1000:.0f}k events/s"
    return f"{per_second:.0f} events/s"


def gb(kib: int) -> str:
    return f"{kib * 1024 / 1e9:.2f} GB"


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def expected_rule_window_matches(manifest: Manifest, rule: str) -> int:
    """Documents the rule's query matches inside the rule window, from the manifest.

    Each EQL rule's alerts are exactly its query's matches in the window (one per event, one
    per sequence).  The Exim4 rule is new_terms: its KQL query also matches, inside the
    window, the children whose executable was already seen in the history (the
    ``seen_in_history`` near misses), which only the new-terms phases then drop.
    """
    count = len(manifest.alerts_for(rule))
    if rule == RULE_EXIM4:
        count += sum(
            1 for n in manifest.near_misses if n.rule == rule and n.case == "seen_in_history"
        )
    return count


# -- the steps ---------------------------------------------------------------------------------


def load_seed_rules(rules_dir: Path) -> dict[str, Rule]:
    found = load_rules([rules_dir])
    if found.errors:
        raise SystemExit("\n".join(str(e) for e in found.errors))
    by_stem = {rule.stem: rule for rule in found.rules}
    missing = [name for name in RULES if name not in by_stem]
    if missing:
        raise SystemExit(f"seed rules missing from {rules_dir}: {', '.join(missing)}")
    return {name: by_stem[name] for name in RULES}


def run_query(store: Store, rule: Rule, window: Window, size: int) -> int:
    """The rule's search as the execution core builds it; returns the number of results."""
    if rule.language == "eql":
        eql = replace(eql_request(rule, window.start, window.end), size=size)
        result = search_eql(store, eql)
        return len(result.events) + len(result.sequences)
    hits = search_kql(store, replace(kql_request(rule, window.start, window.end), size=size))
    return len(hits)


def time_queries(
    store: Store,
    rules: dict[str, Rule],
    manifest: Manifest,
    config: GeneratorConfig,
    repeat: int,
    out: Callable[[str], None],
) -> tuple[list[QueryRun], list[QueryRun]]:
    """Each seed query over its rule window, then over all events; prints as it goes."""
    everything = Window(start=config.now - timedelta(days=config.history_days + 1), end=config.now)
    big = max(config.events, 10_000)  # no result set reaches it: every match is returned
    scopes: list[tuple[str, list[QueryRun]]] = [(RULE_WINDOW, []), (ALL_EVENTS, [])]
    for scope, runs in scopes:
        for name, rule in rules.items():
            matches: int | None = None
            expected: int | None = None
            if scope == RULE_WINDOW:
                window = plan_windows(rule, config.now, None).windows[-1]
                size = rule.max_signals
                matches = expected_rule_window_matches(manifest, name)
                expected = min(matches, size)
                where = f"{rule.from_}..now"
            else:
                window, size, where = everything, big, "every event"
            timings: list[float] = []
            hits = 0
            for _ in range(repeat):
                start = time.perf_counter()
                hits = run_query(store, rule, window, size)
                timings.append(time.perf_counter() - start)
            run = QueryRun(
                rule=rule,
                scope=scope,
                size=size,
                seconds=tuple(timings),
                hits=hits,
                expected=expected,
                expected_matches=matches,
            )
            runs.append(run)
            out(_query_line(run, where))
        total = sum(r.median for r in runs)
        out(f"queries ({scope}): {total:.3f} s for the {len(runs)} seed queries together")
    return scopes[0][1], scopes[1][1]


def _query_line(run: QueryRun, where: str) -> str:
    language = "eql" if run.rule.language == "eql" else "kql"
    all_runs = "/".join(f"{s:.3f}" for s in run.seconds)
    line = (
        f"query {run.rule.stem} ({language}, {run.scope}: {where}, size {run.size}): "
        f"{run.median:.3f} s (median of {len(run.seconds)}: {all_runs}), {run.hits} hits"
    )
    if run.expected is not None:
        verdict = "ok" if run.ok else "MISMATCH"
        capped = (
            f" (max_signals cap; {run.expected_matches} matches)"
            if run.expected_matches is not None and run.expected_matches > run.expected
            else ""
        )
        line += f", manifest expects {run.expected}{capped}: {verdict}"
    return line


# -- whole `runner hunt` processes ---------------------------------------------------------------


def runner_command() -> list[str]:
    """The console script beside this interpreter, else ``python -m runner``."""
    script = Path(sys.executable).with_name("runner")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "runner"]


def compile_bytecode() -> None:
    """Write the package's bytecode, as installing it does (pip compiles on install), so an
    environment with PYTHONDONTWRITEBYTECODE set does not time every process compiling it."""
    compileall.compile_dir(str(REPO / "runner"), quiet=1)


def time_hunts(
    store_path: Path,
    rules: dict[str, Rule],
    all_runs: list[QueryRun],
    size: int,
    repeat: int,
    workdir: Path,
    out: Callable[[str], None],
) -> list[HuntRun]:
    compile_bytecode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    in_process = {run.rule.stem: run for run in all_runs}
    runs: list[HuntRun] = []
    for rule in rules.values():
        if rule.language != "eql":
            continue
        argv = [
            *runner_command(), "--store", str(store_path), "hunt", rule.query,
            "--index", ",".join(rule.index), "--size", str(size), "--format", "ndjson",
        ]  # fmt: skip

        def once(argv: list[str] = argv) -> tuple[float, int]:
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, check=False)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"runner hunt failed: {done.stderr.decode(errors='replace')}")
            return seconds, len(done.stdout.splitlines())

        once()  # untimed: the page cache and lark's table cache, as for any later hunt
        timed = [once() for _ in range(repeat)]
        run = HuntRun(rule=rule, seconds=tuple(t for t, _ in timed), results=timed[-1][1])
        runs.append(run)
        query = in_process[rule.stem]
        agree = "agree" if run.results == query.hits else "DIFFER"
        all_times = "/".join(f"{t:.3f}" for t in run.seconds)
        out(
            f"hunt {rule.stem} (whole `runner hunt` process, every event, size {size}): "
            f"{run.median:.3f} s (median of {len(run.seconds)}: {all_times}), {run.results} "
            f"results (in-process query {query.median:.3f} s, {query.hits}: {agree})"
        )
    return runs


# -- the eql package ---------------------------------------------------------------------------


def _single(value: Any) -> tuple[Any, bool]:
    """A list becomes its first value; the flag says values were dropped."""
    if isinstance(value, list):
        return (value[0] if value else None), len(value) > 1
    return value, False


def _to_eql_event(eql: Any, line: str) -> tuple[Any, bool]:
    doc = json.loads(line)
    event = doc.get("event")
    lossy = False
    category: Any = None
    if isinstance(event, dict):
        for key in ("type", "category"):
            if key in event:
                event[key], dropped = _single(event[key])
                lossy = lossy or dropped
        category = event.get("category")
    stamp = datetime.fromisoformat(str(doc["@timestamp"]).replace("Z", "+00:00"))
    millis = int(stamp.timestamp() * 1000)
    return eql.Event(category if isinstance(category, str) else "generic", millis, doc), lossy


def _chunks(fh: IO[str], size: int) -> Iterator[list[str]]:
    while True:
        lines = [line for _, line in zip(range(size), fh, strict=False) if line.strip()]
        if not lines:
            return
        yield lines


def eql_engine_available() -> bool:
    return importlib.util.find_spec("eql") is not None


def run_eql_engine(ndjson: Path, rules: dict[str, Rule]) -> EqlComparison:
    """Stream every event through one PythonEngine per EQL seed rule, timing only the engine."""
    eql: Any = importlib.import_module("eql")
    engines: dict[str, tuple[Rule, Any, list[Any]]] = {}
    with eql.parser.elasticsearch_syntax:
        for name, rule in rules.items():
            if rule.language != "eql":
                continue
            engine = eql.PythonEngine({"time_unit": 1000})  # timestamps in milliseconds
            engine.add_query(eql.parse_query(rule.query))
            results: list[Any] = []
            engine.add_output_hook(results.append)
            engines[name] = (rule, engine, results)
    spent = dict.fromkeys(engines, 0.0)
    convert = 0.0
    count = multi = 0
    with ndjson.open(encoding="utf-8") as fh:
        chunks = _chunks(fh, _EQL_CHUNK)
        while True:
            start = time.perf_counter()
            lines = next(chunks, None)
            if lines is None:
                break
            events = []
            for line in lines:
                event, lossy = _to_eql_event(eql, line)
                events.append(event)
                multi += lossy
            convert += time.perf_counter() - start
            count += len(events)
            for name, (_, engine, _) in engines.items():
                start = time.perf_counter()
                engine.stream_events(events, finalize=False)
                spent[name] += time.perf_counter() - start
    comparison = EqlComparison(
        version=str(getattr(eql, "__version__", "?")),
        events=count,
        convert_seconds=convert,
        multi_valued=multi,
    )
    for name, (rule, engine, results) in engines.items():
        start = time.perf_counter()
        engine.finalize()
        spent[name] += time.perf_counter() - start
        comparison.runs.append(EqlEngineRun(rule=rule, seconds=spent[name], hits=len(results)))
    return comparison


# -- main --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Benchmark the embedded engine (load, seed queries, peak RSS) against the "
        "eql package's PythonEngine."
    )
    parser.add_argument(
        "--events", type=int, default=TARGET_EVENTS, help="events to generate (default: 1000000)"
    )
    parser.add_argument("--hosts", type=int, default=200, help="hosts (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each query; the median counts (default: 3)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="write events.ndjson, manifest.json and store.duckdb to DIR and keep them "
        "(an earlier store there is replaced)",
    )
    parser.add_argument(
        "--skip-eql", action="store_true", help="skip the eql package's PythonEngine comparison"
    )
    parser.add_argument(
        "--skip-hunts", action="store_true", help="skip the whole `runner hunt` process timings"
    )
    parser.add_argument(
        "--rules",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding the seed rules (default: the runner's own rules/)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.events < 1 or args.hosts < 2 or args.repeat < 1:
        print("--events and --repeat must be at least 1, --hosts at least 2", file=sys.stderr)
        return 2
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep)
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> int:
    def out(line: str) -> None:
        print(line, flush=True)

    rules = load_seed_rules(args.rules or seed_rules_dir())
    config = GeneratorConfig(
        now=NOW,
        hosts=args.hosts,
        events=args.events,
        true_positive_ratio=TRUE_POSITIVE_RATIO,
        seed=args.seed,
    )
    ndjson = workdir / "events.ndjson"
    store_path = workdir / "store.duckdb"
    for stale in (store_path, workdir / "store.duckdb.wal"):
        stale.unlink(missing_ok=True)

    out(
        f"bench_engine: {args.events} events, {args.hosts} hosts, seed {args.seed}, "
        f"now {NOW.isoformat().replace('+00:00', 'Z')}, true positives "
        f"{TRUE_POSITIVE_RATIO:.1%}, in {workdir}"
    )
    events = EventSet(config)
    manifest = events.manifest
    with (workdir / "manifest.json").open("w", encoding="utf-8") as text:
        write_manifest(manifest, text)
    with ndjson.open("wb") as fh:
        gen_seconds, written = _timed(lambda: events.write_ndjson(fh))
    size = ndjson.stat().st_size
    out(
        f"generate: {written} events in {gen_seconds:.1f} s = {rate(written, gen_seconds)}, "
        f"{size / 1e6:.0f} MB NDJSON ({size / written:.0f} bytes/event); roles "
        + ", ".join(f"{k} {v}" for k, v in manifest.role_counts.items())
    )

    store = Store(store_path)
    start = time.perf_counter()
    summary = load_events(store, [ndjson])
    load_seconds = time.perf_counter() - start
    load_rate = summary.loaded / load_seconds if load_seconds > 0 else float("inf")
    out(
        f"load: {summary.loaded} events in {load_seconds:.1f} s = "
        f"{rate(summary.loaded, load_seconds)} (duplicates {summary.duplicates}, "
        f"skipped {summary.skipped}); store {store_path.stat().st_size / 1e6:.0f} MB"
    )

    rule_runs, all_runs = time_queries(store, rules, manifest, config, args.repeat, out)
    rss = peak_rss_kib()
    out(f"peak RSS: {rss} KiB = {gb(rss)} (generation, load and queries)")

    hunts: list[HuntRun] = []
    if args.skip_hunts:
        out("hunts: skipped (--skip-hunts)")
    else:
        big = max(config.events, 10_000)
        hunts = time_hunts(store_path, rules, all_runs, big, args.repeat, workdir, out)

    comparison: EqlComparison | None = None
    if args.skip_eql:
        out("eql engine: skipped (--skip-eql)")
    elif not eql_engine_available():
        out("eql package not installed: pip install '.[bench]' (eql engine comparison skipped)")
    else:
        comparison = run_eql_engine(ndjson, rules)
        _print_comparison(comparison, all_runs, out)
        _print_hunt_comparison(comparison, hunts, out)
        with_eql = peak_rss_kib()
        out(f"peak RSS with the eql comparison: {with_eql} KiB = {gb(with_eql)}")

    _print_targets(args.events, load_rate, rule_runs, all_runs, comparison, rss, out)
    _print_hunt_targets(hunts, comparison, out)
    in_process = {run.rule.stem: run.hits for run in all_runs}
    hunts_agree = all(h.results == in_process[h.rule.stem] for h in hunts)
    return 0 if all(r.ok for r in rule_runs) and hunts_agree else 1


def _print_comparison(
    comparison: EqlComparison, ours: list[QueryRun], out: Callable[[str], None]
) -> None:
    out(
        f"eql engine: eql {comparison.version} PythonEngine, {comparison.events} events, "
        f"the {len(comparison.runs)} EQL seed queries (the eql package has no KQL engine: "
        f"the Exim4 KQL query is not compared)"
    )
    out(
        f"eql engine: parsing and converting the NDJSON took {comparison.convert_seconds:.1f} s "
        f"(not counted; {comparison.multi_valued} events had several event.type/category values, "
        f"first kept)"
    )
    by_rule = {run.rule.stem: run for run in ours}
    for run in comparison.runs:
        mine = by_rule[run.rule.stem]
        agree = "agree" if run.hits == mine.hits else "DIFFER"
        out(
            f"eql {run.rule.stem}: {run.seconds:.3f} s, {run.hits} hits "
            f"(ours {mine.median:.3f} s, {mine.hits} hits: {agree}): ours is "
            f"{_ratio(run.seconds, mine.median)} as fast"
        )
    theirs_total, ours_total = _totals(comparison, ours)
    out(
        f"eql engine total: {theirs_total:.3f} s vs ours {ours_total:.3f} s: ours is "
        f"{_ratio(theirs_total, ours_total)} as fast"
    )


def _print_hunt_comparison(
    comparison: EqlComparison, hunts: list[HuntRun], out: Callable[[str], None]
) -> None:
    if not hunts:
        return
    by_rule = {run.rule.stem: run for run in hunts}
    for run in comparison.runs:
        hunt = by_rule[run.rule.stem]
        out(
            f"eql {run.rule.stem} vs a whole `runner hunt` process: {run.seconds:.3f} s vs "
            f"{hunt.median:.3f} s: ours is {_ratio(run.seconds, hunt.median)} as fast"
        )
    theirs, ours = _hunt_totals(comparison, hunts)
    out(
        f"eql engine total vs `runner hunt` processes: {theirs:.3f} s vs {ours:.3f} s: ours is "
        f"{_ratio(theirs, ours)} as fast"
    )


def _hunt_totals(comparison: EqlComparison, hunts: list[HuntRun]) -> tuple[float, float]:
    by_rule = {run.rule.stem: run for run in hunts}
    theirs = sum(run.seconds for run in comparison.runs)
    ours = sum(by_rule[run.rule.stem].median for run in comparison.runs)
    return theirs, ours


def _print_hunt_targets(
    hunts: list[HuntRun], comparison: EqlComparison | None, out: Callable[[str], None]
) -> None:
    """Two more lines of the targets block: hunt processes, and them against the eql engine."""
    if not hunts:
        out(f"  each EQL seed query as a `runner hunt` process <= {TARGET_HUNT_SECONDS} s: "
            "not measured")  # fmt: skip
        out(f"  `runner hunt` processes >= {TARGET_SPEEDUP:.0f}x the eql engine: not measured")
        return
    slowest = max(h.median for h in hunts)
    each = " / ".join(f"{h.median:.3f}" for h in hunts)
    met = "met" if slowest <= TARGET_HUNT_SECONDS else "NOT MET"
    out(f"  each EQL seed query as a `runner hunt` process <= {TARGET_HUNT_SECONDS} s: "
        f"{each} s: {met}")  # fmt: skip
    if comparison is None:
        out(f"  `runner hunt` processes >= {TARGET_SPEEDUP:.0f}x the eql engine: not measured")
        return
    theirs, ours = _hunt_totals(comparison, hunts)
    speedup = theirs / ours if ours > 0 else float("inf")
    met = "met" if speedup >= TARGET_SPEEDUP else "NOT MET"
    out(f"  `runner hunt` processes >= {TARGET_SPEEDUP:.0f}x the eql engine: {speedup:.1f}x: "
        f"{met}")  # fmt: skip


def _ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}x" if ours > 0 else "inf x"


def _totals(comparison: EqlComparison, ours: list[QueryRun]) -> tuple[float, float]:
    by_rule = {run.rule.stem: run for run in ours}
    theirs_total = sum(run.seconds for run in comparison.runs)
    ours_total = sum(by_rule[run.rule.stem].median for run in comparison.runs)
    return theirs_total, ours_total


def _print_targets(
    events: int,
    load_rate: float,
    rule_runs: list[QueryRun],
    all_runs: list[QueryRun],
    comparison: EqlComparison | None,
    rss: int,
    out: Callable[[str], None],
) -> None:
    def verdict(met: bool) -> str:
        return "met" if met else "NOT MET"

    note = "" if events == TARGET_EVENTS else f" (measured at {events} events)"
    out(f"targets (stated for {TARGET_EVENTS} events){note}:")
    out(
        f"  load >= {TARGET_LOAD_RATE // 1000}k events/s: {load_rate / 1000:.0f}k events/s: "
        f"{verdict(load_rate >= TARGET_LOAD_RATE)}"
    )
    all_total = sum(r.median for r in all_runs)
    rule_total = sum(r.median for r in rule_runs)
    out(
        f"  four seed queries <= {TARGET_QUERIES_SECONDS:.1f} s ({ALL_EVENTS}): {all_total:.3f} s: "
        f"{verdict(all_total <= TARGET_QUERIES_SECONDS)} ({RULE_WINDOW}s: {rule_total:.3f} s: "
        f"{verdict(rule_total <= TARGET_QUERIES_SECONDS)})"
    )
    if comparison is None:
        out(f"  >= {TARGET_SPEEDUP:.0f}x the eql engine: not measured")
    else:
        theirs, ours = _totals(comparison, all_runs)
        speedup = theirs / ours if ours > 0 else float("inf")
        out(
            f"  >= {TARGET_SPEEDUP:.0f}x the eql engine (3 EQL queries, {ALL_EVENTS}): "
            f"{speedup:.1f}x: {verdict(speedup >= TARGET_SPEEDUP)}"
        )
    out(
        f"  peak RSS <= {gb(TARGET_PEAK_RSS_KIB)}: {gb(rss)}: {verdict(rss <= TARGET_PEAK_RSS_KIB)}"
    )


if __name__ == "__main__":
    sys.exit(main())
