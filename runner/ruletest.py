"""Detection as code: ``runner test`` runs rule cases in throwaway embedded stores.

A rule's cases live in ``<cases dir>/<rule file stem>/``: NDJSON event files (search hits with
explicit ``_id`` values, so cases can name them) and an ``expected.toml``::

    [[case]]
    name = "colon is case-insensitive"
    events = ["case.ndjson"]        # default: every *.ndjson of the folder
    now = "2024-05-01T12:00:00Z"    # logical execution time; a list runs several in order
    alert = ["tp-1", "tp-2"]        # event ids that must be among the alerts' source events
    no_alert = ["fp-1"]             # event ids that must not
    alerts = 2                      # optional: exact number of (non building-block) alerts
    status = "succeeded"            # optional: status of the last window
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.backends.embedded import EmbeddedBackend
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.errors import RunnerError, UsageError
from runner.exceptions.loader import load_exception_file
from runner.exceptions.model import ExceptionList
from runner.execution.executor import Executor
from runner.lists.imports import read_values
from runner.lists.model import ValueListInfo
from runner.rules.model import Rule
from runner.timeutil import TimeParseError, parse_absolute


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleCase:
    rule: Rule
    name: str
    events: tuple[Path, ...]
    now: tuple[datetime, ...]
    alert: frozenset[str]
    no_alert: frozenset[str]
    alerts: int | None = None
    status: str | None = None
    exceptions: tuple[ExceptionList, ...] = ()  # attached to the case's rule
    value_lists: tuple[tuple[ValueListInfo, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseResult:
    case: RuleCase
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


_CASE_KEYS = frozenset(
    {"name", "events", "now", "alert", "no_alert", "alerts", "status", "exceptions", "lists"}
)
_STATUSES = ("succeeded", "partial failure", "failed")


def discover_cases(cases_dir: Path, rules: Sequence[Rule]) -> list[RuleCase]:
    """Every case of every given rule that has a folder.

    Malformed ``expected.toml`` files are one UsageError naming every problem of every file
    (file, case and key), so one run shows all there is to fix.
    """
    found: list[RuleCase] = []
    problems: list[str] = []
    for rule in rules:
        folder = cases_dir / rule.stem
        expected = folder / "expected.toml"
        if expected.is_file():
            found += _read_cases(rule, folder, expected, problems)
    if problems:
        raise UsageError("invalid test cases:\n  " + "\n  ".join(problems))
    return found


def _read_cases(rule: Rule, folder: Path, expected: Path, problems: list[str]) -> list[RuleCase]:
    try:
        document = tomllib.loads(expected.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{expected}: {exc}")
        return []
    cases = document.get("case")
    if not isinstance(cases, list) or not cases:
        problems.append(f"{expected}: expected one or more [[case]] tables")
        return []
    found = []
    for position, raw in enumerate(cases):
        where = f"{expected}: case[{position}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a table")
            continue
        before = len(problems)
        case = _read_case(rule, folder, raw, where, problems)
        if case is not None and len(problems) == before:
            found.append(case)
    return found


def _read_case(
    rule: Rule, folder: Path, raw: dict[str, Any], where: str, problems: list[str]
) -> RuleCase | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: each case needs a name")
    problems += [f"{where}: unknown key {key!r}" for key in sorted(set(raw) - _CASE_KEYS)]
    events = raw.get("events") or sorted(p.name for p in folder.glob("*.ndjson"))
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        problems.append(f"{where}.events: expected an array of file names")
        events = []
    paths = tuple(folder / name for name in events)
    problems += [f"{where}.events: file not found: {p}" for p in paths if not p.is_file()]
    alerts = raw.get("alerts")
    if alerts is not None and (not isinstance(alerts, int) or isinstance(alerts, bool)):
        problems.append(f"{where}.alerts: expected a number of alerts")
        alerts = None
    status = raw.get("status")
    if status is not None and status not in _STATUSES:
        problems.append(f"{where}.status: expected one of {', '.join(map(repr, _STATUSES))}")
        status = None
    return RuleCase(
        rule=rule,
        exceptions=_exception_files(folder, raw.get("exceptions", []), where, problems),
        value_lists=_value_lists(folder, raw.get("lists", []), where, problems),
        name=name if isinstance(name, str) else "",
        events=paths,
        now=_times(raw.get("now"), f"{where}.now", problems),
        alert=frozenset(_ids(raw.get("alert", []), f"{where}.alert", problems)),
        no_alert=frozenset(_ids(raw.get("no_alert", []), f"{where}.no_alert", problems)),
        alerts=alerts,
        status=status,
    )


def _exception_files(
    folder: Path, value: Any, where: str, problems: list[str]
) -> tuple[ExceptionList, ...]:
    """``exceptions = ["file.toml"]``: exception list files (detection-rules format) whose
    lists all apply to the case's rule."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}.exceptions: expected an array of file names")
        return ()
    found: list[ExceptionList] = []
    for name in value:
        path = folder / name
        if not path.is_file():
            problems.append(f"{where}.exceptions: file not found: {path}")
            continue
        lists, errors = load_exception_file(path)
        problems += [f"{where}.exceptions: {e}" for e in errors]
        found += lists
    return tuple(found)


