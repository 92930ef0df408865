#!/usr/bin/env python3
"""Run Elasticsearch's own ES|QL csv-spec tests against the embedded engine.

    scripts/esql_conformance.py [QA_DIR] [--verbose]   (default: ../shared/reference/esql-qa)

Reads every ``specs/*.csv-spec`` test the way Elasticsearch's ``CsvSpecReader`` does, builds
each data set's documents from ``data/<name>.csv`` with the values typed as its header says
(multi-values in doc-values order: sorted, keywords deduplicated; ``float`` / ``half_float`` /
``scaled_float`` with their precision), and runs the query through
:class:`runner.esql.engine.Engine`, the interpreter the embedded store runs ES|QL with.

Only *in-scope* cases count: every command and function the case uses must be one issue #13
lists (the ES|QL that public detection rules use), its data set must be shipped, and its
columns must not be of a type detection data does not have (spatial, ``version``,
``unsigned_long``, ``date_nanos``).  The rest are reported as out of scope, counted by reason.
A case passes when its column names, row order (or multiset, with ``ignoreOrder``) and values
are the expected ones; column *types* and response warnings are not compared (the engine is
untyped and does not emit warnings).  Ends with ``conformance: P/N in-scope cases passed``.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import math
import re
import struct
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runner.errors import RunnerError  # noqa: E402 - after the path set-up
from runner.esql import ast, parse_esql  # noqa: E402
from runner.esql.engine import Document, Engine, Table  # noqa: E402
from runner.esql.functions import to_datetime, to_string  # noqa: E402

DEFAULT_QA_DIR = REPO.parent / "shared" / "reference" / "esql-qa"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Issue #13's scope: the commands and functions public ES|QL detection rules use.
COMMANDS = frozenset(
    {"from", "row", "where", "eval", "keep", "drop", "rename", "stats", "inline", "inlinestats",
     "sort", "limit", "mv_expand", "grok", "dissect"}
)  # fmt: skip
FUNCTIONS = frozenset(
    {"values", "count_distinct", "count", "case", "coalesce", "replace", "max", "min",
     "mv_first", "to_lower", "to_string", "sum", "mv_concat", "date_trunc", "date_diff",
     "concat", "mv_min", "length", "now", "json_extract", "mv_slice", "starts_with", "round",
     "to_upper", "avg", "to_ip", "to_double", "mv_dedupe", "top", "cidr_match", "url_decode",
     "split", "trim", "locate", "from_base64", "ends_with", "kql"}
)  # fmt: skip
# A cast is its conversion function.
CASTS = {"keyword": "to_string", "text": "to_string", "string": "to_string",
         "double": "to_double", "ip": "to_ip"}  # fmt: skip
OUT_OF_SCOPE_TYPES = frozenset(
    {"geo_point", "geo_shape", "cartesian_point", "cartesian_shape", "version", "v",
     "unsigned_long", "ul", "date_nanos", "date_period", "time_duration", "dense_vector",
     "aggregate_metric_double", "counter_long", "counter_integer", "counter_double"}
)  # fmt: skip

# index (FROM name) -> (data file, mapping file, field type overrides, constant fields)
DATASETS: dict[str, tuple[str | None, str, dict[str, str], dict[str, str]]] = {
    "employees": ("employees.csv", "mapping-default.json", {}, {}),
    "hosts": ("hosts.csv", "mapping-hosts.json", {}, {}),
    "apps": ("apps.csv", "mapping-apps.json", {}, {}),
    "languages": ("languages.csv", "mapping-languages.json", {}, {}),
    "ul_logs": ("ul_logs.csv", "mapping-ul_logs.json", {}, {}),
    "sample_data": ("sample_data.csv", "mapping-sample_data.json", {}, {}),
    "sample_data_ts_long": ("sample_data_ts_long.csv", "mapping-sample_data.json",
                            {"@timestamp": "long"}, {}),
    "event_alerts": ("event_alerts.csv", "mapping-event_alerts.json", {},
                     {"event_type": "alert"}),
    "event_logs": ("event_logs.csv", "mapping-event_logs.json", {}, {"event_type": "login"}),
    "event_empty": (None, "mapping-event_empty.json", {}, {}),
    "addresses": ("addresses.csv", "mapping-addresses.json", {}, {}),
    "books": ("books.csv", "mapping-books.json", {}, {}),
    "logs": ("logs.csv", "mapping-logs.json", {}, {}),
    "mv_text": ("mv_text.csv", "mapping-mv_text.json", {}, {}),
    "date_nanos": ("date_nanos.csv", "mapping-date_nanos.json", {}, {}),
    "json_logs": ("json_logs.csv", "mapping-json_logs.json", {}, {}),
    "trim_test": ("trim_test.csv", "mapping-trim_test.json", {}, {}),
    "wide": ("wide.csv", "mapping-wide.json", {}, {}),
    "base_conversion": ("base_conversion.csv", "mapping-base_conversion.json", {}, {}),
    "conv_from_keyword": ("conv_from_keyword.csv", "mapping-conv_from_keyword.json", {}, {}),
    "airports": ("airports.csv", "mapping-airports.json", {}, {}),
}  # fmt: skip

TYPE_ALIASES = {"i": "integer", "l": "long", "ul": "unsigned_long", "d": "double",
                "k": "keyword", "s": "keyword", "string": "keyword", "txt": "text",
                "bool": "boolean", "dt": "date", "datetime": "date", "v": "version",
                "n": "null", "short": "integer", "byte": "integer"}  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    file: str
    line: int
    name: str
    query: str
    columns: tuple[tuple[str, str], ...]  # (name, type)
    rows: tuple[tuple[str | None, ...], ...]  # raw cells; None is null
    ignore_order: bool = False
    disabled: bool = False


@dataclass(kw_only=True, slots=True)
class Outcome:
    case: Case
    status: str  # passed | failed | out_of_scope
    detail: str = ""


@dataclass(kw_only=True, slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str, file: str | None = None) -> int:
        return sum(
            1 for o in self.outcomes if o.status == status and (file is None or o.case.file == file)
        )

    @property
    def in_scope(self) -> int:
        return self.count("passed") + self.count("failed")

    @property
    def ratio(self) -> float:
        return self.count("passed") / self.in_scope if self.in_scope else 0.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def reasons(self) -> Counter[str]:
        return Counter(o.detail for o in self.outcomes if o.status == "out_of_scope")


# ---- reading the specs --------------------------------------------------------------------


def _skip(line: str) -> bool:
    return not line or line.startswith("//") or line.startswith("#")


def read_spec(path: Path) -> list[Case]:
    """One csv-spec file, as ``SpecReader`` + ``CsvSpecReader`` read it."""
    cases: list[Case] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if _skip(line):
            i += 1
            continue
        name, start = line.split("#", 1)[0].strip(), i + 1
        i += 1
        query: list[str] = []
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if _skip(line):
                continue
            lower = line.lower()
            if not query and lower.startswith(
                ("required_capability:", "required_feature:", "request_stored:",
                 "request_time_filter:", "skip_flattened_rewrite:", "skip_columnar:")
            ):  # fmt: skip
                continue
            if line.endswith("\\;"):
                query.append(line[:-2] + ";")
                continue
            if line.endswith(";"):
                query.append(line[:-1])
                break
            query.append(line)
        ignore_order = False
        table: list[str] = []
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if line.startswith(";"):
                break
            if _skip(line):
                continue
            lower = line.lower()
            if lower.startswith(("warning:", "warningregex:")):
                continue
            if lower.startswith("ignoreorder:"):
                ignore_order = lower.split(":", 1)[1].strip() == "true"
                continue
            table.append(line)
        columns, rows = _table(table)
        cases.append(
            Case(
                file=path.name, line=start, name=name, query="\r\n".join(query),
                columns=columns, rows=rows, ignore_order=ignore_order,
                disabled=name.endswith("-Ignore"),
            )
        )  # fmt: skip
    return cases


def _table(
    lines: list[str],
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str | None, ...], ...]]:
    if not lines:
        return (), ()
    parsed = list(csv.reader(lines, delimiter="|", quotechar='"', skipinitialspace=True))
    header: list[tuple[str, str]] = []
    for cell in parsed[0]:
        protected = cell.strip().replace("::", "\0")
        name, _, kind = protected.rpartition(":")
        if not name:
            name, kind = protected, "keyword"
        kind = kind.strip().lower()
        header.append((name.strip().replace("\0", "::"), TYPE_ALIASES.get(kind, kind)))
    rows = tuple(
        tuple(None if c.strip().lower() == "null" else c.strip() for c in row) for row in parsed[1:]
    )
    return tuple(header), rows


# ---- the data sets ------------------------------------------------------------------------


def _split_values(text: str) -> list[str]:
    return [p.replace("\\,", ",").strip() for p in re.split(r"(?<!\\),", text)]


def _split_row(line: str) -> list[str]:
    """A data line's values: commas split, except escaped ones and those inside ``[...]``."""
    cells: list[str] = []
    current: list[str] = []
    depth = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ",":
            current.append("\\,")
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            cells.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    cells.append("".join(current).strip())
    return cells


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _float16(value: float) -> float:
    return float(struct.unpack("e", struct.pack("e", value))[0])


