"""Every prebuilt EQL and KQL rule query (../shared/reference) runs on the embedded engine."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from runner.embedded.search import search_eql, search_kql
from runner.embedded.store import Store
from runner.eql import parse_eql
from runner.errors import QueryError, RunnerError
from runner.kql import parse_kql
from runner.search import EqlRequest, KqlRequest
from tests.conftest import reference_dir
from tests.embedded.conftest import Loader

SAMPLE = [
    {
        "n": 1,
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "process": {"name": "bash", "args": ["-c", "x"], "pid": 1, "parent": {"name": "sh"}},
        "host": {"os": {"type": "linux"}, "id": "h"},
        "user": {"name": "root"},
    },
    {
        "n": 2,
        "event": {"category": ["network"], "type": ["start"]},
        "destination": {"ip": "10.0.0.1", "port": 443},
        "source": {"ip": "::1"},
        "process": {"name": "curl", "pid": 2},
        "file": {"path": "/tmp/x", "name": "x"},
    },
]


def _rule_queries(root: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    found = []
    for folder in ("rules", "rules_building_block"):
        for path in sorted((root / "detection-rules" / folder).rglob("*.toml")):
            if "_deprecated" in path.parts:
                continue
            rule = tomllib.loads(path.read_text()).get("rule", {})
            if rule.get("type") not in ("eql", "query", "new_terms") or "query" not in rule:
                continue
            if rule.get("language") in ("eql", "kuery"):
                found.append(
                    (path.name, rule["language"], rule["query"], tuple(rule.get("index", ())))
                )
    return found


@pytest.mark.reference
def test_every_rule_query_runs(store: Store, load: Loader) -> None:
    root = reference_dir()
    if root is None:
        pytest.skip("reference data (../shared/reference) is not present")
    queries = _rule_queries(root)
    assert len(queries) > 1500
    load(SAMPLE)
    failures: list[str] = []
    with store.connect():  # one connection for all: searches reuse it
        for name, language, text, indices in queries:
            try:
                if language == "eql":
                    search_eql(store, EqlRequest(query=parse_eql(text), indices=indices, size=5))
                else:
                    search_kql(store, KqlRequest(query=parse_kql(text), indices=indices, size=5))
            except QueryError as exc:
                if "does not parse" in str(exc):
                    continue  # the parsers' own suites cover syntax
                failures.append(f"{name}: {exc}")
            except RunnerError as exc:
                failures.append(f"{name}: {exc}")
    assert failures == []