def _value_lists(
    folder: Path, value: Any, where: str, problems: list[str]
) -> tuple[tuple[ValueListInfo, tuple[str, ...]], ...]:
    """``lists = [{id = "x", type = "keyword", file = "x.txt"}]``: value lists (one value a
    line) the case's store holds."""
    if not isinstance(value, list):
        problems.append(f"{where}.lists: expected an array of {{id, type, file}} tables")
        return ()
    found = []
    for index, raw in enumerate(value):
        spec = raw if isinstance(raw, dict) else {}
        list_id, kind, name = spec.get("id"), spec.get("type"), spec.get("file")
        if not all(isinstance(v, str) for v in (list_id, kind, name)):
            problems.append(f"{where}.lists[{index}]: expected id, type and file strings")
            continue
        path = folder / str(name)
        try:
            values = read_values(path, str(kind))
        except RunnerError as exc:
            problems.append(f"{where}.lists[{index}]: {exc}")
            continue
        info = ValueListInfo(id=str(list_id), type=str(kind), name=str(list_id))
        found.append((info, values))
    return tuple(found)


def _times(value: Any, where: str, problems: list[str]) -> tuple[datetime, ...]:
    items = [v for v in (value if isinstance(value, list) else [value]) if v is not None]
    if not items:
        problems.append(f"{where}: required (ISO 8601 time of the execution)")
        return ()
    try:
        return tuple(parse_absolute(str(item)) for item in items)
    except TimeParseError as exc:
        problems.append(f"{where}: {exc}")
        return ()


def _ids(value: Any, where: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: expected an array of event ids")
        return []
    return list(value)


@dataclass(frozen=True)
class _CaseExceptions:
    lists: tuple[ExceptionList, ...]

    def lists_for(self, rule: Rule) -> tuple[ExceptionList, ...]:
        return self.lists


def run_case(case: RuleCase) -> CaseResult:
    """Load the case's events into a fresh store, execute the rule at each ``now``, compare."""
    with tempfile.TemporaryDirectory(prefix="runner-test-") as tmp:
        store = Store(Path(tmp) / "case.duckdb")
        try:
            summary = load_events(store, list(case.events))
            if summary.skipped:
                return CaseResult(
                    case=case,
                    problems=tuple(f"event not loaded: {p}" for p in summary.problems),
                )
            backend = EmbeddedBackend(store)
            for info, values in case.value_lists:
                backend.put_list(info, values)
            executor = Executor(
                backend=backend,
                exceptions=_CaseExceptions(case.exceptions),
                value_lists=backend,
            )
            records = [r for now in case.now for r in executor.run(case.rule, now)]
            alerts = backend.list_alerts(rule_ids=[case.rule.rule_id])
        except RunnerError as exc:
            return CaseResult(case=case, problems=(f"error: {exc}",))
        except Exception as exc:  # noqa: BLE001 - one crashing case must not hide the others
            return CaseResult(case=case, problems=(f"crash: {type(exc).__name__}: {exc}",))
    alerted = {
        ancestor["id"]
        for alert in alerts
        for ancestor in alert.get("kibana.alert.ancestors", [])
        if ancestor.get("type") == "event"
    }
    problems = [f"expected an alert for {i}" for i in sorted(case.alert - alerted)]
    problems += [f"unexpected alert for {i}" for i in sorted(case.no_alert & alerted)]
    counted = [a for a in alerts if "kibana.alert.building_block_type" not in a]
    if case.alerts is not None and len(counted) != case.alerts:
        problems.append(f"expected {case.alerts} alert(s), got {len(counted)}")
    if case.status is not None and records and records[-1].status != case.status:
        problems.append(f"expected status {case.status!r}, got {records[-1].status!r}")
    failed = [r for r in records if r.status == "failed"]
    if failed and case.status != "failed":
        problems.append(f"execution failed: {failed[0].message}")
    return CaseResult(case=case, problems=tuple(problems))
