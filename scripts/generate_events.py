#!/usr/bin/env python3
"""Generate realistic Elastic Defend (endpoint) ECS events for the seed rules, as NDJSON.

The output mixes benign macOS/Linux activity, near misses and true positives for the four
seed rules; ``--manifest`` writes which documents must alert for which rule (by
``event.id``).  Same arguments, same bytes.

Examples::

    python scripts/generate_events.py --events 2000 --output events.ndjson --manifest m.json
    python scripts/generate_events.py --now 2024-05-01T12:00:00Z --events 1000000 \\
        --hosts 200 --ratio 0.001 --output /tmp/bench.ndjson

Throughput and the expected alert counts are reported on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from runner.demo import EventSet, GeneratorConfig, write_manifest


def parse_now(text: str) -> datetime:
    """ISO 8601; ``Z`` allowed; a time without offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generate Elastic Defend endpoint events (NDJSON) for the seed rules."
    )
    parser.add_argument(
        "--now",
        type=parse_now,
        default=None,
        help="end of the generated period, ISO 8601 (default: the current time, UTC)",
    )
    parser.add_argument("--hosts", type=int, default=6, help="hosts, half macOS (default: 6)")
    parser.add_argument("--events", type=int, default=2000, help="documents (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--ratio",
        type=float,
        default=0.01,
        help="share of documents that are true positives (default: 0.01)",
    )
    parser.add_argument(
        "--no-true-positives", action="store_true", help="generate nothing that should alert"
    )
    parser.add_argument("--no-near-misses", action="store_true", help="leave out near misses")
    parser.add_argument(
        "--history-days",
        type=int,
        default=14,
        help="days of history before the recent period (default: 14)",
    )
    parser.add_argument(
        "--spread-minutes",
        type=float,
        default=30.0,
        help="benign noise covers the last N minutes (default: 30)",
    )
    parser.add_argument(
        "--labels",
        action="store_true",
        help="add ECS labels (expected_rule, generator_case...) to the special documents",
    )
    parser.add_argument("--output", "-o", default="-", help="NDJSON file (default: stdout)")
    parser.add_argument("--manifest", "-m", help="write the expectation manifest (JSON) here")
    parser.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = GeneratorConfig(
            now=args.now or datetime.now(UTC),
            hosts=args.hosts,
            events=args.events,
            seed=args.seed,
            true_positives=not args.no_true_positives,
            true_positive_ratio=args.ratio,
            near_misses=not args.no_near_misses,
            history_days=args.history_days,
            spread=timedelta(minutes=args.spread_minutes),
            labels=args.labels,
        )
        events = EventSet(config)
    except ValueError as exc:
        parser.error(str(exc))
    started = time.perf_counter()
    if args.output == "-":
        count = events.write_ndjson(sys.stdout)
    else:
        with open(args.output, "wb") as fh:
            count = events.write_ndjson(fh)
    elapsed = time.perf_counter() - started
    if args.manifest:
        with open(args.manifest, "w", encoding="utf-8") as fh:
            write_manifest(events.manifest, fh)
    if not args.quiet:
        alerts = ", ".join(f"{rule} {n}" for rule, n in events.manifest.alert_counts().items())
        rate = count / elapsed if elapsed > 0 else float("inf")
        print(
            f"{count} events in {elapsed:.2f}s ({rate:,.0f} events/s); expected alerts: {alerts}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