def typed(text: str, kind: str, scaling: float | None = None) -> Any:
    """A data-file value as the index would return it."""
    if kind in ("integer", "long", "short", "byte", "unsigned_long"):
        return int(text)
    if kind == "double":
        return float(text)
    if kind == "float":
        return _float32(float(text))
    if kind == "half_float":
        return _float16(float(text))
    if kind == "scaled_float":
        return round(float(text) * (scaling or 1)) / (scaling or 1)
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "date":
        return to_datetime(int(text)) if text.lstrip("-").isdigit() else to_datetime(text)
    if kind == "ip":
        return str(ipaddress.ip_address(text))
    return text


def _sort_key(value: Any) -> Any:
    if kind_of(value) == "ip":
        address = ipaddress.ip_address(value)
        return (0 if address.version == 4 else 1, int(address))
    return value


def kind_of(value: Any) -> str:
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return "keyword"
        return "ip"
    return type(value).__name__


def _mapping_fields(
    mapping: dict[str, Any], prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in mapping.get("properties", {}).items():
        full = f"{prefix}{name}"
        if "properties" in spec:
            yield from _mapping_fields(spec, f"{full}.")
        else:
            yield full, spec
        for sub, sub_spec in spec.get("fields", {}).items():
            yield f"{full}.{sub}", sub_spec


@dataclass(frozen=True, kw_only=True, slots=True)
class Dataset:
    name: str
    types: dict[str, str]  # every field the index maps
    documents: tuple[Document, ...]


def load_dataset(qa_dir: Path, name: str) -> Dataset:
    data_file, mapping_file, overrides, constants = DATASETS[name]
    mapping = json.loads((qa_dir / "data" / mapping_file).read_text())
    specs = dict(_mapping_fields(mapping))
    types = {f: str(s.get("type", "object")) for f, s in specs.items()}
    documents: list[Document] = []
    if data_file is not None:
        lines = [
            line.strip()
            for line in (qa_dir / "data" / data_file).read_text(encoding="utf-8").splitlines()
        ]
        lines = [line for line in lines if line and not line.startswith("//")]
        schema = [tuple(p.strip() for p in c.split(":", 1)) for c in lines[0].split(",")]
        # The data file's header states the fields and their types; some mapping files are
        # older or from another version (sample_data's has `client.ip` for `client_ip`).
        types = {n: t for n, t in schema if n != "_id"}
        types.update(overrides)
        for n, line in enumerate(lines[1:], 1):
            cells = _split_row(line)
            if len(cells) != len(schema):
                raise ValueError(f"{data_file}:{n + 1}: {len(cells)} values for {len(schema)}")
            fields: dict[str, Any] = dict(constants)
            doc_id = str(n)
            for (column, _), cell in zip(schema, cells, strict=True):
                if column == "_id":
                    doc_id = cell
                    continue
                value = _document_value(cell, types[column], specs.get(column, {}))
                if value is not None:
                    fields[column] = value
            documents.append(Document(index=name, id=doc_id, fields=fields))
    for constant in constants:
        types[constant] = "keyword"
    return Dataset(name=name, types=types, documents=tuple(documents))


def _document_value(cell: str, kind: str, spec: dict[str, Any]) -> Any:
    if cell == "":
        return None
    if len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
        cell = cell[1:-1]
    scaling = spec.get("scaling_factor")
    if cell.startswith("[") and cell.endswith("]"):
        items = [typed(v, kind, scaling) for v in _split_values(cell[1:-1]) if v != ""]
        if kind != "text":  # doc values: sorted, keywords deduplicated
            items = sorted(items, key=_sort_key)
            if kind == "keyword":
                items = list(dict.fromkeys(items))
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    return typed(cell.replace("\\,", ","), kind, scaling)


# ---- scope --------------------------------------------------------------------------------


def _segments(query: str) -> Iterator[str]:
    """The query's commands: split on ``|`` outside strings."""
    current: list[str] = []
    quote = False
    i = 0
    while i < len(query):
        if query.startswith('"""', i):
            end = query.find('"""', i + 3)
            end = len(query) if end < 0 else end + 3
            current.append(query[i:end])
            i = end
            continue
        ch = query[i]
        if ch == '"':
            quote = not quote
        elif ch == "\\" and quote:
            current.append(query[i : i + 2])
            i += 2
            continue
        elif ch == "|" and not quote:
            yield "".join(current).strip()
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    yield "".join(current).strip()


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for slot in getattr(node, "__slots__", ()):
        child = getattr(node, slot, None)
        if isinstance(child, tuple):
            for item in child:
                yield from _walk(item)
        elif child is not None and hasattr(child, "__slots__"):
            yield from _walk(child)


def out_of_scope(case: Case, datasets: dict[str, Dataset]) -> str | None:
    """Why a case is outside issue #13's scope, or None when it counts."""
    if case.disabled:
        return "disabled upstream (-Ignore)"
    if case.query.lstrip().lower().startswith("set "):
        return "SET statement"
    for segment in _segments(case.query):
        word = segment.split(None, 1)[0].lower() if segment.split() else ""
        if word == "lookup":
            return "command LOOKUP JOIN"
        if word not in COMMANDS:
            return f"command {word.upper()}"
    if "?" in re.sub(r'"[^"]*"', "", case.query):
        return "query parameters"
    try:
        query = parse_esql(case.query)
    except RunnerError:
        query = None
    if query is not None:
        if isinstance(query.source, ast.From):
            for source in query.source.sources:
                if source not in datasets:
                    return "data set not shipped (or an index pattern)"
            for meta in query.source.metadata:
                if meta not in ("_id", "_index", "_version"):
                    return f"metadata {meta}"
        for node in _walk(query):
            if isinstance(node, ast.Call) and node.name not in FUNCTIONS:
                return f"function {node.name.upper()}"
            if isinstance(node, ast.Cast) and node.type not in CASTS:
                return f"cast to {node.type}"
            if isinstance(node, ast.Param):
                return "query parameters"
            if isinstance(node, ast.Match):
                return "operator : (full-text match)"
        if isinstance(query.source, ast.From):
            types = {t for s in query.source.sources for t in datasets[s].types.values()}
            used = {
                datasets[s].types.get(n.name)
                for s in query.source.sources
                for n in _walk(query)
                if isinstance(n, ast.Field)
            }
            bad = sorted(t for t in used | _kept_types(query, datasets) if t in OUT_OF_SCOPE_TYPES)
            del types
            if bad:
                return f"type {bad[0]}"
    bad_columns = sorted({t for _, t in case.columns if t in OUT_OF_SCOPE_TYPES})
    if bad_columns:
        return f"type {bad_columns[0]}"
    return None


def _kept_types(query: ast.Query, datasets: dict[str, Dataset]) -> set[str | None]:
    # `FROM x` with no KEEP/STATS returns every column, so every field type counts.
    if not isinstance(query.source, ast.From):
        return set()
    if any(isinstance(c, ast.Keep | ast.Stats) and not getattr(c, "inline", False)
           for c in query.commands):  # fmt: skip
        return set()
    return {t for s in query.source.sources for t in datasets[s].types.values()}


# ---- running and comparing ----------------------------------------------------------------


def run_case(case: Case, datasets: dict[str, Dataset]) -> Outcome:
    reason = out_of_scope(case, datasets)
    if reason is not None:
        return Outcome(case=case, status="out_of_scope", detail=reason)
    try:
        query = parse_esql(case.query)
        documents: list[Document] = []
        mapped: list[str] = []
        if isinstance(query.source, ast.From):
            for source in query.source.sources:
                documents.extend(datasets[source].documents)
                mapped.extend(datasets[source].types)
        table = Engine(query=query, now=NOW, mapped=tuple(mapped)).run(documents)
    except RunnerError as exc:
        return Outcome(case=case, status="failed", detail=f"error: {exc}".splitlines()[0])
    except Exception as exc:  # noqa: BLE001 - a crash is one failed case, the run goes on
        return Outcome(case=case, status="failed", detail=f"crash: {type(exc).__name__}: {exc}")
    problem = compare(case, table)
    if problem:
        return Outcome(case=case, status="failed", detail=problem)
    return Outcome(case=case, status="passed")


def compare(case: Case, table: Table) -> str | None:
    names = [n for n, _ in case.columns]
    if table.columns != names:
        return f"columns: expected {names}, got {table.columns}"
    kinds = [k for _, k in case.columns]
    got = [tuple(_canonical(row.get(c), k) for c, k in zip(names, kinds, strict=True))
           for row in table.rows]  # fmt: skip
    want = [tuple(_expected(cell, k) for cell, k in zip(row, kinds, strict=False))
            for row in case.rows]  # fmt: skip
    if case.ignore_order:
        if Counter(got) != Counter(want):
            missing = list((Counter(want) - Counter(got)).elements())[:3]
            extra = list((Counter(got) - Counter(want)).elements())[:3]
            return f"rows differ (ignoring order): missing {missing}, unexpected {extra}"
        return None
    if got != want:
        if len(got) != len(want):
            return f"{len(want)} rows expected, got {len(got)}: first got {got[:2]}"
        first = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
        return f"row {first + 1}: expected {want[first]}, got {got[first]}"
    return None


def _expected(cell: str | None, kind: str) -> Any:
    if cell is None:
        return None
    if len(cell) >= 2 and cell.startswith("[") and cell.endswith("]"):
        items = [_scalar(_unquote(v), kind) for v in _split_values(cell[1:-1])]
        return tuple(items) if len(items) != 1 else items[0]
    return _scalar(cell, kind)


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == '"' and text[-1] == '"' else text


def _scalar(text: str, kind: str) -> Any:
    if kind in ("integer", "long", "double", "float", "half_float", "scaled_float"):
        try:
            return _number_text(float(text))
        except ValueError:
            return text
    if kind == "boolean":
        return text.lower()
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    if kind == "date":
        parsed = to_datetime(text)
        return to_string(parsed) if parsed is not None else text
    return text


def _number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == int(number) and abs(number) < 2**63:
        return str(int(number))
    return f"{number:.12g}"


def _canonical(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        items = [_canonical(v, kind) for v in value]
        return tuple(items) if len(items) != 1 else items[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if kind in ("integer", "long", "double", "float", "half_float", "scaled_float"):
            return _number_text(float(value)) if isinstance(value, float) else _int_text(value)
        if kind == "date" and not isinstance(value, float):
            return to_string(to_datetime(value))
        return to_string(value)
    if isinstance(value, datetime):
        return to_string(value)
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(str(value)))
        except ValueError:
            return str(value)
    return str(value)


def _int_text(value: int) -> str:
    return str(value)


# ---- the run ------------------------------------------------------------------------------


def read_cases(qa_dir: Path) -> list[Case]:
    cases: list[Case] = []
    for path in sorted((qa_dir / "specs").glob("*.csv-spec")):
        cases.extend(read_spec(path))
    return cases


def load_datasets(qa_dir: Path) -> dict[str, Dataset]:
    return {name: load_dataset(qa_dir, name) for name in DATASETS}


def run_conformance(qa_dir: Path) -> Report:
    datasets = load_datasets(qa_dir)
    report = Report()
    for case in read_cases(qa_dir):
        report.outcomes.append(run_case(case, datasets))
    return report


def print_report(report: Report, *, verbose: bool = False, out: Any = sys.stdout) -> None:
    for outcome in report.failures:
        c = outcome.case
        print(f"FAIL {c.file}:{c.line} {c.name}: {outcome.detail}", file=out)
        if verbose:
            print(f"     {' '.join(c.query.split())}", file=out)
    files = sorted({o.case.file for o in report.outcomes})
    for name in files:
        passed, failed = report.count("passed", name), report.count("failed", name)
        print(
            f"{name}: {passed}/{passed + failed} passed, "
            f"{report.count('out_of_scope', name)} out of scope",
            file=out,
        )
    print("out of scope, by reason:", file=out)
    for reason, count in sorted(report.reasons().items(), key=lambda p: (-p[1], p[0])):
        print(f"  {count:4d}  {reason}", file=out)
    print(
        f"conformance: {report.count('passed')}/{report.in_scope} in-scope cases passed "
        f"({100 * report.ratio:.1f}%), {report.count('out_of_scope')} out of scope, "
        f"{len(report.outcomes)} cases in all",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("qa_dir", nargs="?", type=Path, default=DEFAULT_QA_DIR)
    parser.add_argument("--verbose", action="store_true", help="print each failing query")
    args = parser.parse_args(argv)
    if not (args.qa_dir / "specs").is_dir():
        print(f"ES|QL QA directory not found: {args.qa_dir}", file=sys.stderr)
        return 2
    report = run_conformance(args.qa_dir)
    print_report(report, verbose=args.verbose)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
