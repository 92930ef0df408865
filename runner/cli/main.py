"""Entry point: global options, command registry, and the one place errors become exit codes.

Registering a command costs nothing but argparse: each command module imports what its
handler needs inside the handler, so ``runner --help`` and quick commands start in well under
150 ms (``scripts/bench_cli.py``) and never load DuckDB, APScheduler or the Elasticsearch client.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from runner import __version__
from runner.cli import (
    daemon_cmd,
    demo_cmd,
    events_cmd,
    exceptions_cmd,
    hunt_cmd,
    lists_cmd,
    notify_cmd,
    rules_cmd,
    run_cmd,
    setup_cmd,
    test_cmd,
)
from runner.cli.app import App, Commands
from runner.config import load_settings
from runner.errors import QueryError, RuleError, RunnerError
from runner.logs import configure_logging, redact_text

COMMANDS: tuple[Callable[[Commands, argparse.ArgumentParser], None], ...] = (
    rules_cmd.register,
    events_cmd.register,
    run_cmd.register,
    setup_cmd.register,
    test_cmd.register,
    daemon_cmd.register,
    demo_cmd.register,
    hunt_cmd.register,
    notify_cmd.register,
    exceptions_cmd.register,
    lists_cmd.register,
)

# Global option -> settings key (see runner.config.SETTINGS).
_GLOBAL_KEYS = {
    "rules": "rules",
    "exceptions": "exceptions",
    "store": "store",
    "es": "elasticsearch.hosts",
    "log_level": "log_level",
    "log_format": "log_format",
}


def global_options() -> argparse.ArgumentParser:
    """Options accepted before or after any command (SUPPRESS keeps one from erasing the other)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options")
    group.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="TOML configuration file (default: ./runner.toml if present)",
    )
    group.add_argument(
        "--rules",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="rules directory (env RUNNER_RULES; default ./rules, else the seed rules)",
    )
    group.add_argument(
        "--exceptions",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="exception lists directory (env RUNNER_EXCEPTIONS; default: exceptions/ beside "
        "the rules directory)",
    )
    group.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="embedded store file (env RUNNER_STORE; default ./.runner/runner.duckdb)",
    )
    group.add_argument(
        "--es",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="Elasticsearch URL(s), comma-separated (env RUNNER_ES_URL)",
    )
    group.add_argument(
        "--log-level", default=argparse.SUPPRESS, choices=("debug", "info", "warning", "error")
    )
    group.add_argument(
        "--log-format",
        default=argparse.SUPPRESS,
        choices=("auto", "console", "json"),
        help="auto: console on a terminal, JSON lines otherwise",
    )
    return parent  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parent = global_options()
    parser = argparse.ArgumentParser(
        prog="runner",
        description="Run Elastic Security detection rules on a schedule, against Elasticsearch "
        "or an embedded store.",
        parents=[parent],
    )
    parser.add_argument("--version", action="version", version=f"runner {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = {key: getattr(args, name, None) for name, key in _GLOBAL_KEYS.items()}
        settings = load_settings(config_file=getattr(args, "config", None), overrides=overrides)
        # Interactive commands print their own summaries: only warnings are logged unless asked.
        level = settings.log_level or str(getattr(args, "default_log_level", "warning"))
        configure_logging(level, settings.log_format)
        code: int = args.func(args, App(settings=settings))
        return code
    except (QueryError, RuleError) as exc:
        print(f"runner: {redact_text(exc.pretty())}", file=sys.stderr)
        return exc.exit_code
    except RunnerError as exc:
        print(f"runner: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("runner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `runner alerts export | head` closes the pipe early: not an error.
        sys.stderr.close()
        return 0


def entry() -> NoReturn:
    """The ``runner`` program: :func:`main`, then leave at once when nothing is left to wait for.

    Every command has written and closed what it opened by the time it returns (store files are
    detached after each operation, temporary folders removed by their ``with``).  Tearing the
    interpreter down after a search (DuckDB's engine, the heap of the results) would still cost
    30-40 ms of a 250 ms ``runner hunt``.  With another non-daemon thread alive (the daemon's
    pool) the normal exit joins it instead.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`| head`) or a closed stream: nothing more can be written anyway.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    entry()
