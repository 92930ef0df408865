"""Every documented failure maps to one clear runner error; retries stay within the budget."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.config import ElasticsearchSettings
from runner.elastic.client import RetryPolicy
from runner.errors import (
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    IndexNotFound,
    PermissionDenied,
)
from runner.execution.model import RuleState
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import Drop, FakeCluster, Reply, error_body

STATE = "/runner-state/_doc/r1"
NOT_FOUND = Reply(404, {"_index": "runner-state", "_id": "r1", "found": False})
SAVE = RuleState(rule_id="r1")
CREATED = Reply(201, {"_index": "runner-state", "_id": "r1", "result": "created"})
REJECTED = error_body(
    429,
    "es_rejected_execution_exception",
    "rejected execution of org.elasticsearch.action.support.replication",
)
UNAVAILABLE = error_body(
    503,
    "unavailable_shards_exception",
    "[runner-state][0] primary shard is not active Timeout: [1m]",
)
SECRET = "s3cr3t-Pa55"


def backend_for(cluster: FakeCluster, **settings: Any) -> ElasticsearchBackend:
    retry = settings.pop("retry", FAST_RETRY)
    return ElasticsearchBackend(cluster.settings(**settings), retry=retry)


def test_401_bad_credentials(cluster: FakeCluster) -> None:
    body = error_body(
        401,
        "security_exception",
        "unable to authenticate user [elastic] for REST request [/runner-state/_doc/r1]",
        header={"WWW-Authenticate": ['Basic realm="security" charset="UTF-8"', "ApiKey"]},
    )
    cluster.script("PUT", STATE, Reply(401, body, headers={"WWW-Authenticate": "ApiKey"}))
    es = backend_for(cluster, username="elastic", password=SECRET)
    with es, pytest.raises(AuthenticationFailed) as caught:
        es.save_state(SAVE)
    message = str(caught.value)
    assert message == (
        "Elasticsearch rejected the credentials (HTTP 401: security_exception: unable to "
        "authenticate user [elastic] for REST request [/runner-state/_doc/r1]); check "
        "elasticsearch.api_key or elasticsearch.username/password"
    )
    assert caught.value.exit_code == 4 and SECRET not in message
    (sent,) = cluster.calls("PUT", STATE)  # never retried
    assert sent.headers["authorization"].startswith("Basic ")


def test_403_names_the_privilege_and_index(cluster: FakeCluster) -> None:
    reason = (
        "action [indices:data/read/eql] is unauthorized for API key id [VuaCfGcBCdbkQm-e5aOx] "
        "of user [runner] on indices [logs-endpoint.events.process-default], this action "
        "is granted by the index privileges [read,all]"
    )
    cluster.script("PUT", STATE, Reply(403, error_body(403, "security_exception", reason)))
    es = backend_for(cluster, api_key=f"VuaCfGcBCdbkQm-e5aOx:{SECRET}")
    with es, pytest.raises(PermissionDenied) as caught:
        es.save_state(SAVE)
    assert str(caught.value) == (
        f"the credentials lack a privilege for PUT {STATE} (HTTP 403: security_exception: {reason})"
    )
    assert caught.value.exit_code == 4
    (sent,) = cluster.calls("PUT", STATE)
    assert sent.headers["authorization"].startswith("ApiKey ")


def test_404_index_not_found(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    body = error_body(
        404,
        "index_not_found_exception",
        "no such index [runner-state]",
        index="runner-state",
        index_uuid="_na_",
    )
    cluster.script("PUT", STATE, Reply(404, body))
    with pytest.raises(
        IndexNotFound, match=r"no such index \[runner-state\]\); run `runner setup`"
    ):
        backend.save_state(SAVE)


@pytest.mark.parametrize(
    ("status", "body"),
    [(429, REJECTED), (502, None), (503, UNAVAILABLE), (504, None)],
)
def test_429_and_5xx_are_retried_then_succeed(
    cluster: FakeCluster, backend: ElasticsearchBackend, status: int, body: Any
) -> None:
    cluster.script("PUT", STATE, Reply(status, body), Reply(status, body), CREATED)
    backend.save_state(SAVE)
    assert len(cluster.calls("PUT", STATE)) == 3


def test_429_forever_gives_up_after_max_retries(cluster: FakeCluster) -> None:
    cluster.script("PUT", STATE, Reply(429, REJECTED), repeat_last=True)
    with backend_for(cluster) as es, pytest.raises(BackendUnavailable) as caught:
        es.save_state(SAVE)
    assert str(caught.value).startswith(
        f"Elasticsearch is overloaded or unavailable (HTTP 429 to PUT {STATE}: "
        "es_rejected_execution_exception: rejected execution of"
    )
    assert "gave up after 4 attempt(s)" in str(caught.value)
    assert len(cluster.calls("PUT", STATE)) == 4


def test_retries_stop_at_the_time_budget(cluster: FakeCluster) -> None:
    cluster.script("PUT", STATE, Reply(503, UNAVAILABLE), repeat_last=True)
    retry = RetryPolicy(max_retries=100, budget=0.3, base=0.05, cap=0.05)
    started = time.monotonic()
    with backend_for(cluster, retry=retry) as es, pytest.raises(BackendUnavailable):
        es.save_state(SAVE)
    assert time.monotonic() - started < 1.0
    assert 3 <= len(cluster.calls("PUT", STATE)) < 100


def test_other_server_errors_are_not_retried(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    body = error_body(500, "null_pointer_exception", 'Cannot invoke "Object.toString()"')
    cluster.script("PUT", STATE, Reply(500, body))
    with pytest.raises(BackendError, match="answered HTTP 500 to PUT /runner-state/_doc/r1"):
        backend.save_state(SAVE)
    assert len(cluster.calls("PUT", STATE)) == 1


def test_timeout_is_retried(cluster: FakeCluster) -> None:
    cluster.script("GET", STATE, Reply(200, {"found": False}, delay=1.0), NOT_FOUND)
    with backend_for(cluster, request_timeout=0.2) as es:
        assert es.load_state("r1") is None
    assert len(cluster.calls("GET", STATE)) == 2


def test_timeouts_until_the_end_fail_clearly(cluster: FakeCluster) -> None:
    cluster.script("GET", STATE, Reply(200, {"found": False}, delay=1.0), repeat_last=True)
    retry = RetryPolicy(max_retries=1, budget=10.0, base=0.01)
    es = backend_for(cluster, request_timeout=0.2, retry=retry)
    with es, pytest.raises(BackendUnavailable) as caught:
        es.load_state("r1")
    assert str(caught.value).startswith(
        f"cannot reach Elasticsearch at {cluster.url}: no answer within 0.2s "
        "(elasticsearch.request_timeout) (gave up after 2 attempt(s) in "
    )


def test_dropped_connection_is_retried(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    cluster.script("GET", STATE, Drop(), Drop(), NOT_FOUND)
    assert backend.load_state("r1") is None
    assert len(cluster.calls("GET", STATE)) == 3


def test_dropped_connections_until_the_end(cluster: FakeCluster) -> None:
    cluster.script("GET", STATE, Drop(), repeat_last=True)
    with backend_for(cluster) as es, pytest.raises(BackendUnavailable) as caught:
        es.load_state("r1")
    assert "Remote end closed connection without response" in str(caught.value)
    assert "gave up after 4 attempt(s)" in str(caught.value)


def test_unreachable_cluster_message_has_no_password() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ElasticsearchSettings(hosts=(f"http://elastic:{SECRET}@127.0.0.1:{port}",))
    es = ElasticsearchBackend(settings, retry=RetryPolicy(max_retries=1, base=0.01))
    with es, pytest.raises(BackendUnavailable) as caught:
        es.load_state("r1")
    message = str(caught.value)
    assert SECRET not in message and "\n" not in message
    assert message.startswith(f"cannot reach Elasticsearch at http://elastic:***@127.0.0.1:{port}:")
    assert "Connection refused" in message


def test_client_newer_than_the_cluster(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    # What an 8.x cluster answers the 9.x client's "compatible-with=9" headers.
    body = error_body(
        400,
        "media_type_header_exception",
        "Invalid media-type value on headers [Accept, Content-Type]",
        caused_by={
            "type": "status_exception",
            "reason": "Accept version must be either version 8 or 7, but "
            "found 9. Accept=application/vnd.elasticsearch+json; "
            "compatible-with=9",
        },
    )
    cluster.script("GET", STATE, Reply(400, body))
    with pytest.raises(BackendError) as caught:
        backend.load_state("r1")
    assert "pip install 'elasticsearch>=8.13,<9'" in str(caught.value)
    assert "Accept version must be either version 8 or 7, but found 9" in str(caught.value)


def test_a_server_that_is_not_elasticsearch(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    cluster.script("GET", STATE, Reply(200, {"found": False}, product=False))
    with pytest.raises(BackendError, match="is not Elasticsearch"):
        backend.load_state("r1")


def test_nothing_connects_at_construction() -> None:
    backend = ElasticsearchBackend(ElasticsearchSettings(hosts=("http://127.0.0.1:9",)))
    assert backend.client._client is None  # the client is built on first use
    backend.close()
