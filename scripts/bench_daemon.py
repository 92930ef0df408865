#!/usr/bin/env python3
"""The whole public rule set on one daemon: start spread, lateness, CPU, RSS, round trips.

    scripts/bench_daemon.py [--rules DIR] [--duration SECONDS] [--interval DURATION]
                            [--events N] [--workers N] [--stand-in] [--skip-round-trips]
                            [--keep DIR]

1. **Embedded store.**  Generates ``--events`` realistic endpoint events (default 20,000)
   spread from ten minutes before the run to its end, loads them into a fresh store, and runs
   ``runner daemon`` over every rule in ``--rules`` (default: Elastic's public rules in
   ``../shared/reference/detection-rules/rules``) as a separate process, each rule at its own
   interval unless ``--interval`` overrides them all (a quick mode).  The default duration is
   two of the most common interval (5m) plus 30 s.  Every second the daemon's CPU time and
   RSS are read from ``/proc``; its JSON log gives each execution's scheduled time, lateness
   (start minus scheduled time), duration and status.
2. **Round trips against the Elasticsearch stand-in** (``tests/elastic/fake_cluster.py``): each
   supported rule runs twice through the daemon's own supervisor and the real Elasticsearch
   backend and client, in this process, against the loopback stand-in answering every search
   with no hits (no alerts) and keeping run state, executions and gaps in its document store.
   The requests of the second (steady-state) run are counted per rule type.  The stand-in
   scripts empty answers; it evaluates no query (an engine-backed stand-in is another piece
   of work), so these are counts of requests, not timings of searches.
3. ``--stand-in``: step 1 again with the daemon pointed at the stand-in (``--es``), the
   stand-in in a process of its own so the daemon's CPU is counted apart from it.

Figures end with a ``targets:`` block (met / NOT MET); exit code 1 only when the daemon
fails to run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runner.rules.loader import load_rules  # noqa: E402 - after the path set-up
from runner.rules.model import Rule  # noqa: E402
from runner.timeutil import parse_duration  # noqa: E402

TARGET_P99_LATENESS_S = 1.0
TARGET_RSS_MB = 250.0
TARGET_CPU_PERCENT = 20.0  # of one core, on average, against the stand-in
TARGET_EQL_ROUND_TRIPS = 3  # per execution of an EQL rule with no alerts
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def default_rules_dir() -> Path:
    configured = os.environ.get("RUNNER_REFERENCE_DIR")
    reference = Path(configured) if configured else REPO.parent / "shared" / "reference"
    return reference / "detection-rules" / "rules"


# -- sampling the daemon process ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    at: float  # time.time()
    cpu_seconds: float
    rss_mb: float


def read_proc(pid: int) -> tuple[float, float, float] | None:
    """CPU seconds (user + system), RSS and peak RSS in MB of ``pid``; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    cpu = (int(stat[11]) + int(stat[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)
    sizes = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            sizes[key] = int(value.split()[0]) / 1024
    return cpu, sizes.get("VmRSS", 0.0), sizes.get("VmHWM", 0.0)


class Sampler:
    """Reads a process's CPU and RSS once a second on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[Sample] = []
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(1.0):
                return

    def sample(self) -> None:
        found = read_proc(self.pid)
        if found is not None:
            cpu, rss, peak = found
            self.samples.append(Sample(at=time.time(), cpu_seconds=cpu, rss_mb=rss))
            self.peak_mb = max(self.peak_mb, peak)

    def cpu_percent(self, start: float, end: float) -> float:
        inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2 or inside[-1].at <= inside[0].at:
            return float("nan")
        spent = inside[-1].cpu_seconds - inside[0].cpu_seconds
        return 100 * spent / (inside[-1].at - inside[0].at)


# -- one daemon run ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Execution:
    rule_id: str
    scheduled: datetime
    lateness_ms: int
    duration_ms: int
    status: str


@dataclass(kw_only=True)
class DaemonRun:
    label: str
    started: datetime  # the daemon_started log line
    stopped: datetime
    executions: list[Execution] = field(default_factory=list)
    sampler: Sampler | None = None
    helper: Sampler | None = None  # the stand-in process, counted apart
    exit_code: int | None = None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_daemon(
    runner: list[str],
    global_args: list[str],
    daemon_args: list[str],
    duration: float,
    log_path: Path,
    label: str,
    out: Callable[[str], None],
    helper_pid: int | None = None,
) -> DaemonRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    argv = [*runner, *global_args, "--log-format", "json", "daemon", *daemon_args]
    out(f"{label}: {' '.join(argv)} for {duration:.0f} s")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, env=env)
        sampler = Sampler(proc.pid).start()
        helper = Sampler(helper_pid).start() if helper_pid is not None else None
        try:
            proc.wait(timeout=duration)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        sampler.stop()
        if helper is not None:
            helper.stop()
    started = stopped = datetime.now(UTC)
    executions: list[Execution] = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event = entry.get("event")
        if event == "daemon_started":
            started = _time(entry["timestamp"])
        elif event == "daemon_stopping":
            stopped = _time(entry["timestamp"])
        elif event == "rule_executed" and entry.get("scheduled_at"):
            executions.append(
                Execution(
                    rule_id=entry["rule_id"],
                    scheduled=_time(entry["scheduled_at"]),
                    lateness_ms=int(entry["lateness_ms"]),
                    duration_ms=int(entry["duration_ms"]),
                    status=entry["status"],
                )
            )
    return DaemonRun(label=label, started=started, stopped=stopped, executions=executions,
                     sampler=sampler, helper=helper, exit_code=code)  # fmt: skip


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


@dataclass(frozen=True, kw_only=True)
class RunFigures:
    p99_lateness_s: float
    cpu_percent: float
    peak_rss_mb: float


def report_run(
    run: DaemonRun,
    rules: dict[str, Rule],
    interval_of: Callable[[Rule], timedelta],
    out: Callable[[str], None],
) -> RunFigures:
    label = run.label
    by_rule: dict[str, list[Execution]] = defaultdict(list)
    for execution in run.executions:
        by_rule[execution.rule_id].append(execution)
    span = (run.stopped - run.started).total_seconds()
    out(
        f"{label}: {len(rules)} rules scheduled, {len(run.executions)} executions in {span:.0f} s "
        f"({len(run.executions) / max(span, 1e-9):.1f}/s), statuses "
        + ", ".join(f"{k} {v}" for k, v in Counter(e.status for e in run.executions).items())
        + f"; exit code {run.exit_code}"
    )
    # Start spread: each rule's first scheduled run, as a share of its own spread.
    fifths = [0] * 5
    at_start = 0
    for rule_id, runs in by_rule.items():
        interval = interval_of(rules[rule_id])
        spread = min(interval, timedelta(minutes=5)).total_seconds()
        offset = (min(e.scheduled for e in runs) - run.started).total_seconds()
        at_start += offset < 1.0
        fifths[min(max(int(5 * offset / spread), 0), 4)] += 1
    out(
        f"{label}: first runs by fifth of each rule's spread (min(interval, 5m)): "
        + " / ".join(str(n) for n in fifths)
        + f"; within 1 s of start: {at_start}; rules never run: {len(rules) - len(by_rule)}"
    )
    missed = 0
    for rule_id, runs in by_rule.items():
        interval = interval_of(rules[rule_id])
        first = min(e.scheduled for e in runs)
        # Slots due in the last second before the stop may be refused by it: not a miss.
        slots = int((run.stopped - timedelta(seconds=1) - first) / interval) + 1
        missed += max(slots - len({e.scheduled for e in runs}), 0)
    lateness = [e.lateness_ms / 1000 for e in run.executions]
    p99 = percentile(lateness, 0.99)
    out(
        f"{label}: lateness p50 {percentile(lateness, 0.5):.3f} s, p90 "
        f"{percentile(lateness, 0.9):.3f} s, p99 {p99:.3f} s, max {max(lateness, default=0):.3f} s;"
        f" scheduled runs that never started (coalesced): {missed}"
    )
    durations = [e.duration_ms for e in run.executions]
    if durations:
        out(
            f"{label}: execution duration median {statistics.median(durations):.0f} ms, p99 "
            f"{percentile(durations, 0.99):.0f} ms"
        )
    by_type: dict[str, list[Execution]] = defaultdict(list)
    for execution in run.executions:
        by_type[rules[execution.rule_id].type].append(execution)
    for kind, runs in sorted(by_type.items()):
        out(
            f"{label}: {kind}: {len(runs)} executions, duration median "
            f"{statistics.median(e.duration_ms for e in runs):.0f} ms, lateness p99 "
            f"{percentile([e.lateness_ms / 1000 for e in runs], 0.99):.3f} s"
        )
    cpu = float("nan")
    peak = float("nan")
    if run.sampler is not None and run.sampler.samples:
        sampler = run.sampler
        start_at, stop_at = run.started.timestamp(), run.stopped.timestamp()
        startup = next((s for s in sampler.samples if s.at >= start_at), sampler.samples[-1])
        cpu = sampler.cpu_percent(start_at, stop_at)
        last = sampler.samples[-1]
        peak = sampler.peak_mb
        out(
            f"{label}: runner CPU {cpu:.1f}% of one core on average while scheduling "
            f"({startup.cpu_seconds:.1f} s CPU to load the rules and start); RSS at start "
            f"{startup.rss_mb:.0f} MB, at the end {last.rss_mb:.0f} MB, peak {peak:.0f} MB"
        )
    if run.helper is not None and run.helper.samples:
        helper_cpu = run.helper.cpu_percent(run.started.timestamp(), run.stopped.timestamp())
        out(f"{label}: the stand-in's own CPU (not counted above): {helper_cpu:.1f}% of one core")
    return RunFigures(p99_lateness_s=p99, cpu_percent=cpu, peak_rss_mb=peak)


# -- events for the embedded store -----------------------------------------------------------


def prepare_store(store: Path, events: int, end: datetime, out: Callable[[str], None]) -> None:
    from runner.demo import EventSet, GeneratorConfig
    from runner.embedded import Store, load_events

    spread = end - datetime.now(UTC) + timedelta(minutes=10)
    config = GeneratorConfig(now=end, hosts=50, events=events, seed=7, spread=spread)
    ndjson = store.with_suffix(".ndjson")
    with ndjson.open("wb") as fh:
        EventSet(config).write_ndjson(fh)
    summary = load_events(Store(store), [ndjson])
    out(
        f"store: {summary.loaded} endpoint events (process, file, network; macOS and Linux) "
        f"from {config.spread.total_seconds() / 60:.0f} min before the end of the run, "
        f"in {store}"
    )


# -- the Elasticsearch stand-in ----------------------------------------------------------------


def empty_search(request: Any) -> Any:
    """Every event search finds nothing; an aggregation has no buckets."""
    from tests.elastic.fake_cluster import Reply, search_body

    body = request.body or {}
    aggs = body.get("aggs") or body.get("aggregations") or {}
    return Reply(200, search_body([], aggregations={n: {"buckets": []} for n in aggs}))


def empty_eql(_request: Any) -> Any:
    from tests.elastic.fake_cluster import Reply

    body = {"is_partial": False, "is_running": False, "took": 1, "timed_out": False,
            "hits": {"total": {"value": 0, "relation": "eq"}, "events": []}}  # fmt: skip
    return Reply(200, body)


def stand_in() -> Any:
    """The loopback stand-in: the runner's own indices in its document store, every event
    search answered with no hits."""
    from tests.elastic.fake_cluster import FakeCluster

    cluster = FakeCluster()
    store = cluster.enable_store()

    def search(request: Any) -> Any:
        index = request.path.strip("/").split("/")[0]
        if index.startswith("runner"):
            return store.handle(request)
        return empty_search(request)

    cluster.script("POST", r"^/[^_][^/]*/_eql/search$", empty_eql, repeat_last=True)
    cluster.script("POST", r"^/[^_][^/]*/_search$", search, repeat_last=True)
    return cluster.start()


def serve_stand_in() -> int:
    """``--serve-stand-in``: run the stand-in until SIGTERM (its URL on stdout)."""
    cluster = stand_in()
    print(cluster.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    cluster.stop()
    return 0


def round_trips(rules: Sequence[Rule], out: Callable[[str], None]) -> dict[str, list[int]]:
    """Requests per execution (second, steady-state run of each rule) by rule type, through
    the daemon's supervisor and its batched execution log, as ``runner --es URL daemon``."""
    from runner.backends.elasticsearch import ElasticsearchBackend
    from runner.daemon.execution_log import BufferedLog
    from runner.daemon.supervisor import Supervisor
    from runner.logs import configure_logging

    configure_logging("error", "json")
    cluster = stand_in()
    counts: dict[str, list[int]] = defaultdict(list)
    first_counts: dict[str, list[int]] = defaultdict(list)
    paths: dict[str, Counter[str]] = defaultdict(Counter)
    executions = 0
    try:
        with ElasticsearchBackend(cluster.settings(request_timeout=30.0)) as backend:
            backend.cluster_version()  # the client's one-off product check
            log = BufferedLog(backend).start()
            supervisor = Supervisor(
                backend=log, interval_of=lambda rule: parse_duration(rule.interval)
            )
            for rule in rules:
                for attempt in range(2):
                    before = len(cluster.requests)
                    supervisor.run(rule)
                    executions += 1
                    made = [r for r in cluster.requests[before:] if not _log_batch(r)]
                    (counts if attempt else first_counts)[rule.type].append(len(made))
                    if attempt:
                        for request in made:
                            paths[rule.type][_shape(request)] += 1
            log.close()
    finally:
        cluster.stop()
    batches = [r for r in cluster.requests if _log_batch(r)]
    written = sum(len(r.body) // 2 for r in batches)
    for kind in sorted(counts):
        steady, first = counts[kind], first_counts[kind]
        out(
            f"round trips ({kind}, {len(steady)} rules, no alerts): "
            f"{statistics.mean(steady):.2f} per execution (min {min(steady)}, max "
            f"{max(steady)}); first execution of a rule {statistics.mean(first):.2f}"
        )
        each = len(steady)
        out(
            "  per execution: "
            + ", ".join(f"{path} {n / each:.2f}" for path, n in paths[kind].most_common())
        )
    out(
        f"round trips shared by all executions: the execution log, {len(batches)} _bulk "
        f"request(s) for {written} records of {executions} executions "
        f"({len(batches) / max(executions, 1):.3f} per execution)"
    )
    return counts


def _log_batch(request: Any) -> bool:
    """A ``_bulk`` of the batched execution log (``index`` actions into the executions)."""
    body = request.body
    return request.path == "/_bulk" and bool(body) and "index" in body[0]


def _shape(request: Any) -> str:
    """``POST <events>/_eql/search``, ``GET runner-state/_doc``: a request with its ids."""
    parts = request.path.strip("/").split("/")
    index = parts[0] if parts[0].startswith(("runner", "_")) else "<events>"
    return f"{request.method} {'/'.join([index, *parts[1:2]])}"


# -- main --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=Path, default=None, metavar="DIR")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="daemon run length (default: two 5m intervals plus 30 s)")  # fmt: skip
    parser.add_argument("--interval", default=None, metavar="DURATION",
                        help="quick mode: every rule at this interval")  # fmt: skip
    parser.add_argument("--events", type=int, default=20_000, metavar="N")
    parser.add_argument("--workers", type=int, default=2, metavar="N")
    parser.add_argument("--stand-in", action="store_true",
                        help="also run the daemon against the Elasticsearch stand-in")  # fmt: skip
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-round-trips", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR")
    parser.add_argument("--serve-stand-in", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve_stand_in:
        return serve_stand_in()

    def out(line: str) -> None:
        print(line, flush=True)

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep, out)
    with tempfile.TemporaryDirectory(prefix="runner-bench-daemon-") as tmp:
        return run(args, Path(tmp), out)


def run(args: argparse.Namespace, workdir: Path, out: Callable[[str], None]) -> int:
    rules_dir = args.rules or default_rules_dir()
    if not rules_dir.is_dir():
        out(f"no rules at {rules_dir}: pass --rules DIR (Elastic's detection-rules/rules)")
        return 2
    loaded = load_rules([rules_dir])
    rules = {r.rule_id: r for r in loaded.rules if r.enabled}
    override = parse_duration(args.interval) if args.interval else None

    def interval_of(rule: Rule) -> timedelta:
        return override or parse_duration(rule.interval)

    common = Counter(r.interval for r in rules.values()).most_common(1)[0][0]
    duration = args.duration or 2 * (override or parse_duration(common)).total_seconds() + 30
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    schedule = f"every rule at {args.interval}" if override else "each rule at its own interval"
    out(
        f"bench_daemon: {len(rules)} enabled rules from {rules_dir} ("
        + ", ".join(f"{k} {v}" for k, v in Counter(r.type for r in rules.values()).items())
        + "; intervals "
        + ", ".join(
            f"{k} {v}" for k, v in Counter(r.interval for r in rules.values()).most_common(5)
        )
        + f"), {schedule}, {args.workers} workers, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at start"
    )
    runner = [str(Path(sys.executable).with_name("runner"))]
    if not Path(runner[0]).is_file():
        runner = [sys.executable, "-m", "runner"]
    daemon_args = ["--workers", str(args.workers)]
    if args.interval:
        daemon_args += ["--interval", args.interval]

    embedded: RunFigures | None = None
    if not args.skip_embedded:
        store = workdir / "store.duckdb"
        for stale in (store, workdir / "store.duckdb.wal"):
            stale.unlink(missing_ok=True)
        prepare_store(store, args.events, datetime.now(UTC) + timedelta(seconds=duration), out)
        result = run_daemon(runner, ["--store", str(store), "--rules", str(rules_dir)],
                            daemon_args, duration, workdir / "daemon-embedded.log",
                            "embedded", out)  # fmt: skip
        embedded = report_run(result, rules, interval_of, out)

    trips: dict[str, list[int]] = {}
    if not args.skip_round_trips:
        trips = round_trips(list(rules.values()), out)

    against: RunFigures | None = None
    if args.stand_in:
        server = subprocess.Popen([sys.executable, __file__, "--serve-stand-in"],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            url = (server.stdout.readline() if server.stdout else "").strip()
            result = run_daemon(runner, ["--es", url, "--rules", str(rules_dir)], daemon_args,
                                duration, workdir / "daemon-stand-in.log", "stand-in", out,
                                helper_pid=server.pid)  # fmt: skip
            against = report_run(result, rules, interval_of, out)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    mode = f"every rule at {args.interval} (quick mode)" if override else "own intervals"
    print_targets(f"{mode}, {duration:.0f} s", embedded, against, trips, out)
    return 0


def print_targets(
    mode: str,
    embedded: RunFigures | None,
    against: RunFigures | None,
    trips: dict[str, list[int]],
    out: Callable[[str], None],
) -> None:
    out(f"targets ({mode}):")

    def verdict(met: bool) -> str:
        return "met" if met else "NOT MET"

    for label, figures in (("embedded", embedded), ("stand-in", against)):
        if figures is None:
            continue
        late = figures.p99_lateness_s
        out(f"  {label}: p99 lateness <= {TARGET_P99_LATENESS_S:.0f} s: {late:.3f} s: "
            f"{verdict(late <= TARGET_P99_LATENESS_S)}")  # fmt: skip
        out(f"  {label}: peak RSS <= {TARGET_RSS_MB:.0f} MB: {figures.peak_rss_mb:.0f} MB: "
            f"{verdict(figures.peak_rss_mb <= TARGET_RSS_MB)}")  # fmt: skip
        cpu_target = f"<= {TARGET_CPU_PERCENT:.0f}%" if label == "stand-in" else "(no target)"
        cpu_verdict = verdict(figures.cpu_percent <= TARGET_CPU_PERCENT)
        out(f"  {label}: runner CPU {cpu_target}: {figures.cpu_percent:.1f}% of one core"
            + (f": {cpu_verdict}" if label == "stand-in" else ""))  # fmt: skip
    if "eql" in trips:
        worst = max(trips["eql"])
        mean = statistics.mean(trips["eql"])
        out(f"  round trips per EQL execution with no alerts <= {TARGET_EQL_ROUND_TRIPS} "
            f"(stand-in with scripted empty answers): {mean:.2f} (max {worst}): "
            f"{verdict(worst <= TARGET_EQL_ROUND_TRIPS)}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
