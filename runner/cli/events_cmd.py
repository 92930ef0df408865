"""``runner events load``: NDJSON events into the embedded store (or a cluster)."""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli.app import App, Commands
from runner.cli.output import ProgressBar
from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.embedded.ingest import LoadProgress


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    events = commands.add_parser("events", help="load events", parents=[parent])
    sub = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    load = sub.add_parser(
        "load",
        help="load NDJSON events (bare documents or search hits; .gz; - for stdin)",
        parents=[parent],
    )
    load.add_argument("files", nargs="+", metavar="FILE")
    load.add_argument(
        "--index",
        metavar="NAME",
        help="index for bare documents (default: logs-{data_stream.dataset}-{namespace})",
    )
    load.set_defaults(func=cmd_load)


def cmd_load(args: argparse.Namespace, app: App) -> int:
    return load_files(app, args.files, index=args.index)


def load_files(app: App, files: list[str], *, index: str | None) -> int:
    """Load NDJSON files into the configured backend; prints a summary; returns an exit code."""
    missing = [name for name in files if name != "-" and not Path(name).is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    if index is not None:
        check_index_name(index)
    if app.settings.elasticsearch.configured:
        return _load_into_cluster(app, files, index)
    from runner.embedded.ingest import load_events

    bar = ProgressBar("loading")

    def progress(update: LoadProgress) -> None:
        bar.update(update.fraction, update.source)

    try:
        summary = load_events(app.store(), files, index=index, progress=progress)
    finally:
        bar.close()
    for problem in summary.problems:
        print(f"skipped {problem}", file=sys.stderr)
    if summary.skipped > len(summary.problems):
        print(f"... and {summary.skipped - len(summary.problems)} more skipped line(s)",
              file=sys.stderr)  # fmt: skip
    print(
        f"{summary.loaded} loaded, {summary.duplicates} duplicates, {summary.skipped} skipped "
        f"into {app.settings.store}"
    )
    return 0


def _load_into_cluster(app: App, files: list[str], index: str | None) -> int:
    """Bulk-create the events in their indices on the cluster (demos, rule tests)."""
    from runner.backends.elasticsearch import ElasticsearchBackend

    backend = app.backend()
    assert isinstance(backend, ElasticsearchBackend)
    failures = 0
    for name in files:
        with _open_text(name) as lines:
            outcome = backend.index_events(lines, index=index)
        for line, reason in outcome.failed:
            print(f"skipped {name}:{line}: {reason}", file=sys.stderr)
        failures += len(outcome.failed)
        print(
            f"{name}: {outcome.created} indexed, {outcome.duplicates} duplicates, "
            f"{len(outcome.failed)} skipped"
        )
    return 1 if failures else 0


@contextmanager
def _open_text(name: str) -> Iterator[Iterable[str]]:
    if name == "-":
        yield sys.stdin
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(name, "rt", encoding="utf-8") as handle:
        yield handle


_INDEX_FORBIDDEN = set(' \\/*?"<>|,#:')


def check_index_name(name: str) -> None:
    """Elasticsearch's index name rules, so a typo fails here rather than at the cluster."""
    bad = sorted(set(name) & _INDEX_FORBIDDEN)
    if not name or name in (".", "..") or name.startswith(("-", "_", "+")) or bad:
        raise UsageError(
            f"invalid index name {name!r}: it must be non-empty, not start with -, _ or +, "
            f'and not contain spaces or any of \\ / * ? " < > | , # :'
        )
    if name != name.lower():
        raise UsageError(f"invalid index name {name!r}: Elasticsearch index names are lowercase")
