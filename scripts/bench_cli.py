#!/usr/bin/env python3
"""Time the CLI's start-up: whole ``runner`` processes, as a user runs them.

    scripts/bench_cli.py [--repeat N] [--runner PATH] [--imports]

The runner package's bytecode is compiled first, as installing it does (so an environment with
PYTHONDONTWRITEBYTECODE set does not time every run compiling it); each command then runs once
untimed (lark's parser-table cache, the page cache), then ``--repeat`` times (default 20); the
median counts, and the range is printed beside it.  The bare interpreter (``python -c pass``)
is timed the same way, as the floor every command stands on.  Commands run in an empty
temporary directory with no ``RUNNER_*`` variables, so they read the packaged seed rules and no
configuration file.

``--imports`` adds, per command, the modules it imported that cost the most (from
``python -X importtime``), and whether any heavy library (DuckDB, APScheduler, the
Elasticsearch client, structlog, Jinja2) was loaded at all.

Figures end with a ``targets:`` block (met / NOT MET); targets missed do not change the exit
code (1 only when a command itself fails).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TARGET_MS = 150.0  # `runner --help` and `runner rules list`, whole processes
# Imported only by the commands that use them; a quick command loading one is a regression.
HEAVY_MODULES = ("duckdb", "apscheduler", "elasticsearch", "structlog", "jinja2")


@dataclass(frozen=True, kw_only=True)
class Command:
    label: str
    args: tuple[str, ...]
    target_ms: float | None  # None: reported, no target


COMMANDS = (
    Command(label="runner --help", args=("--help",), target_ms=TARGET_MS),
    Command(label="runner rules list", args=("rules", "list"), target_ms=TARGET_MS),
    Command(label="runner --version", args=("--version",), target_ms=None),
    Command(label="runner hunt --help", args=("hunt", "--help"), target_ms=None),
)


@dataclass(frozen=True, kw_only=True)
class Timing:
    label: str
    ms: tuple[float, ...]
    target_ms: float | None

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    def line(self) -> str:
        return (
            f"{self.label}: {self.median:.0f} ms (median of {len(self.ms)}; "
            f"{min(self.ms):.0f}-{max(self.ms):.0f} ms)"
        )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}


def runner_argv(runner: Path | None) -> list[str]:
    """The installed console script beside this interpreter, else ``python -m runner``."""
    if runner is not None:
        return [str(runner)]
    script = Path(sys.executable).with_name("runner")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "runner"]


def compile_bytecode() -> None:
    spec = importlib.util.find_spec("runner")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def time_process(argv: list[str], cwd: Path, repeat: int) -> tuple[float, ...]:
    def once() -> float:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=clean_env(), capture_output=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            error = done.stderr.decode(errors="replace")
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{error}")
        return elapsed

    once()  # warm-up: bytecode, lark's table cache, the page cache
    return tuple(once() for _ in range(repeat))


@dataclass(frozen=True, kw_only=True)
class ImportCost:
    module: str
    cumulative_ms: float


def import_profile(args: Sequence[str], cwd: Path) -> tuple[list[ImportCost], list[str]]:
    """Top-level imports of ``runner ARGS`` by cumulative cost, and the heavy modules loaded."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runner", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    costs: list[ImportCost] = []
    loaded: set[str] = set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        module = name.strip()
        loaded.add(module.split(".")[0])
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth <= 1:
            costs.append(ImportCost(module=module, cumulative_ms=int(cumulative) / 1000))
    costs.sort(key=lambda c: c.cumulative_ms, reverse=True)
    return costs, sorted(loaded & set(HEAVY_MODULES))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Time runner's CLI start-up (whole processes).")
    parser.add_argument(
        "--repeat", type=int, default=20, help="timed runs per command (default: 20)"
    )
    parser.add_argument(
        "--runner", type=Path, default=None, metavar="PATH", help="the runner executable"
    )
    parser.add_argument(
        "--imports", action="store_true", help="also list each command's costliest imports"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2

    def out(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="runner-bench-cli-") as tmp:
        return run(args, Path(tmp), out)


def run(args: argparse.Namespace, cwd: Path, out: Callable[[str], None]) -> int:
    runner = runner_argv(args.runner)
    compile_bytecode()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out(
        f"bench_cli: {' '.join(runner)}, {args.repeat} timed runs each after one untimed, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start"
    )
    floor = Timing(
        label="python -c pass (the interpreter alone)",
        ms=time_process([sys.executable, "-c", "pass"], cwd, args.repeat),
        target_ms=None,
    )
    out(floor.line())
    timings: list[Timing] = []
    for command in COMMANDS:
        timing = Timing(
            label=command.label,
            ms=time_process([*runner, *command.args], cwd, args.repeat),
            target_ms=command.target_ms,
        )
        timings.append(timing)
        out(timing.line())
        if args.imports:
            costs, heavy = import_profile(command.args, cwd)
            top = ", ".join(f"{c.module} {c.cumulative_ms:.1f}" for c in costs[:8])
            out(f"  imports (cumulative ms, -X importtime): {top}")
            out(f"  heavy modules loaded: {', '.join(heavy) or 'none'}")
    out("targets:")
    for timing in timings:
        if timing.target_ms is None:
            continue
        verdict = "met" if timing.median <= timing.target_ms else "NOT MET"
        out(
            f"  {timing.label} <= {timing.target_ms:.0f} ms: {timing.median:.0f} ms "
            f"(range {min(timing.ms):.0f}-{max(timing.ms):.0f}): {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
