#!/usr/bin/env python3
"""Run Elasticsearch's own EQL conformance specs against the embedded engine.

    scripts/eql_conformance.py [QA_DIR]     (default: ../shared/reference/es-eql-qa)

Loads the QA data into a temporary store the way Elasticsearch's test harness indexes it
(``@timestamp`` derived from endgame-140's Windows FILETIME; ``event.category`` and
``event.sequence`` copied from the fields the mappings alias them to), runs every case with the
harness's request options (``size`` 50 unless the case says otherwise, tiebreaker
``serial_event_id`` or ``sequence``), compares the returned tiebreaker ids (and join keys) with
the expected ones, prints failures and per-file counts, and ends with
``conformance: P/N passed``.  Cases that depend on index-mapping features a schemaless store
cannot have are listed in :data:`SKIPPED` with the reason and reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runner.embedded.ingest import load_events  # noqa: E402 - after the path set-up
from runner.embedded.search import search_eql  # noqa: E402
from runner.embedded.store import Store  # noqa: E402
from runner.eql import parse_eql  # noqa: E402
from runner.errors import RunnerError  # noqa: E402
from runner.search import EqlRequest, Hit  # noqa: E402

DEFAULT_QA_DIR = REPO.parent / "shared" / "reference" / "es-eql-qa"

# file -> (index, tiebreaker field)
FILES: dict[str, tuple[str, str]] = {
    "test_queries.toml": ("endgame-140", "serial_event_id"),
    "additional_test_queries.toml": ("endgame-140", "serial_event_id"),
    "test_queries_date.toml": ("endgame-140", "serial_event_id"),
    "test_extra.toml": ("extra", "sequence"),
    "test_missing_events.toml": ("missing-events", "sequence"),
}
ALIASES: dict[str, dict[str, str]] = {
    "endgame-140": {"event.category": "event_type", "event.sequence": "serial_event_id"},
    "extra": {"event.category": "event_type", "event.sequence": "sequence"},
    "missing-events": {"event.category": "event_type", "event.sequence": "sequence"},
}

# Cases whose expected result comes from the index mapping, which a schemaless store lacks.
SKIPPED: dict[str, str] = {
    "optionalDefaultNullValueFieldEqualNull": (
        "the mapping's `null_value: NULL` indexes JSON nulls as the string NULL"
    ),
    "optionalDefaultNullValueFieldEqualDefaultValue": (
        "the mapping's `null_value: NULL` indexes JSON nulls as the string NULL"
    ),
    "sequenceWithVersionRangeCheck": "the `version` field type orders semantic versions",
    "sequenceWithVersionRangeCheck2": "the `version` field type orders semantic versions",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    file: str
    name: str
    query: str
    expected: list[list[int]]  # alternatives; any one is accepted
    join_keys: list[str] | None
    size: int


@dataclass(kw_only=True, slots=True)
class Outcome:
    case: Case
    status: str  # passed | failed | skipped
    detail: str = ""


@dataclass(kw_only=True, slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str, file: str | None = None) -> int:
        return sum(
            1 for o in self.outcomes if o.status == status and (file is None or o.case.file == file)
        )

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def _read_data(path: Path) -> list[dict[str, Any]]:
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")
    )
    data = json.loads(text)
    assert isinstance(data, list)
    return data


def _prepare(index: str, doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if index == "endgame-140":
        out["@timestamp"] = int(doc["timestamp"]) // 10000 - 11644473600000
    for alias, target in ALIASES[index].items():
        if target in doc:
            parent, _, leaf = alias.partition(".")
            out.setdefault(parent, {})[leaf] = doc[target]
    return out


def load_qa_data(store: Store, qa_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="eql-qa-") as tmp:
        files: list[str] = []
        for index in sorted({index for index, _ in FILES.values()}):
            target = Path(tmp) / f"{index}.ndjson"
            with target.open("w") as out:
                for n, doc in enumerate(_read_data(qa_dir / "data" / f"{index}.data"), 1):
                    hit = {"_index": index, "_id": str(n), "_source": _prepare(index, doc)}
                    out.write(json.dumps(hit) + "\n")
            files.append(str(target))
        summary = load_events(store, files)
        if summary.skipped:
            raise RuntimeError(f"QA data did not load cleanly: {summary.problems}")


def _null_safe_toml(text: str) -> str:
    # Some files hold a bare `null` inside join_keys: strict TOML rejects it.
    def fix(match: re.Match[str]) -> str:
        return re.sub(r"(?<![\"\w])null(?![\"\w])", '"null"', match.group(0))

    return re.sub(r"join_keys\s*=\s*\[[^\]]*\]", fix, text)


def read_cases(qa_dir: Path) -> list[Case]:
    cases: list[Case] = []
    for name in FILES:
        doc = tomllib.loads(_null_safe_toml((qa_dir / name).read_text()))
        for entry in doc.get("queries", []):
            expected = entry.get("expected_event_ids", [])
            alternatives = (
                [list(e) for e in expected]
                if expected and isinstance(expected[0], list)
                else [list(expected)]
            )
            keys = entry.get("join_keys")
            cases.append(
                Case(
                    file=name,
                    name=entry["name"],
                    query=entry["query"],
                    expected=alternatives,
                    join_keys=None if keys is None else [str(k) for k in keys],
                    size=int(entry.get("size", 50)),
                )
            )
    return cases


def _id(hit: Hit, tiebreaker: str) -> int:
    return int(hit.source[tiebreaker])


def _key_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_case(store: Store, case: Case) -> Outcome:
    if case.name in SKIPPED:
        return Outcome(case=case, status="skipped", detail=SKIPPED[case.name])
    index, tiebreaker = FILES[case.file]
    try:
        request = EqlRequest(
            query=parse_eql(case.query),
            indices=(index,),
            size=case.size,
            tiebreaker_field=tiebreaker,
            event_category_field="event.category",
        )
        result = search_eql(store, request)
    except RunnerError as exc:
        return Outcome(case=case, status="failed", detail=f"error: {exc}")
    got: list[int] = [_id(h, tiebreaker) for h in result.events]
    keys: list[str] = []
    for match in result.sequences:
        got += [-1 if not isinstance(e, Hit) else _id(e, tiebreaker) for e in match.events]
        keys += [_key_text(k) for k in match.join_keys]
    if got not in case.expected:
        want = case.expected[0] if len(case.expected) == 1 else case.expected
        return Outcome(case=case, status="failed", detail=f"expected {want}, got {got}")
    if case.join_keys is not None and result.sequences and keys != case.join_keys:
        return Outcome(
            case=case, status="failed", detail=f"join keys: expected {case.join_keys}, got {keys}"
        )
    return Outcome(case=case, status="passed")


def run_conformance(qa_dir: Path, *, store_dir: Path | None = None) -> Report:
    """Load the QA data into a fresh store and run every case."""
    with tempfile.TemporaryDirectory(prefix="eql-conformance-", dir=store_dir) as tmp:
        store = Store(Path(tmp) / "qa.duckdb")
        load_qa_data(store, qa_dir)
        report = Report()
        for case in read_cases(qa_dir):
            report.outcomes.append(run_case(store, case))
        return report


def print_report(report: Report, out: Any = sys.stdout) -> None:
    for outcome in report.failures:
        print(f"FAIL {outcome.case.file} {outcome.case.name}: {outcome.detail}", file=out)
        print(f"     {' '.join(outcome.case.query.split())}", file=out)
    for outcome in report.outcomes:
        if outcome.status == "skipped":
            print(f"skip {outcome.case.name}: {outcome.detail}", file=out)
    for name in FILES:
        passed, failed = report.count("passed", name), report.count("failed", name)
        skipped = report.count("skipped", name)
        print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped", file=out)
    total = len(report.outcomes)
    print(f"conformance: {report.count('passed')}/{total} passed", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("qa_dir", nargs="?", type=Path, default=DEFAULT_QA_DIR)
    args = parser.parse_args(argv)
    if not args.qa_dir.is_dir():
        print(f"QA directory not found: {args.qa_dir}", file=sys.stderr)
        return 2
    report = run_conformance(args.qa_dir)
    print_report(report)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
