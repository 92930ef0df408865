"""Threshold rules through the execution core, on both backends.

``embedded`` groups with SQL on a DuckDB store; ``cluster`` goes through the real
``elasticsearch`` client to the engine-backed loopback stand-in (tests/elastic/engine_cluster.py),
whose ``_search`` aggregations and ``_field_caps`` are computed from the documents it was
sent.  Expectations come from Kibana's threshold executor: groups with at least ``value``
events (and ``cardinality`` distinct values) alert once, and later windows only count events
newer than a group's last alert.
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
from runner.ruletypes.threshold import threshold_request
from runner.search import ThresholdBucket
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster

NOW = datetime(2024, 5, 1, 12, 9, tzinfo=UTC)
INDEX = "logs-system.auth-default"


@dataclass
class Side:
    kind: str
    backend: Backend
    store: Store


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
            yield Side(kind="cluster", backend=backend, store=store)
    finally:
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]


def load(side: Side, tmp: Path, events: list[dict[str, Any]]) -> None:
    if isinstance(side.backend, ElasticsearchBackend):
        outcome = side.backend.index_events(json.dumps(e) for e in events)
        assert not outcome.failed, outcome.failed
        return
    path = tmp / f"events-{len(list(tmp.glob('events-*')))}.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = load_events(side.store, [path])
    assert summary.skipped == 0, summary.problems


def rule(tmp: Path, threshold: str, *, query: str = "event.outcome:failure", **extra: Any) -> Rule:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
    (tmp / "rules").mkdir(exist_ok=True)
    path = tmp / "rules" / "r.toml"
    path.write_text(
        '[rule]\nname = "Brute force"\nrule_id = "thr-1"\ntype = "threshold"\n'
        'language = "kuery"\ndescription = "d"\nrisk_score = 47\nseverity = "medium"\n'
        f'from = "now-9m"\ninterval = "5m"\nindex = ["logs-system.auth-*"]\n{lines}'
        f"query = '{query}'\n\n[rule.threshold]\n{threshold}\n"
    )
    rule_set = load_rules([path])
    assert rule_set.errors == ()
    return rule_set.rules[0]


def auth(
    doc_id: str,
    minute: float,
    *,
    user: str | list[str] = "alice",
    ip: str = "10.0.0.1",
    outcome: str = "failure",
    ingested: float | None = None,
) -> dict[str, Any]:
    def at(m: float) -> str:
        return (NOW - timedelta(minutes=9 - m)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    event: dict[str, Any] = {"category": ["authentication"], "outcome": outcome}
    if ingested is not None:
        event["ingested"] = at(ingested)
    return {
        "_index": INDEX,
        "_id": doc_id,
        "_source": {
            "@timestamp": at(minute),
            "event": event,
            "user": {"name": user},
            "source": {"ip": ip},
            "host": {"name": "bastion"},
        },
    }


def alerts(backend: Backend, r: Rule) -> list[dict[str, Any]]:
    found = backend.list_alerts(rule_ids=[r.rule_id])
    return sorted(found, key=lambda a: json.dumps(a["kibana.alert.threshold_result"]["terms"]))


def test_groups_at_the_threshold_alert_with_kibana_shape(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            auth("a1", 1),
            auth("a2", 2),
            auth("a3", 4.5),  # alice: 3 failures -> alert
            auth("b1", 2, user="bob"),
            auth("b2", 3, user="bob"),  # bob: 2 -> none
            auth("ok", 3, outcome="success"),  # not matched by the query
            auth("old", -1),  # before the window (now-9m)
        ],
    )
    r = rule(tmp_path, 'field = ["user.name"]\nvalue = 3')
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created) == ("succeeded", 1)
    (alert,) = alerts(side.backend, r)
    assert alert["kibana.alert.threshold_result"] == {
        "count": 3,
        "from": "2024-05-01T12:01:00.000Z",
        "terms": [{"field": "user.name", "value": "alice"}],
    }
    assert alert["user.name"] == "alice"
    assert alert["kibana.alert.original_time"] == "2024-05-01T12:04:30.000Z"
    assert alert["@timestamp"] == "2024-05-01T12:09:00.000Z"  # the alert's creation time
    (ancestor,) = alert["kibana.alert.ancestors"]
    assert ancestor["index"] == "logs-system.auth-*" and ancestor["type"] == "event"
    assert alert["kibana.alert.rule.type"] == "threshold"
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.thresholdRule"
    assert alert["kibana.alert.rule.parameters"]["threshold"] == {
        "field": ["user.name"],
        "value": 3,
    }
    assert alert["kibana.alert.reason"] == ("event by alice created medium alert Brute force.")


def test_cardinality_condition(side: Side, tmp_path: Path) -> None:
    load(
        side,
        tmp_path,
        [
            auth("a1", 1, ip="10.0.0.1"),
            auth("a2", 2, ip="10.0.0.2"),
            auth("a3", 3, ip="10.0.0.2"),
            auth("b1", 1, user="bob", ip="10.0.0.9"),
            auth("b2", 2, user="bob", ip="10.0.0.9"),
            auth("b3", 3, user="bob", ip="10.0.0.9"),
        ],
    )
    r = rule(
        tmp_path,
        'field = ["user.name"]\nvalue = 3\n'
        '[[rule.threshold.cardinality]]\nfield = "source.ip"\nvalue = 2',
    )
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert record.alerts_created == 1
    (alert,) = alerts(side.backend, r)
    result = alert["kibana.alert.threshold_result"]
    assert result["terms"] == [{"field": "user.name", "value": "alice"}]
    assert result["cardinality"] == [{"field": "source.ip", "value": 2}]
    assert alert["kibana.alert.rule.parameters"]["threshold"]["cardinality"] == [
        {"field": "source.ip", "value": 2}
    ]
    assert result["count"] == 3


def test_no_fields_is_one_group_of_everything(side: Side, tmp_path: Path) -> None:
    load(side, tmp_path, [auth("a1", 1), auth("b1", 2, user="bob"), auth("c1", 8, user="carol")])
    r = rule(tmp_path, "field = []\nvalue = 3")
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert record.alerts_created == 1
    (alert,) = alerts(side.backend, r)
    assert alert["kibana.alert.threshold_result"] == {
        "count": 3,
        "from": "2024-05-01T12:01:00.000Z",
        "terms": [],
    }
    assert alert["kibana.alert.original_time"] == "2024-05-01T12:08:00.000Z"
    r4 = replace(r, threshold=replace(r.threshold, value=4), rule_id="thr-2")  # type: ignore[arg-type]
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r4, NOW)
    assert record.alerts_created == 0


def test_two_fields_and_array_values(side: Side, tmp_path: Path) -> None:
    """A multi-valued field puts its document in one group per value."""
    load(
        side,
        tmp_path,
        [
            auth("a1", 1, user=["alice", "root"]),
            auth("a2", 2, user="root"),
            auth("a3", 3, user="alice"),
            auth("a4", 4, user="alice", ip="10.0.0.7"),
        ],
    )
    r = rule(tmp_path, 'field = ["user.name", "source.ip"]\nvalue = 2')
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert record.alerts_created == 2
    found = [
        ([t["value"] for t in a["kibana.alert.threshold_result"]["terms"]],
         a["kibana.alert.threshold_result"]["count"])
        for a in alerts(side.backend, r)
    ]  # fmt: skip
    assert sorted(found) == [(["alice", "10.0.0.1"], 2), (["root", "10.0.0.1"], 2)]


@pytest.mark.parametrize("override", [None, "event.ingested"])
def test_overlapping_windows_do_not_alert_a_group_twice(
    side: Side, tmp_path: Path, override: str | None
) -> None:
    """With an override the history's time filter is on the combined timestamp (a runtime
    field on a cluster)."""
    extra = {"timestamp_override": override} if override else {}

    def burst(*minutes: float, prefix: str) -> list[dict[str, Any]]:
        # Ingested 30 s after they happened: the override, when set, is what counts.
        return [
            auth(f"{prefix}{n}", m, ingested=m + 0.5 if override else None)
            for n, m in enumerate(minutes)
        ]

    load(side, tmp_path, burst(5, 6, 7, prefix="a"))
    r = rule(tmp_path, 'field = ["user.name"]\nvalue = 3', **extra)
    (first,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert first.alerts_created == 1
    later = NOW + timedelta(minutes=5)  # its window [12:05, 12:14] still holds a0..a2
    (second,) = Executor(backend=side.backend, clock=lambda: later).run(r, later)
    assert second.alerts_created == 0
    # Three newer failures form a new group of three: it alerts, counting only those.
    load(side, tmp_path, burst(12, 13, 13.5, prefix="b"))
    latest = later + timedelta(minutes=5)
    (third,) = Executor(backend=side.backend, clock=lambda: latest).run(r, latest)
    assert third.alerts_created == 1
    newest = max(alerts(side.backend, r), key=lambda a: a["kibana.alert.original_time"])
    assert newest["kibana.alert.threshold_result"]["count"] == 3
    start = "2024-05-01T12:12:30.000Z" if override else "2024-05-01T12:12:00.000Z"
    assert newest["kibana.alert.threshold_result"]["from"] == start


def test_cap_writes_max_signals_and_reports_it(side: Side, tmp_path: Path) -> None:
    load(side, tmp_path, [auth(f"u{i}", 1 + i % 5, user=f"user{i % 4}") for i in range(12)])
    r = replace(rule(tmp_path, 'field = ["user.name"]\nvalue = 2'), max_signals=3)
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert (record.status, record.alerts_created, record.capped) == ("partial failure", 3, True)
    assert len(alerts(side.backend, r)) == 3


def test_timestamp_override_is_the_group_time(side: Side, tmp_path: Path) -> None:
    """With ``timestamp_override`` the window and min/max use it, else ``@timestamp``."""
    load(
        side,
        tmp_path,
        [
            auth("a1", -3, ingested=2),  # occurred before the window, ingested in it
            auth("a2", 3),  # no event.ingested: @timestamp counts
            auth("a3", 4, ingested=-1),  # ingested before the window: out
        ],
    )
    r = rule(tmp_path, 'field = ["user.name"]\nvalue = 2', timestamp_override="event.ingested")
    (record,) = Executor(backend=side.backend, clock=lambda: NOW).run(r, NOW)
    assert record.alerts_created == 1
    (alert,) = alerts(side.backend, r)
    assert alert["kibana.alert.threshold_result"]["count"] == 2
    assert alert["kibana.alert.threshold_result"]["from"] == "2024-05-01T12:02:00.000Z"
    assert alert["kibana.alert.original_time"] == "2024-05-01T12:03:00.000Z"


def test_groups_page_in_composite_order(side: Side, tmp_path: Path) -> None:
    """Pages of two groups give the same groups, in order, as one page of all."""
    users = ["zed", "Bob", "alice", "bob", "10"]
    load(side, tmp_path, [auth(f"{u}-{i}", 1 + i, user=u) for u in users for i in range(2)])
    r = rule(tmp_path, 'field = ["user.name"]\nvalue = 2')
    request = threshold_request(r, NOW - timedelta(minutes=9), NOW)
    whole = side.backend.threshold_buckets(request)
    assert (
        whole.after is None
        or not side.backend.threshold_buckets(replace(request, after=whole.after)).buckets
    )
    paged: list[ThresholdBucket] = []
    small = replace(request, size=2)
    while True:
        page = side.backend.threshold_buckets(small)
        paged += page.buckets
        if page.after is None:
            break
        small = replace(small, after=page.after)
    assert [b.key for b in whole.buckets] == [("10",), ("Bob",), ("alice",), ("bob",), ("zed",)]
    assert [(b.key, b.count) for b in paged] == [(b.key, b.count) for b in whole.buckets]


def test_both_backends_give_the_same_alerts(tmp_path: Path) -> None:
    events = [auth(f"a{i}", 1 + i, user=["alice", "bob"][i % 2], ip=f"10.0.0.{i % 3}")
              for i in range(8)]  # fmt: skip
    found: list[list[tuple[Any, ...]]] = []
    for kind in ("embedded", "cluster"):
        folder = tmp_path / kind
        folder.mkdir()
        store = Store(folder / "events.duckdb")
        r = rule(
            folder,
            'field = ["user.name"]\nvalue = 3\n'
            '[[rule.threshold.cardinality]]\nfield = "source.ip"\nvalue = 2',
        )
        cluster = None
        if kind == "embedded":
            backend: Backend = EmbeddedBackend(store)
        else:
            cluster = EngineCluster(folder / "cluster.duckdb", clock=lambda: NOW).start()
            backend = ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY)
            backend.setup()
        try:
            load(Side(kind=kind, backend=backend, store=store), folder, events)
            Executor(backend=backend, clock=lambda: NOW).run(r, NOW)
            found.append(
                sorted(
                    (a["kibana.alert.uuid"], json.dumps(a["kibana.alert.threshold_result"]),
                     a["kibana.alert.original_time"], a["kibana.alert.reason"])
                    for a in backend.list_alerts(rule_ids=[r.rule_id])
                )
            )  # fmt: skip
        finally:
            if isinstance(backend, ElasticsearchBackend):
                backend.close()
            if cluster is not None:
                cluster.stop()
    assert len(found[0]) == 2 and found[0] == found[1]
