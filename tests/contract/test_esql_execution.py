"""ES|QL rules through the execution core, on both backends.

``embedded`` runs the query on a DuckDB store; ``stand-in`` goes through the real
``elasticsearch`` client to the engine-backed loopback stand-in
(tests/elastic/engine_cluster.py), whose ``_query`` answers are computed by the same engine
from the documents written with ``_bulk``.  Both must give the same alerts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.backends.base import Backend
from runner.backends.elasticsearch import ElasticsearchBackend
from runner.backends.embedded import EmbeddedBackend
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster

NOW = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
INDEX = "logs-endpoint.events.process-default"

NON_AGGREGATING = """FROM logs-endpoint.events.process-* METADATA _id, _index, _version
| WHERE host.os.type == "linux" AND event.type == "start" AND process.parent.name == "nginx"
    AND process.name IN ("sh", "bash") AND NOT process.command_line LIKE "*healthcheck*"
| KEEP @timestamp, _id, _index, _version, host.name, process.name, process.command_line"""

AGGREGATING = """FROM logs-endpoint.events.process-*
| WHERE process.parent.name == "nginx"
| STATS Esql.event_count = COUNT(*), Esql.process_name_values = VALUES(process.name)
    BY host.name
| WHERE Esql.event_count >= 2
| SORT host.name"""


@dataclass
class Side:
    backend: Backend
    store: Store  # the documents (for the cluster: what its stand-in computes from)
    through_api: bool = False  # events are written with _bulk (the engine stand-in)


@pytest.fixture(params=["embedded", "stand-in"])
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Side]:
    if request.param == "embedded":
        store = Store(tmp_path / "events.duckdb")
        yield Side(backend=EmbeddedBackend(store), store=store)
        return
    engine = EngineCluster(tmp_path / "cluster.duckdb", clock=lambda: NOW).start()
    try:
        with ElasticsearchBackend(engine.settings(), retry=FAST_RETRY) as backend:
            backend.setup()
            yield Side(backend=backend, store=engine.node.store, through_api=True)
    finally:
        engine.stop()
    assert not engine.unexpected, [r.target for r in engine.unexpected]


def load(side: Side, tmp: Path, events: list[dict[str, Any]]) -> None:
    if side.through_api:
        assert isinstance(side.backend, ElasticsearchBackend)
        outcome = side.backend.index_events(json.dumps(e) for e in events)
        assert not outcome.failed, outcome.failed
        return
    path = tmp / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = load_events(side.store, [path])
    assert summary.skipped == 0


def rule(tmp: Path, query: str, **extra: Any) -> Rule:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
    (tmp / "rules").mkdir(exist_ok=True)
    path = tmp / "rules" / "r.toml"
    path.write_text(
        '[rule]\nname = "Web shell child"\nrule_id = "esql-1"\ntype = "esql"\n'
        'language = "esql"\ndescription = "d"\nrisk_score = 47\nseverity = "medium"\n'
        'from = "now-9m"\ninterval = "5m"\ntimestamp_override = "event.ingested"\n'
        f"{lines}query = '''{query}'''\n"
    )
    rule_set = load_rules([path])
    assert rule_set.errors == ()
    return rule_set.rules[0]


def event(
    doc_id: str, minute: int, *, host: str = "web-1", name: str = "sh", args: str = "sh -c id"
) -> dict[str, Any]:
    when = (NOW - timedelta(minutes=9 - minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "_index": INDEX,
        "_id": doc_id,
        "_source": {
            "@timestamp": when,
            "event": {"category": ["process"], "type": ["start"], "ingested": when},
            "host": {"name": host, "os": {"type": "linux"}},
            "process": {
                "name": name,
                "args": args.split(),
                "command_line": args,
                "parent": {"name": "nginx"},
            },
        },
    }


def alerts(backend: Backend, r: Rule) -> list[dict[str, Any]]:
    return backend.list_alerts(rule_ids=[r.rule_id])


def test_non_aggregating_rule_alerts_source_documents(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            event("a1", 2, args="sh -c id"),
            event("a2", 3, name="bash", args="bash -i"),
            event("a3", 4, args="sh healthcheck"),  # excluded by NOT LIKE
            event("a4", 5, name="curl"),
        ],
    )
    r = rule(tmp_path, NON_AGGREGATING)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created) == ("succeeded", 2)
    found = sorted(alerts(side.backend, r), key=lambda a: a["kibana.alert.ancestors"][0]["id"])
    assert [a["kibana.alert.ancestors"][0]["id"] for a in found] == ["a1", "a2"]
    first = found[0]
    # The row is merged over the fetched source document: kept and other fields both present.
    assert first["process.name"] == "sh"
    assert first["process"]["parent"]["name"] == "nginx"
    assert first["kibana.alert.rule.type"] == "esql"
    assert first["kibana.alert.original_time"] == first["@timestamp"] or first["@timestamp"]


def test_overlapping_windows_do_not_alert_a_document_twice(side: Side, tmp_path: Path) -> None:
    load(side, tmp_path, [event("a1", 6), event("a2", 7, name="bash")])
    r = rule(tmp_path, NON_AGGREGATING)
    executor = Executor(backend=side.backend, clock=lambda: NOW)
    (first,) = executor.run(r, NOW)
    later = NOW + timedelta(minutes=1)  # overlaps the first window by 8 minutes
    (second,) = Executor(backend=side.backend, clock=lambda: later).run(r, later)
    assert (first.alerts_created, second.alerts_created, second.duplicates) == (2, 0, 2)
    assert len(alerts(side.backend, r)) == 2


def test_aggregating_rule_one_alert_per_row(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            event("b1", 1, host="web-1"),
            event("b2", 2, host="web-1", name="bash"),
            event("b3", 3, host="web-2"),
            event("b4", 4, host="web-3"),
            event("b5", 5, host="web-3", name="sh"),
        ],
    )
    r = rule(tmp_path, AGGREGATING)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created) == ("succeeded", 2)
    rows = sorted(alerts(side.backend, r), key=lambda a: a["host.name"])
    assert [(a["host.name"], a["Esql.event_count"]) for a in rows] == [("web-1", 2), ("web-3", 2)]
    assert rows[0]["Esql.process_name_values"] == ["bash", "sh"]
    assert rows[1]["Esql.process_name_values"] == "sh"
    # Re-running the same window finds the same rows: no new alerts.
    (again,) = Executor(backend=side.backend, clock=lambda: NOW).run(
        replace(r, rule_id=r.rule_id), NOW, manual=True
    )
    assert (again.alerts_created, again.duplicates) == (0, 2)


def test_cap_writes_max_signals_and_reports_it(side: Side, tmp_path: Path) -> None:
    load(side, tmp_path, [event(f"c{i}", 1 + i % 7, name="sh") for i in range(12)])
    r = replace(rule(tmp_path, NON_AGGREGATING), max_signals=5)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created, record.capped) == ("partial failure", 5, True)
    assert "maximum alert limit" in record.message
    assert len(alerts(side.backend, r)) == 5


def test_both_backends_give_the_same_alert_ids(tmp_path: Path) -> None:
    events = [event("d1", 2), event("d2", 3, name="bash"), event("d3", 4, host="web-2")]
    ids: list[set[str]] = []
    for kind in ("embedded", "stand-in"):
        folder = tmp_path / kind
        folder.mkdir()
        r = rule(folder, NON_AGGREGATING)
        if kind == "embedded":
            store = Store(folder / "events.duckdb")
            backend: Backend = EmbeddedBackend(store)
            load(Side(backend=backend, store=store), folder, events)
            Executor(backend=backend, clock=lambda: NOW).run(r, NOW)
            ids.append({a["kibana.alert.uuid"] for a in alerts(backend, r)})
            continue
        engine = EngineCluster(folder / "cluster.duckdb", clock=lambda: NOW).start()
        try:
            with ElasticsearchBackend(engine.settings(), retry=FAST_RETRY) as es:
                es.setup()
                load(Side(backend=es, store=engine.node.store, through_api=True), folder, events)
                Executor(backend=es, clock=lambda: NOW).run(r, NOW)
                ids.append({a["kibana.alert.uuid"] for a in alerts(es, r)})
        finally:
            engine.stop()
    assert len(ids[0]) == 3 and ids[0] == ids[1]


def test_the_stand_in_drops_columns_null_in_every_row(tmp_path: Path) -> None:
    # Kibana asks `drop_null_columns=true`: a column null in every row is not in the answer.
    from runner.esql import parse_esql
    from runner.search import EsqlRequest

    engine = EngineCluster(tmp_path / "cluster.duckdb", clock=lambda: NOW).start()
    try:
        with ElasticsearchBackend(engine.settings(), retry=FAST_RETRY) as es:
            es.setup()
            load(Side(backend=es, store=engine.node.store, through_api=True), tmp_path,
                 [event("n1", 2), event("n2", 3, host="web-2")])  # fmt: skip
            query = parse_esql(
                f"FROM {INDEX} | EVAL nothing = TO_STRING(null), h = host.name | KEEP h, nothing"
            )
            result = es.search_esql(EsqlRequest(query=query))
    finally:
        engine.stop()
    assert [c.name for c in result.columns] == ["h"]
    assert sorted(row[0] for row in result.values) == ["web-1", "web-2"]
