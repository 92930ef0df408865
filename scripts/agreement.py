#!/usr/bin/env python3
"""Cross-backend agreement over Elastic's public rules (issue #11).

    scripts/agreement.py [DETECTION_RULES] [--batches N] [--only TEXT] [--verbose]

For every eql, query (kuery), new_terms and ES|QL rule under ``DETECTION_RULES/rules`` and
``rules_building_block`` (default ``../shared/reference/detection-rules``), builds events from
the rule's own syntax tree (matches and near misses, new_terms history), runs the rule's window
on the embedded store and on the Elasticsearch backend against the engine-backed stand-in
(through the real ``elasticsearch`` client), and compares the alert ids.  Prints rules agreeing
/ rules run per type, how many alerted on both backends, the rules not generated with their
reasons, and every disagreement.  Exit 1 when a rule disagrees.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runner.logs import configure_logging  # noqa: E402 - after the path is set
from tests.agreement.reference import batch_files, load, rule_files  # noqa: E402
from tests.agreement.report import figure  # noqa: E402
from tests.agreement.run import Outcome, prepare_cluster, run_batch  # noqa: E402
from tests.elastic.engine_cluster import EngineCluster  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = REPO.parent / "shared" / "reference" / "detection-rules"
    parser.add_argument("rules", nargs="?", type=Path, default=default)
    parser.add_argument("--batches", type=int, default=20, help="stores to split into (20)")
    parser.add_argument("--only", help="run only rule files whose path contains this text")
    parser.add_argument("--verbose", action="store_true", help="one line per rule")
    args = parser.parse_args(argv)
    if not (args.rules / "rules").is_dir():
        print(f"no rules folder under {args.rules}", file=sys.stderr)
        return 2
    configure_logging("warning", "json", stream=io.StringIO())
    files = [f for f in rule_files(args.rules) if not args.only or args.only in str(f)]
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    other = 0
    with tempfile.TemporaryDirectory(prefix="agreement-") as tmp:
        cluster = EngineCluster(Path(tmp) / "cluster.duckdb").start()
        try:
            settings = cluster.settings()
            prepare_cluster(settings)
            for batch in range(args.batches):
                rules, skipped = load(batch_files(files, batch, args.batches))
                other += skipped
                outcomes += run_batch(rules, settings=settings, tmp=Path(tmp), prefix=f"b{batch}")
                print(f"batch {batch + 1}/{args.batches}: {len(outcomes)} rules", file=sys.stderr)
        finally:
            cluster.stop()
    if args.verbose:
        for o in sorted(outcomes, key=lambda o: o.path):
            alerts = f"{len(o.embedded)}/{len(o.elasticsearch)} alerts"
            print(f"{o.verdict:<14} {o.type:<10} {alerts:<12} {o.path} {o.reason}")
    print(figure(outcomes))
    print(f"{len(files)} rule files, {other} of other types or not loading; "
          f"{time.perf_counter() - started:.0f}s")  # fmt: skip
    return 1 if any(o.verdict == "disagree" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
