"""The Elasticsearch backend against a real cluster (marked ``elasticsearch``).

Runs when ``RUNNER_TEST_ES_URL`` is set (e.g. ``http://elastic:changeme@127.0.0.1:9200``) or
when pytest-elasticsearch finds an ``elasticsearch`` executable
(``--elasticsearch-executable PATH`` or the ``elasticsearch_executable`` ini option); skipped
with that reason otherwise.  Everything it creates is prefixed ``runner-test-<random>`` and
deleted afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.config import ElasticsearchSettings
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from runner.rules.select import resolve_rule
from runner.timeutil import isoformat, utcnow
from tests.conftest import SEED_RULES
from tests.real_cluster import cluster_url

pytestmark = pytest.mark.elasticsearch

EVENT_MAPPINGS = {
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {"ingested": {"type": "date"}}},
    },
}


@pytest.fixture(scope="module")
def es_url(request: pytest.FixtureRequest) -> str:
    return cluster_url(request)


@pytest.fixture
def real(es_url: str) -> Iterator[ElasticsearchBackend]:
    prefix = f"runner-test-{uuid.uuid4().hex[:8]}"
    settings = ElasticsearchSettings(hosts=(es_url,), request_timeout=30.0)
    backend = ElasticsearchBackend(settings, alerts_index=f"{prefix}-alerts", index_prefix=prefix)
    try:
        yield backend
    finally:
        client = backend.client
        client.request("DELETE", f"/{prefix}-*?expand_wildcards=all", allow=(404,))
        for name in ("alerts", "executions", "state", "gaps"):
            client.request("DELETE", f"/_index_template/{prefix}-{name}", allow=(404,))
        backend.close()


def _event(doc_id: str, child: str, when: str) -> str:
    source: dict[str, Any] = {
        "@timestamp": when,
        "event": {"category": ["process"], "type": ["start"], "ingested": when, "kind": "event"},
        "host": {"name": "mac-01", "os": {"type": "macos"}},
        "process": {"name": child, "parent": {"name": "emond"}},
        "user": {"name": "root"},
    }
    return json.dumps({"_id": doc_id, "_source": source})


def test_emond_on_a_real_cluster(real: ElasticsearchBackend) -> None:
    steps = real.setup()
    assert {s.action for s in steps} <= {"created", "updated"}
    assert {s.action for s in real.setup()} == {"exists"}  # idempotent

    events_index = f"{real.indices.prefix}-events"
    real.client.request("PUT", f"/{events_index}", {"mappings": EVENT_MAPPINGS})
    now = utcnow()
    lines = [
        _event("ev-1", "bash", isoformat(now - timedelta(minutes=3))),
        _event("ev-2", "curl", isoformat(now - timedelta(minutes=2))),
        _event("ev-3", "ls", isoformat(now - timedelta(minutes=2))),
    ]
    loaded = real.index_events(lines, index=events_index)
    assert (loaded.created, loaded.failed) == (3, ())

    rule = resolve_rule(load_rules([SEED_RULES]).rules, "emond")
    rule = replace(rule, index=(events_index,))
    (first,) = Executor(backend=real).run(rule, now)
    assert (first.status, first.alerts_created) == ("succeeded", 2), first.message
    alerts = real.list_alerts(rule_ids=[rule.rule_id])
    assert sorted(a["kibana.alert.ancestors"][0]["id"] for a in alerts) == ["ev-1", "ev-2"]

    later = now + timedelta(minutes=5)
    (second,) = Executor(backend=real).run(rule, later)
    assert (second.status, second.alerts_created, second.duplicates) == ("succeeded", 0, 2)
    assert [r.status for r in real.list_executions(rule_ids=[rule.rule_id])] == ["succeeded"] * 2
