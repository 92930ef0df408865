#!/usr/bin/env python3
"""Run the fault drills and print their figures (the README's #16 drill table comes from here).

    scripts/drills.py [--drill network|process|outage|three-daemons ...] [--es-url URL]
                      [--repeat N] [--json]

Each drill starts ``runner daemon`` processes against a cluster behind the fault-injecting
proxy (tests/drills/proxy.py), feeds events, injects its faults, lets the daemons settle,
stops them, and runs the one invariant checker (tests/drills/invariants.py) on what the
cluster holds.  The cluster is a fresh engine-backed stand-in per drill, or the real cluster
at ``--es-url`` (default ``RUNNER_TEST_ES_URL``; the proxy sits in front of it and every drill
works in its own ``drill<random>-*`` indices, deleted afterwards).

Printed: a table with one row per drill, then the totals: faults injected by kind;
executions run; alerts expected, written, lost and duplicated; gaps reported (and the alerts
due in them that ``runner backfill --gaps`` then wrote); notifications due, delivered and
delivered twice; rules moved between daemons and the longest time a rule went unowned.
Exit 1 when an invariant broke.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.drills import scenarios  # noqa: E402 - after the path is set
from tests.drills.figures import Figures  # noqa: E402

DRILLS: dict[str, Callable[[Path, str | None], scenarios.Outcome]] = {
    "network": scenarios.network_drill,
    "process": scenarios.process_drill,
    "outage": scenarios.outage_drill,
    "three-daemons": scenarios.three_daemons_drill,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drill", action="append", choices=sorted(DRILLS),
                        help="run only this drill (repeatable; default: all four)")  # fmt: skip
    parser.add_argument("--es-url", default=os.environ.get("RUNNER_TEST_ES_URL") or None,
                        help="a real cluster (default: RUNNER_TEST_ES_URL)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="run each drill N times")
    parser.add_argument("--json", action="store_true", help="one JSON object of figures")
    args = parser.parse_args(argv)
    names = args.drill or list(DRILLS)
    total = Figures()
    problems: list[str] = []
    rows: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="runner-drills-") as tmp:
        for round_ in range(args.repeat):
            for name in names:
                t0 = time.monotonic()
                outcome = DRILLS[name](Path(tmp) / f"{name}-{round_}", args.es_url)
                total.add(outcome.figures)
                rows.append(outcome.figures.row(name, time.monotonic() - t0))
                problems += [f"{name}: {p}" for p in outcome.problems()]
                if not args.json:
                    print(f"{name}: {time.monotonic() - t0:.0f}s, "
                          f"{'ok' if not outcome.problems() else 'INVARIANT BROKEN'}",
                          file=sys.stderr, flush=True)  # fmt: skip
    where = "a real cluster" if args.es_url else "the engine-backed stand-in"
    if args.json:
        figures = {"cluster": where, "seconds": round(time.monotonic() - started), **vars(total)}
        print(json.dumps({**figures, "problems": problems}))
    else:
        print(f"cluster: {where}; {time.monotonic() - started:.0f}s\n")
        print("\n".join([Figures.HEADER, *rows]) + "\n")
        print("\n".join(total.lines()))
        for problem in problems:
            print(f"BROKEN: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
