"""``fields`` merged into alerts as Kibana's ``mergeMissingFieldsWithSource`` does, and the
request option that asks for them (through the real client, on the engine stand-in)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.elastic.source_fields import merge_missing_fields
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from tests.contract.events import process
from tests.contract.test_execution import MIN, NOW, QUERY_RULE, seed, shells
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster


@pytest.mark.parametrize(
    ("source", "fields", "merged"),
    [
        ({}, {"a": ["x"]}, {"a": "x"}),  # one value is unboxed
        ({}, {"a": ["x", "y"]}, {"a": ["x", "y"]}),
        ({}, {"a.b": ["x"]}, {"a": {"b": "x"}}),
        ({"a": "kept"}, {"a": ["other"]}, {"a": "kept"}),  # _source wins
        ({"a.b": "kept"}, {"a.b": ["other"]}, {"a.b": "kept"}),
        ({"a": {"b": "kept"}}, {"a.b": ["x"], "a.c": ["y"]}, {"a": {"b": "kept", "c": "y"}}),
        ({"a.b": {"c": 1}}, {"a.b.d": [2]}, {"a.b": {"c": 1, "d": 2}}),
        ({"a": "primitive"}, {"a.b": ["x"]}, {"a": "primitive"}),  # path not open
        ({}, {"a": ["x"], "a.keyword": ["x"]}, {"a": "x"}),  # multi-field left out
        ({}, {"n": [{"b": 1}]}, {}),  # nested objects left out
        ({}, {"loc": [{"type": "Point", "coordinates": [1, 2]}]}, {}),  # typed object
        ({}, {"_ignored": ["a"], ".x": [1], "a..b": [1], "e": []}, {}),
    ],
)
def test_merge_missing_fields_with_source(
    source: dict[str, Any], fields: dict[str, Any], merged: dict[str, Any]
) -> None:
    before = json.dumps(source)
    assert merge_missing_fields(source, fields) == merged
    assert json.dumps(source) == before  # the hit itself is not changed


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[ElasticsearchBackend]:
    cluster = EngineCluster(tmp_path / "c.duckdb").start()
    try:
        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as es:
            es.setup()
            # A value the documents' _source never holds: a constant_keyword of the mapping.
            es.client.request("PUT", "/_index_template/process-events", {
                "index_patterns": ["logs-endpoint.events.process-*"], "priority": 500,
                "data_stream": {}, "composed_of": ["logs@mappings", "ecs@mappings"],
                "template": {"mappings": {"properties": {"observer": {"properties": {
                    "vendor": {"type": "constant_keyword", "value": "Elastic"}}}}}},
            })  # fmt: skip
            events = [process("tp-1", NOW - 2 * MIN), process("tp-2", NOW - 3 * MIN)]
            assert not es.index_events(json.dumps(e) for e in events).failed
            yield es
    finally:
        cluster.stop()
    assert not cluster.unexpected


def test_eql_alerts_carry_values_only_fields_hold(backend: ElasticsearchBackend) -> None:
    rule = seed("emond")
    (record,) = Executor(backend=backend).run(rule, NOW)
    assert record.alerts_created == 2
    alerts = shells(backend, rule)
    assert all(a["observer"]["vendor"] == "Elastic" for a in alerts)  # type: ignore[index]
    assert all(a["process"]["name"] == "bash" for a in alerts)  # type: ignore[index]


def test_query_alerts_carry_values_only_fields_hold(
    backend: ElasticsearchBackend, tmp_path: Path
) -> None:
    path = tmp_path / "q.toml"
    path.write_text(QUERY_RULE)
    (rule,) = load_rules([path]).rules
    (record,) = Executor(backend=backend).run(rule, NOW)
    assert record.alerts_created == 2
    assert {a["observer"]["vendor"] for a in shells(backend, rule)} == {"Elastic"}  # type: ignore[index]


ESQL_RULE = """[metadata]
creation_date = "2024/05/01"
maturity = "production"
updated_date = "2024/05/01"

[rule]
author = ["runner tests"]
description = "ES|QL with source documents."
from = "now-9m"
interval = "5m"
risk_score = 47
severity = "medium"
rule_id = "c0ffee00-0000-4000-8000-0000000000e5"
name = "ES|QL emond children"
type = "esql"
language = "esql"
query = '''FROM logs-endpoint.events.process-* METADATA _id, _index, _version
| WHERE process.parent.name == "emond"
| KEEP _id, _index, _version, process.name'''
"""

NEW_TERMS_RULE = """[metadata]
creation_date = "2024/05/01"
maturity = "production"
updated_date = "2024/05/01"

[rule]
author = ["runner tests"]
description = "New process names."
from = "now-9m"
interval = "5m"
risk_score = 47
severity = "medium"
rule_id = "c0ffee00-0000-4000-8000-0000000000e6"
name = "New emond child names"
type = "new_terms"
language = "kuery"
index = ["logs-endpoint.events.process-*"]
query = "process.parent.name:emond"

[rule.new_terms]
field = "new_terms_fields"
value = ["process.name"]

[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-7d"
"""


def _rule(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "rule.toml"
    path.write_text(text)
    (rule,) = load_rules([path]).rules
    return rule


def test_esql_source_documents_carry_values_only_fields_hold(
    backend: ElasticsearchBackend, tmp_path: Path
) -> None:
    # Kibana's fetchSourceDocuments asks `fields: ["*"]`; transformHitToAlert merges them.
    rule = _rule(tmp_path, ESQL_RULE)
    (record,) = Executor(backend=backend).run(rule, NOW)
    assert record.alerts_created == 2
    alerts = backend.list_alerts(rule_ids=[rule.rule_id])
    assert {a["observer"]["vendor"] for a in alerts} == {"Elastic"}
    assert all(a["process.name"] == "bash" for a in alerts)  # the row's value, flat


def test_new_terms_alerts_have_only_source_as_in_kibana(
    backend: ElasticsearchBackend, tmp_path: Path
) -> None:
    # Kibana fetches new_terms documents with `top_hits`, whose hits carry no `fields` (the
    # search's `fields` option applies to top-level hits only): no constant_keyword value.
    rule = _rule(tmp_path, NEW_TERMS_RULE)
    (record,) = Executor(backend=backend).run(rule, NOW)
    assert record.alerts_created == 1
    (alert,) = backend.list_alerts(rule_ids=[rule.rule_id])
    assert alert["process"]["name"] == "bash"
    assert "observer" not in alert
