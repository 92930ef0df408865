"""Alerts as a source: correlation rules over ``.alerts-security.*``, on both backends.

``embedded``: the store's alerts answer the pattern (runner/embedded/alert_index.py).
``stand-in``: the Elasticsearch backend writes its alerts through Kibana's write alias
``.alerts-security.alerts-default`` into Kibana's concrete index (created on the engine
stand-in with the mapping derived from Kibana's source, ``dynamic: false``), and the rules
search ``.alerts-security.*`` through the real client.  Both must give the same alerts, and
every alert written must fit Kibana's mapping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.backends.base import Backend
from runner.backends.elasticsearch import ElasticsearchBackend
from runner.backends.embedded import EmbeddedBackend
from runner.embedded.store import Store
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.rules.select import resolve_rule
from tests.conftest import SEED_RULES
from tests.contract.conftest import Harness
from tests.contract.events import process
from tests.elastic import kibana_alerts
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
EMOND_ID = "3e3d15c6-1509-479a-b125-21718372157e"  # rules/emond_child_process.toml

_HEADER = """[metadata]
creation_date = "2024/05/01"
maturity = "production"
updated_date = "2024/05/01"

[rule]
author = ["runner tests"]
description = "Correlates alerts."
from = "now-10m"
interval = "5m"
max_signals = 100
risk_score = 73
severity = "high"
"""

RULES = {
    "on_emond_eql": f"""{_HEADER}
rule_id = "c0ffee00-0000-4000-8000-000000000001"
name = "EQL on emond alerts"
type = "eql"
language = "eql"
index = [".alerts-security.*"]
query = 'any where event.kind == "signal" and kibana.alert.rule.rule_id == "{EMOND_ID}"'
""",
    "every_alert_query": f"""{_HEADER}
rule_id = "c0ffee00-0000-4000-8000-000000000002"
name = "Query on every alert"
type = "query"
language = "kuery"
index = [".alerts-security.*"]
query = "event.kind:signal and kibana.alert.rule.name:*"
""",
    "emond_per_host_threshold": f"""{_HEADER}
rule_id = "c0ffee00-0000-4000-8000-000000000003"
name = "Threshold on emond alerts per host"
type = "threshold"
language = "kuery"
index = [".alerts-security.*"]
query = 'kibana.alert.rule.rule_id:"{EMOND_ID}" and event.kind:signal'

[rule.threshold]
field = ["host.id"]
value = 2
""",
    "emond_per_host_esql": f"""{_HEADER}
