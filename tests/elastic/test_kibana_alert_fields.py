"""runner's alert documents fit Kibana's alerts index (``.alerts-security.alerts-default``).

Every seed rule's cases (tests/rules/: eql events and sequences, query, new_terms, threshold,
ES|QL, indicator match) are executed, and every field of every alert written is checked
against the field map derived from Kibana's source (tests/elastic/kibana_alerts.py): a
``kibana.alert.*`` value of the wrong type, an object where Kibana maps a leaf, or a field
the framework requires and the alert lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.backends.embedded import EmbeddedBackend
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.ruletest import discover_cases
from tests.conftest import REPO_ROOT, SEED_RULES
from tests.elastic.kibana_alerts import problems

CASES = REPO_ROOT / "tests" / "rules"
_CASES_PER_RULE = 2


def _alerts_of_every_case(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    rules = load_rules([SEED_RULES]).rules
    out: dict[str, list[dict[str, Any]]] = {}
    taken: dict[str, int] = {}
    for number, case in enumerate(discover_cases(CASES, rules)):
        # Two cases of each rule: the field map checks the shape of alerts, not each case's
        # outcome (tests/test_rule_cases.py runs them all), and every case costs a store.
        taken[case.rule.rule_id] = taken.get(case.rule.rule_id, 0) + 1
        if taken[case.rule.rule_id] > _CASES_PER_RULE:
            continue
        backend = EmbeddedBackend(Store(tmp_path / f"case-{number}.duckdb"))
        load_events(backend.store, list(case.events))
        for info, values in case.value_lists:
            backend.put_list(info, values)
        executor = Executor(backend=backend, value_lists=backend)
        for now in case.now:
            executor.run(case.rule, now)
        out.setdefault(case.rule.type, []).extend(backend.list_alerts(rule_ids=[case.rule.rule_id]))
    return out


def test_every_rule_types_alerts_fit_kibanas_mapping(tmp_path: Path) -> None:
    by_type = _alerts_of_every_case(tmp_path)
    # The cases cover these types (query rules: tests/contract/test_alerts_as_source.py).
    assert {"eql", "new_terms", "threshold", "esql", "threat_match"} <= {
        t for t, alerts in by_type.items() if alerts
    }
    found = {
        f"{rule_type}: {problem}"
        for rule_type, alerts in by_type.items()
        for alert in alerts
        for problem in problems(alert)
    }
    assert not found, sorted(found)


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ({"kibana.alert.depth": "deep"}, "kibana.alert.depth: 'deep' is not a long"),
        ({"kibana.alert.original_time": "yesterday"}, "is not a date"),
        ({"kibana.alert.rule.name": {"a": 1}}, "is not a keyword"),
        ({"kibana.alert.rule.version": {"major": 1}}, "is not a keyword"),
        ({"kibana": {"alert": {"severity": {"x": 1}}}}, "kibana.alert.severity.x: under"),
        ({}, "kibana.alert.rule.revision: required, missing"),
    ],
)
def test_the_check_finds_what_would_not_fit(alert: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in problems(alert)), problems(alert)
