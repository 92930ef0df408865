"""Partial answers (EQL ``is_partial``, failed shards, ``timed_out``): the alerts that came
back are written, the execution is a partial failure naming the shards' reasons, and the
rule's covered mark stays put, so the next execution searches the window again.

The stand-in computes every answer from real documents; one reply per test is then marked
partial, as a cluster losing a shard would answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.contract.events import process
from tests.contract.test_execution import MIN, NOW, QUERY_RULE, alerted_ids, seed
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster
from tests.elastic.fake_cluster import Recorded, Reply

FAILURE = {
    "shard": 1,
    "index": "logs-endpoint.events.process-default",
    "node": "n1",
    "reason": {"type": "node_disconnected_exception", "reason": "node n1 left the cluster"},
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EngineCluster]:
    engine = EngineCluster(tmp_path / "c.duckdb").start()
    try:
        yield engine
    finally:
        engine.stop()
    assert not engine.unexpected


@pytest.fixture
def backend(cluster: EngineCluster) -> Iterator[ElasticsearchBackend]:
    with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as es:
        es.setup()
        events = [process("tp-1", NOW - 2 * MIN), process("tp-2", NOW - 3 * MIN),
                  process("fp", NOW - 2 * MIN, name="ls")]  # fmt: skip
        assert not es.index_events(json.dumps(e) for e in events).failed
        yield es


def partial(cluster: EngineCluster, mark: Any) -> Any:
    """A handler: the computed answer, then ``mark`` makes it partial."""

    def handler(request: Recorded) -> Reply:
        answer = cluster.node.handle(request)
        assert answer is not None and answer.status == 200
        body = dict(answer.body)
        mark(body)
        return Reply(200, body)

    return handler


def query_rule(tmp_path: Path) -> Rule:
    path = tmp_path / "query_rule.toml"
    path.write_text(QUERY_RULE)
    (rule,) = load_rules([path]).rules
    return rule


def test_eql_partial_writes_alerts_and_searches_the_window_again(
    cluster: EngineCluster, backend: ElasticsearchBackend
) -> None:
    rule = seed("emond")

    def mark(body: dict[str, Any]) -> None:
        body.update(is_partial=True, shard_failures=[FAILURE])

    cluster.script("POST", r"^/[^_][^/]*/_eql/search$", partial(cluster, mark))
    (first,) = Executor(backend=backend).run(rule, NOW)
    assert (first.status, first.alerts_created) == ("partial failure", 2)
    assert "node_disconnected_exception: node n1 left the cluster" in first.message
    assert "[logs-endpoint.events.process-default][1]" in first.message
    assert alerted_ids(backend, rule) == {"tp-1", "tp-2"}
    state = backend.load_state(rule.rule_id)
    assert state is not None and state.covered_to == first.window_start  # not advanced
    (second,) = Executor(backend=backend).run(rule, NOW)  # the same window, complete now
    assert (second.status, second.alerts_created, second.duplicates) == ("succeeded", 0, 2)
    state = backend.load_state(rule.rule_id)
    assert state is not None and state.covered_to == NOW


def test_eql_timed_out_is_partial(cluster: EngineCluster, backend: ElasticsearchBackend) -> None:
    rule = seed("emond")
    cluster.script(
        "POST", r"^/[^_][^/]*/_eql/search$", partial(cluster, lambda b: b.update(timed_out=True))
    )
    (first,) = Executor(backend=backend).run(rule, NOW)
    assert (first.status, first.alerts_created) == ("partial failure", 2)
    assert "timed out" in first.message


def test_query_rule_page_with_failed_shards_is_partial(
    cluster: EngineCluster, backend: ElasticsearchBackend, tmp_path: Path
) -> None:
    rule = query_rule(tmp_path)

    def mark(body: dict[str, Any]) -> None:
        body["_shards"] = {"total": 2, "successful": 1, "skipped": 0, "failed": 1,
                           "failures": [FAILURE]}  # fmt: skip

    cluster.script("POST", "/_search", partial(cluster, mark))
    (first,) = Executor(backend=backend).run(rule, NOW)
    assert (first.status, first.alerts_created) == ("partial failure", 2)
    assert "1 shard(s) failed: [logs-endpoint.events.process-default][1]" in first.message
    assert alerted_ids(backend, rule) == {"tp-1", "tp-2"}
    state = backend.load_state(rule.rule_id)
    assert state is not None and state.covered_to == first.window_start
    (second,) = Executor(backend=backend).run(rule, NOW)
    assert (second.status, second.duplicates) == ("succeeded", 2)
    assert len(cluster.calls("DELETE", "/_pit")) == 2  # every point in time is closed


def _exim4_events() -> list[dict[str, Any]]:
    def child(doc_id: str, when: Any, name: str, executable: str) -> dict[str, Any]:
        return process(doc_id, when, name=name, parent="exim4", os_type="linux",
                       executable=executable)  # fmt: skip

    return [
        child("hist-seen", NOW - timedelta(days=3), "curl", "/usr/bin/curl"),
        child("seen-again", NOW - 2 * MIN, "curl", "/usr/bin/curl"),
        child("new-1", NOW - 3 * MIN, "nc", "/tmp/nc"),
        child("new-2", NOW - 2 * MIN, "wget", "/usr/bin/wget"),
    ]


def _nth_search_partial(cluster: EngineCluster, nth: int) -> None:
    """The ``nth`` ``_search`` of the execution (1: new_terms' window terms, 2: their history)
    answers with a failed shard; the others are complete."""
    seen = [0]

    def mark(body: dict[str, Any]) -> None:
        seen[0] += 1
        if seen[0] == nth:
            body["_shards"] = {"total": 2, "successful": 1, "skipped": 0, "failed": 1,
                               "failures": [FAILURE]}  # fmt: skip

    cluster.script("POST", r"^/[^_][^/]*/_search$", partial(cluster, mark), repeat_last=True)


def test_new_terms_partial_window_terms_write_their_alerts_and_search_again(
    cluster: EngineCluster, backend: ElasticsearchBackend
) -> None:
    rule = seed("exim4")
    assert not backend.index_events(json.dumps(e) for e in _exim4_events()).failed
    _nth_search_partial(cluster, 1)
    (first,) = Executor(backend=backend).run(rule, NOW)
    assert (first.status, first.alerts_created) == ("partial failure", 2)
    assert "1 shard(s) failed: [logs-endpoint.events.process-default][1]" in first.message
    assert alerted_ids(backend, rule) == {"new-1", "new-2"}
    state = backend.load_state(rule.rule_id)
    assert state is not None and state.covered_to == first.window_start  # not advanced


def test_new_terms_partial_history_fails_the_window_and_writes_nothing(
    cluster: EngineCluster, backend: ElasticsearchBackend
) -> None:
    """An incomplete history could make an old term look new: nothing is written."""
    rule = seed("exim4")
    assert not backend.index_events(json.dumps(e) for e in _exim4_events()).failed
    _nth_search_partial(cluster, 2)
    (first,) = Executor(backend=backend).run(rule, NOW)
    assert (first.status, first.alerts_created) == ("failed", 0)
    assert "incomplete answer" in first.message and "searched again" in first.message
    assert alerted_ids(backend, rule) == set()
    (second,) = Executor(backend=backend).run(rule, NOW)  # complete now
    assert (second.status, second.alerts_created) == ("succeeded", 2)