rule_id = "c0ffee00-0000-4000-8000-000000000004"
name = "ES|QL on emond alerts per host"
type = "esql"
language = "esql"
query = '''FROM .alerts-security.*
| WHERE kibana.alert.rule.rule_id == "{EMOND_ID}" AND host.id IS NOT NULL
| STATS Esql.alerts_count = COUNT(*) BY host.id
| WHERE Esql.alerts_count >= 2'''
""",
}

# ECS fields the rules read, as Kibana's alerts index maps them through its ECS component
# template (`.alerts-ecs-mappings`; the rest of ECS is left out here).
_ECS = {"host.id": "keyword", "host.name": "keyword", "user.name": "keyword"}


@dataclass
class Side:
    harness: Harness
    executor: Callable[[datetime], Executor]


@pytest.fixture(params=["embedded", "stand-in"])
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Side]:
    def executor_for(backend: Backend) -> Callable[[datetime], Executor]:
        # Alerts are stamped with the executor's clock: the correlation windows must see them.
        return lambda at: Executor(backend=backend, clock=lambda: at)

    if request.param == "embedded":
        backend = EmbeddedBackend(Store(tmp_path / "store.duckdb"))
        yield Side(Harness(backend=backend, tmp=tmp_path, kind="embedded"), executor_for(backend))
        return
    cluster = EngineCluster(tmp_path / "cluster.duckdb").start()
    try:
        kibana_alerts.install(cluster.node, extra=_ECS)
        with ElasticsearchBackend(
            cluster.settings(), retry=FAST_RETRY, alerts_index=kibana_alerts.ALIAS
        ) as es:
            es.setup()
            harness = Harness(backend=es, tmp=tmp_path, kind="stand-in")
            yield Side(harness, executor_for(es))
    finally:
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]


@pytest.fixture
def rules(tmp_path: Path) -> dict[str, Rule]:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name, text in RULES.items():
        (folder / f"{name}.toml").write_text(text)
    loaded = load_rules([folder, SEED_RULES])
    assert not loaded.errors, loaded.errors
    by_stem = {r.path.stem: r for r in loaded.rules}
    by_stem["emond"] = resolve_rule(loaded.rules, "emond_child_process")
    return by_stem


def _alerts(backend: Backend, rule: Rule) -> list[dict[str, Any]]:
    return backend.list_alerts(rule_ids=[rule.rule_id])


def _emond_alerts(side: Side, rules: dict[str, Rule]) -> list[dict[str, Any]]:
    side.harness.load(
        [
            process("e-1", NOW - 2 * MIN),
            process("e-2", NOW - 3 * MIN, name="python3"),
            process("e-other-host", NOW - 2 * MIN, host="mac-02"),
        ]
    )
    [record] = side.executor(NOW).run(rules["emond"], NOW)
    assert record.alerts_created == 3, record
    return _alerts(side.harness.backend, rules["emond"])


def test_an_eql_rule_alerts_on_another_rules_alerts(side: Side, rules: dict[str, Rule]) -> None:
    emond = {a["kibana.alert.uuid"]: a for a in _emond_alerts(side, rules)}
    later = NOW + MIN
    [record] = side.executor(later).run(rules["on_emond_eql"], later)
    assert (record.status, record.alerts_created) == ("succeeded", 3), record
    alerts = _alerts(side.harness.backend, rules["on_emond_eql"])
    parents = set()
    for alert in alerts:
        # buildAncestors: the emond alert's own ancestors, then the emond alert as a signal.
        event, signal = alert["kibana.alert.ancestors"]
        assert event["type"] == "event"
        assert signal == {
            "id": signal["id"],
            "type": "signal",
            "index": kibana_alerts.INDEX,
            "depth": 1,
            "rule": EMOND_ID,
        }
        assert alert["kibana.alert.depth"] == 2
        assert alert["kibana.alert.rule.rule_id"] == rules["on_emond_eql"].rule_id
        parents.add(signal["id"])
    assert parents == set(emond)
    for alert in [*emond.values(), *alerts]:
        assert kibana_alerts.problems(alert) == []


def test_a_rule_never_alerts_on_its_own_alerts(side: Side, rules: dict[str, Rule]) -> None:
    _emond_alerts(side, rules)
    query = rules["every_alert_query"]
    first_at = NOW + MIN
    [first] = side.executor(first_at).run(query, first_at)
    assert first.alerts_created == 3  # the emond alerts
    # Five minutes on, the window still holds the emond alerts and the rule's own three:
    # its own are dropped (Kibana's wrapHits), the emond ones are duplicates.
    second_at = first_at + 5 * MIN
    [second] = side.executor(second_at).run(query, second_at)
    assert (second.alerts_created, second.duplicates) == (0, 3), second
    alerts = _alerts(side.harness.backend, query)
    assert len(alerts) == 3
    assert all(a["kibana.alert.ancestors"][-1]["rule"] == EMOND_ID for a in alerts)
    for alert in alerts:
        assert kibana_alerts.problems(alert) == []


def test_aggregating_rules_count_alerts(side: Side, rules: dict[str, Rule]) -> None:
    _emond_alerts(side, rules)
    later = NOW + MIN
    threshold = rules["emond_per_host_threshold"]
    [record] = side.executor(later).run(threshold, later)
    assert (record.status, record.alerts_created) == ("succeeded", 1), record
    [alert] = _alerts(side.harness.backend, threshold)
    assert alert["kibana.alert.threshold_result"]["terms"] == [
        {"field": "host.id", "value": "id-mac-01"}
    ]
    assert alert["kibana.alert.threshold_result"]["count"] == 2
    assert kibana_alerts.problems(alert) == []

    esql = rules["emond_per_host_esql"]
    [record] = side.executor(later).run(esql, later)
    assert (record.status, record.alerts_created) == ("succeeded", 1), record
    [alert] = _alerts(side.harness.backend, esql)
    assert alert["host.id"] == "id-mac-01"
    assert alert["Esql.alerts_count"] == 2
    assert kibana_alerts.problems(alert) == []


def test_setup_leaves_kibanas_alerts_index_alone(tmp_path: Path) -> None:
    cluster = EngineCluster(tmp_path / "cluster.duckdb").start()
    try:
        with ElasticsearchBackend(
            cluster.settings(), retry=FAST_RETRY, alerts_index=kibana_alerts.ALIAS
        ) as es:
            # Before Kibana made it: a clear error, and nothing created in its place.
            with pytest.raises(Exception, match="open Kibana's Security app once"):
                es.setup()
            assert kibana_alerts.ALIAS not in cluster.node.indices
            kibana_alerts.install(cluster.node)
            before = json.dumps(cluster.node.indices[kibana_alerts.INDEX].mapping.raw)
            steps = es.setup()
            assert (kibana_alerts.ALIAS, "exists") in {(s.name, s.action) for s in steps}
            assert not any(s.name == kibana_alerts.ALIAS and s.kind == "index template"
                           for s in steps)  # fmt: skip
            assert kibana_alerts.ALIAS not in cluster.node.templates
            assert json.dumps(cluster.node.indices[kibana_alerts.INDEX].mapping.raw) == before
    finally:
        cluster.stop()
