"""Building the client from settings, and loading events with ``_bulk`` create."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import replace

from runner.backends.elasticsearch import ElasticsearchBackend, LoadOutcome
from runner.config import ElasticsearchSettings
from runner.elastic.client import api_key_value, build_client
from runner.elastic.requests import explain
from runner.rules.loader import load_rules
from runner.rules.select import resolve_rule
from runner.timeutil import parse_absolute
from tests.conftest import SEED_RULES
from tests.elastic.fake_cluster import FakeCluster, Reply

CLOUD_ID = "demo:" + base64.b64encode(b"us-central1.gcp.cloud.es.io$abcdef$ghijkl").decode()


def test_api_key_forms() -> None:
    assert api_key_value("VuaCfGcB:ui2lp2axTNmsyakw9tvNnw") == (
        "VuaCfGcB",
        "ui2lp2axTNmsyakw9tvNnw",
    )
    encoded = base64.b64encode(b"VuaCfGcB:ui2lp2axTNmsyakw9tvNnw").decode()
    assert api_key_value(encoded) == encoded


def test_encoded_api_key_is_sent_as_is(cluster: FakeCluster) -> None:
    encoded = base64.b64encode(b"id:key").decode()
    with ElasticsearchBackend(cluster.settings(api_key=encoded)) as backend:
        assert backend.cluster_version() == "9.1.2"
    (info,) = cluster.calls("GET", "/")
    assert info.headers["authorization"] == f"ApiKey {encoded}"


def test_cloud_id_builds_without_connecting() -> None:
    settings = ElasticsearchSettings(cloud_id=CLOUD_ID, api_key="id:key")
    client = build_client(settings)
    (node,) = client.transport.node_pool.all()
    assert node.base_url == "https://abcdef.us-central1.gcp.cloud.es.io:443"
    assert ElasticsearchBackend(settings).client.where == "Elastic Cloud (cloud_id)"


def test_unverified_tls_logs_a_warning(quiet_logs: io.StringIO) -> None:
    build_client(ElasticsearchSettings(hosts=("https://127.0.0.1:9200",), verify_certs=False))
    (line,) = [json.loads(x) for x in quiet_logs.getvalue().splitlines()]
    assert line["event"] == "elasticsearch_tls_unverified" and line["level"] == "warning"


def test_request_timeout_and_no_client_retries() -> None:
    client = build_client(ElasticsearchSettings(hosts=("http://127.0.0.1:9",), request_timeout=7))
    assert client._request_timeout == 7
    assert client._max_retries == 0 and client._retry_on_timeout is False


def test_index_events_hits_and_bare_documents(cluster: FakeCluster) -> None:
    store = cluster.enable_store()
    bare = json.dumps(
        {
            "@timestamp": "2024-05-01T12:00:00Z",
            "data_stream": {"dataset": "endpoint.events.process", "namespace": "default"},
        }
    )
    hit = json.dumps({"_index": "logs-x", "_id": "h1", "_source": {"a": 1}})
    lines = [bare, hit, "", "not json", "[1]", json.dumps({"no": "index"}), bare]
    with ElasticsearchBackend(cluster.settings()) as backend:
        outcome = backend.index_events(lines)
    assert outcome.created == 2 and outcome.duplicates == 1  # the same line twice: one event
    assert outcome.failed[0][0] == 4 and outcome.failed[0][1].startswith("invalid JSON")
    assert outcome.failed[1:] == (
        (5, "not a JSON object"),
        (
            6,
            "no index: pass --index NAME, or give the document data_stream.dataset and "
            "data_stream.namespace",
        ),
    )
    md5 = hashlib.md5(bare.encode(), usedforsecurity=False).hexdigest()
    assert set(store.docs["logs-endpoint.events.process-default"]) == {md5}
    assert store.docs["logs-x"] == {"h1": {"a": 1}}
    (first,) = cluster.calls("POST", "/_bulk")
    assert first.body[0] == {
        "create": {"_index": "logs-endpoint.events.process-default", "_id": md5}
    }


def test_index_events_explicit_index(cluster: FakeCluster) -> None:
    cluster.script(
        "POST",
        "/_bulk",
        Reply(
            200,
            {
                "took": 1,
                "errors": False,
                "items": [{"create": {"_index": "demo", "_id": "x", "status": 201}}],
            },
        ),
    )
    with ElasticsearchBackend(cluster.settings()) as backend:
        assert backend.index_events(['{"a": 1}'], index="demo") == LoadOutcome(created=1)


def test_explain_goes_through_the_backend_builders() -> None:
    rules = load_rules([SEED_RULES]).rules
    end = parse_absolute("2024-05-01T12:09:00Z")
    (eql,) = explain(resolve_rule(rules, "emond"), end)
    assert eql.path == "/logs-endpoint.events.process*/_eql/search?allow_no_indices=true"
    phase1, phase2, phase3 = explain(resolve_rule(rules, "exim4"), end)
    assert "composite" in phase1.body["aggregations"]["new_terms"]
    assert (
        "bucket_selector"
        in phase2.body["aggregations"]["new_terms"]["aggregations"]["filtering_agg"]
    )
    assert phase2.body["aggregations"]["new_terms"]["terms"]["include"] == ["<terms from phase 1>"]
    assert "top_hits" in phase3.body["aggregations"]["new_terms"]["aggregations"]["docs"]
    as_query = replace(resolve_rule(rules, "exim4"), type="query", new_terms=None)
    pit, query = explain(as_query, end)
    assert pit.path.endswith("/_pit?keep_alive=5m&ignore_unavailable=true")
    assert query.path == "/_search" and "from" not in query.body
    assert query.body["pit"]["id"] == "<id from the point in time>"
    assert query.body["sort"][0] == {"event.ingested": {"order": "asc", "unmapped_type": "date"}}
