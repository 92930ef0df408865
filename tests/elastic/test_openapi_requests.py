"""Every request runner sends fits Elasticsearch's published OpenAPI document, objects closed.

Runs a full round on the engine stand-in -- ``runner setup``, events loaded, every seed rule
(EQL, query, new_terms, ES|QL) executed twice, alerts and executions listed, the notification
outbox used, a query rule paged through a point in time, field types read -- records every
request the real client sent, and checks each body and query string against
``../shared/reference/es-openapi/`` (skipped when absent).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.execution.executor import Executor
from runner.notify.outbox.elastic import ElasticOutbox
from runner.rules.loader import load_rules
from tests.conftest import SEED_RULES
from tests.contract.events import process
from tests.contract.test_esql_execution import AGGREGATING, NON_AGGREGATING
from tests.contract.test_esql_execution import rule as esql_rule
from tests.contract.test_execution import MIN, NOW, QUERY_RULE, _many
from tests.contract.test_outbox import note
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster
from tests.elastic.openapi import load

pytestmark = pytest.mark.reference


def test_every_request_validates_against_the_openapi_document(
    reference: Path, tmp_path: Path
) -> None:
    spec_path = reference / "es-openapi" / "elasticsearch-serverless-openapi.json"
    if not spec_path.is_file():
        pytest.skip("es-openapi document not present")
    spec = load(spec_path)
    cluster = EngineCluster(tmp_path / "c.duckdb").start()
    try:
        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as backend:
            backend.setup()
            events = [process("tp", NOW - 2 * MIN)]
            for stem in ("emond", "hidden", "installer", "exim4"):
                events += _many(stem, 3)
            assert not backend.index_events(json.dumps(e) for e in events).failed
            path = tmp_path / "q.toml"
            path.write_text(QUERY_RULE)
            rules = [*load_rules([SEED_RULES]).rules, *load_rules([path]).rules]
            rules += [esql_rule(tmp_path, AGGREGATING), esql_rule(tmp_path, NON_AGGREGATING)]
            executor = Executor(backend=backend)
            for rule in rules:
                executor.run(rule, NOW)
                executor.run(rule, NOW + timedelta(minutes=1))
            backend.list_alerts(limit=5)
            backend.list_executions(limit=5)
            backend.open_gaps()
            outbox = ElasticOutbox(backend.client, backend.indices.outbox)
            outbox.enqueue([note(1), note(2, throttle_key="k")])
            claimed = outbox.claim(owner="me", now=NOW, lease=timedelta(minutes=1), limit=5)
            for item in claimed:
                outbox.mark_sent(item, now=NOW, detail="ok")
            outbox.counts()
            outbox.last_queued("k")
            outbox.items()
    finally:
        cluster.stop()
    sent = [r for r in cluster.requests if not (r.method in ("GET", "HEAD") and r.path == "/")]
    kinds = {f"{r.method} {r.path.split('/')[-1]}" for r in sent}
    assert {"POST _pit", "POST _search", "DELETE _pit", "POST search", "GET _field_caps",
            "POST _bulk", "POST _query"} <= kinds, kinds  # fmt: skip
    problems = []
    for request in sent:
        problems += spec.check(request.method, request.path, request.query, request.body)
    assert not problems, "\n".join(sorted(set(problems))[:40])


def test_the_validator_refuses_unknown_keys_and_parameters(reference: Path) -> None:
    spec_path = reference / "es-openapi" / "elasticsearch-serverless-openapi.json"
    if not spec_path.is_file():
        pytest.skip("es-openapi document not present")
    spec = load(spec_path)
    good = {"size": 1, "query": {"bool": {"filter": [{"term": {"a": "b"}}]}},
            "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}]}  # fmt: skip
    assert spec.check("POST", "/x/_search", {"ignore_unavailable": "true"}, good) == []
    assert spec.check("POST", "/x/_search", {"ignore_unavailabel": "true"}, good)
    assert spec.check("POST", "/x/_search", {}, {**good, "sizes": 1})
    assert spec.check("POST", "/x/_search", {}, {"query": {"bool": {"filtr": []}}})
    assert spec.check("POST", "/x/_search", {}, {"sort": [{"f": {"order": "up"}}]})
    assert spec.check("POST", "/x/_eql/search", {}, {"query": "any where true", "size": "x"})
    assert spec.check("POST", "/x/_nope", {}, {})
