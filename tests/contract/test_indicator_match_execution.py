"""Indicator match rules through the execution core, on both backends.

``embedded`` searches a DuckDB store; ``cluster`` goes through the real ``elasticsearch``
client to the engine-backed loopback stand-in (tests/elastic/engine_cluster.py: points in
time, ``_shard_doc`` paging, query DSL and ``_field_caps`` computed from the documents it was
sent).  Expectations follow Kibana's
indicator match executor: mapping entries ANDed within a block, blocks ORed, the threat query
and filters limiting the indicators, and every matched indicator recorded in
``threat.enrichments``.
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
EVENTS = "logs-endpoint.events.file-default"
INDICATORS = "logs-ti_abusech.malware-default"

RULE = """[rule]
name = "Threat Intel Indicator Match"
rule_id = "im-1"
type = "threat_match"
language = "kuery"
description = "d"
risk_score = 73
severity = "high"
from = "now-9m"
interval = "5m"
index = ["logs-endpoint.events.*"]
query = "file.hash.md5:* or source.ip:*"
threat_index = ["logs-ti_*"]
threat_query = '@timestamp >= "now-30d/d" and event.module:ti_*'
threat_indicator_path = "threat.indicator"
{extra}

[[rule.threat_filters]]
[rule.threat_filters.meta]
negate = false
disabled = false
[rule.threat_filters.query.match_phrase]
"event.kind" = "enrichment"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "file.hash.md5"
type = "mapping"
value = "threat.indicator.file.hash.md5"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "source.ip"
type = "mapping"
value = "threat.indicator.ip"
[[rule.threat_mapping.entries]]
field = "destination.port"
type = "mapping"
value = "threat.indicator.port"
"""


@dataclass
class Side:
    kind: str
    backend: Backend
    store: Store
    cluster: EngineCluster | None = None


@pytest.fixture(params=["embedded", "cluster"])
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Side]:
    store = Store(tmp_path / "events.duckdb")
    if request.param == "embedded":
        yield Side(kind="embedded", backend=EmbeddedBackend(store), store=store)
        return
    cluster = EngineCluster(tmp_path / "cluster.duckdb", clock=lambda: NOW).start()
    try:
        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as backend:
            backend.setup()
            yield Side(kind="cluster", backend=backend, store=store, cluster=cluster)
    finally:
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]
    assert cluster.node.pits == {}, "every point in time is closed"


def load(side: Side, tmp: Path, docs: list[dict[str, Any]]) -> None:
    if isinstance(side.backend, ElasticsearchBackend):
        outcome = side.backend.index_events(json.dumps(d) for d in docs)
        assert not outcome.failed, outcome.failed
        return
    path = tmp / f"docs-{len(list(tmp.glob('docs-*')))}.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    summary = load_events(side.store, [path])
    assert summary.skipped == 0, summary.problems


def rule(tmp: Path, extra: str = "") -> Rule:
    (tmp / "rules").mkdir(exist_ok=True)
    path = tmp / "rules" / "im.toml"
    path.write_text(RULE.replace("{extra}", extra))
    rule_set = load_rules([path])
    assert rule_set.errors == (), [e.pretty() for e in rule_set.errors]
    return rule_set.rules[0]


def at(minutes_before_now: float) -> str:
    return (NOW - timedelta(minutes=minutes_before_now)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def event(doc_id: str, minute: float, **fields: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "@timestamp": at(9 - minute),
        "event": {"category": ["file"], "type": ["creation"]},
        "host": {"name": "ws-1"},
    }
    if "md5" in fields:
        source["file"] = {"name": "a.exe", "hash": {"md5": fields["md5"]}}
    if "ip" in fields:
        source["source"] = {"ip": fields["ip"]}
    if "port" in fields:
        source["destination"] = {"port": fields["port"]}
    return {"_index": EVENTS, "_id": doc_id, "_source": source}


def indicator(
    doc_id: str, *, days_old: float = 1, kind: str = "enrichment", **fields: Any
) -> dict[str, Any]:
    ind: dict[str, Any] = {"type": "file", "provider": "abuse.ch"}
    if "md5" in fields:
        ind["file"] = {"hash": {"md5": fields["md5"]}}
    if "ip" in fields:
        ind["ip"] = fields["ip"]
        ind["type"] = "ipv4-addr"
    if "port" in fields:
        ind["port"] = fields["port"]
    return {
        "_index": INDICATORS,
        "_id": doc_id,
        "_source": {
            "@timestamp": at(days_old * 24 * 60),
            "event": {"kind": kind, "category": "threat", "type": "indicator",
                      "module": "ti_abusech"},
            "threat": {"indicator": ind, "feed": {"name": "AbuseCH Malware"}},
        },
    }  # fmt: skip


def alerts(backend: Backend, r: Rule) -> dict[str, dict[str, Any]]:
    return {
        a["kibana.alert.ancestors"][0]["id"]: a for a in backend.list_alerts(rule_ids=[r.rule_id])
    }


def test_hash_match_alerts_with_enrichment(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            indicator("i-md5", md5="aaa111"),
            indicator("i-old", md5="bbb222", days_old=40),  # outside the threat query's 30 days
            indicator("i-other-kind", md5="ccc333", kind="event"),  # fails the threat filter
            event("e-hit", 2, md5="aaa111"),
            event("e-old-indicator", 3, md5="bbb222"),
            event("e-filtered-indicator", 4, md5="ccc333"),
            event("e-no-indicator", 5, md5="ddd444"),
            event("e-before-window", -1, md5="aaa111"),
        ],
    )
    r = rule(tmp_path)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created) == ("succeeded", 1)
    found = alerts(side.backend, r)
    assert set(found) == {"e-hit"}
    alert = found["e-hit"]
    assert alert["threat"]["enrichments"] == [
        {
            "feed": {"name": "AbuseCH Malware"},
            "indicator": {"type": "file", "provider": "abuse.ch",
                          "file": {"hash": {"md5": "aaa111"}}},
            "matched": {
                "atomic": "aaa111",
                "field": "file.hash.md5",
                "id": "i-md5",
                "index": INDICATORS,
                "type": "indicator_match_rule",
            },
        }
    ]  # fmt: skip
    assert alert["kibana.alert.rule.type"] == "threat_match"
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.indicatorRule"
    assert alert["kibana.alert.rule.parameters"]["threat_index"] == ["logs-ti_*"]
    assert alert["file"]["hash"]["md5"] == "aaa111"


def test_entries_of_a_block_are_anded(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            indicator("i-ip", ip="203.0.113.9", port=4444),
            event("e-both", 2, ip="203.0.113.9", port=4444),
            event("e-ip-only", 3, ip="203.0.113.9", port=443),
            event("e-port-only", 4, ip="198.51.100.1", port=4444),
        ],
    )
    r = rule(tmp_path)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert record.alerts_created == 1
    (alert,) = alerts(side.backend, r).values()
    assert alert["kibana.alert.ancestors"][0]["id"] == "e-both"
    matched = [
        (e["matched"]["field"], e["matched"]["atomic"]) for e in alert["threat"]["enrichments"]
    ]
    assert matched == [("source.ip", "203.0.113.9"), ("destination.port", 4444)]


def test_blocks_are_ored_and_all_matches_are_recorded(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            indicator("i-md5", md5="aaa111"),
            indicator("i-md5-again", md5="aaa111"),
            indicator("i-ip", ip="203.0.113.9", port=4444),
            event("e-all", 2, md5="aaa111", ip="203.0.113.9", port=4444),
        ],
    )
    r = rule(tmp_path)
    Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    (alert,) = alerts(side.backend, r).values()
    pairs = sorted(
        (e["matched"]["id"], e["matched"]["field"]) for e in alert["threat"]["enrichments"]
    )
    assert pairs == [
        ("i-ip", "destination.port"),
        ("i-ip", "source.ip"),
        ("i-md5", "file.hash.md5"),
        ("i-md5-again", "file.hash.md5"),
    ]


def test_indicators_are_paged(side: Side, tmp_path: Path) -> None:
    """Five indicators two at a time: every matching event is found once, and an event that
    matches indicators of different pages carries both."""
    docs = [indicator(f"i-{n}", md5=f"h{n}") for n in range(5)]
    docs += [event(f"e-{n}", 1 + n, md5=f"h{n}") for n in range(5)]
    docs.append(indicator("i-dup", md5="h0"))  # on the last page, matches e-0 too
    load(side, tmp_path, docs)
    r = rule(tmp_path, "items_per_search = 2")
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created, record.duplicates) == ("succeeded", 5, 0)
    found = alerts(side.backend, r)
    assert sorted(found) == [f"e-{n}" for n in range(5)]
    ids = sorted(e["matched"]["id"] for e in found["e-0"]["threat"]["enrichments"])
    assert ids == ["i-0", "i-dup"]
    if side.cluster is not None:
        opened = [
            r for r in side.cluster.requests if r.method == "POST" and r.path.endswith("/_pit")
        ]
        assert len(opened) >= 2  # the page walk and at least one enrichment search


def test_overlapping_windows_do_not_alert_an_event_twice(side: Side, tmp_path: Path) -> None:
    load(side, tmp_path, [indicator("i-md5", md5="aaa111"), event("e-hit", 7, md5="aaa111")])
    r = rule(tmp_path)
    (first,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    later = NOW + timedelta(minutes=5)
    (second,) = Executor(backend=side.backend, clock=lambda: later).run(r, later)
    assert (first.alerts_created, second.alerts_created, second.duplicates) == (1, 0, 1)


def test_cap_writes_max_signals_and_reports_it(side: Side, tmp_path: Path) -> None:
    docs = [indicator("i-md5", md5="aaa111")]
    docs += [event(f"e-{n}", 1 + n, md5="aaa111") for n in range(4)]
    load(side, tmp_path, docs)
    r = replace(rule(tmp_path), max_signals=2)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created, record.capped) == ("partial failure", 2, True)
    # Events are read newest first (Kibana's order for indicator match): the newest are kept.
    assert sorted(alerts(side.backend, r)) == ["e-2", "e-3"]


def test_both_backends_give_the_same_alerts(tmp_path: Path) -> None:
    docs = [
        indicator("i-md5", md5="aaa111"),
        indicator("i-ip", ip="203.0.113.9", port=4444),
        event("e-1", 2, md5="aaa111"),
        event("e-2", 3, ip="203.0.113.9", port=4444, md5="aaa111"),
        event("e-3", 4, ip="203.0.113.9", port=80),
    ]
    found: list[list[tuple[str, str]]] = []
    for kind in ("embedded", "cluster"):
        folder = tmp_path / kind
        folder.mkdir()
        store = Store(folder / "events.duckdb")
        r = rule(folder, "items_per_search = 1")
        cluster = None
        if kind == "embedded":
            backend: Backend = EmbeddedBackend(store)
        else:
            cluster = EngineCluster(folder / "cluster.duckdb", clock=lambda: NOW).start()
            backend = ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY)
            backend.setup()
        try:
            load(Side(kind=kind, backend=backend, store=store), folder, docs)
            Executor(backend=backend, clock=lambda: NOW).run(r, NOW)
            found.append(
                sorted(
                    (a["kibana.alert.uuid"], json.dumps(a["threat"]["enrichments"], sort_keys=True))
                    for a in backend.list_alerts(rule_ids=[r.rule_id])
                )
            )
        finally:
            if isinstance(backend, ElasticsearchBackend):
                backend.close()
            if cluster is not None:
                cluster.stop()
    assert len(found[0]) == 2 and found[0] == found[1]
