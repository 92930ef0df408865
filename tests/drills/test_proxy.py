"""The fault proxy itself, against the canned fake cluster: each fault does what the drills
count it as (what reaches the cluster, what the client sees)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.drills.proxy import FaultProxy, Request, is_bulk
from tests.elastic.fake_cluster import DocStore, FakeCluster

pytestmark = pytest.mark.drill


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    fake = FakeCluster().start()
    fake.enable_store()
    yield fake
    fake.stop()


@pytest.fixture
def proxy(cluster: FakeCluster) -> Iterator[FaultProxy]:
    found = FaultProxy(cluster.url, stall=1.0).start()
    yield found
    found.stop()


def call(proxy: FaultProxy, method: str, path: str, body: Any = None,
         timeout: float = 10) -> tuple[int, Any]:  # fmt: skip
    port = int(proxy.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, list):
            payload = "".join(json.dumps(line) + "\n" for line in body).encode()
            headers = {"Content-Type": "application/x-ndjson"}
        else:
            payload = json.dumps(body).encode() if body is not None else b""
            headers = {"Content-Type": "application/json"}
        conn.request(method, path, payload, headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def bulk(*ids: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for doc_id in ids:
        lines += [{"create": {"_index": "alerts", "_id": doc_id}}, {"n": doc_id}]
    return lines


def stored(cluster: FakeCluster) -> set[str]:
    assert isinstance(cluster.store, DocStore)
    return set(cluster.store.docs.get("alerts", {}))


def test_requests_are_relayed_and_faults_apply_to_the_next_matching_ones(
    proxy: FaultProxy, cluster: FakeCluster
) -> None:
    assert call(proxy, "GET", "/")[0] == 200
    proxy.inject("http_429", count=2)
    status, body = call(proxy, "GET", "/")
    assert status == 429 and body["error"]["type"] == "es_rejected_execution_exception"
    assert call(proxy, "GET", "/")[0] == 429
    proxy.inject("http_503", match=is_bulk)
    assert call(proxy, "GET", "/")[0] == 200  # not a _bulk: untouched
    assert call(proxy, "POST", "/_bulk", bulk("a"))[0] == 503
    assert stored(cluster) == set()
    assert proxy.injected == {"http_429": 2, "http_503": 1}


def test_a_bulk_answered_200_with_items_failed_writes_only_the_others(
    proxy: FaultProxy, cluster: FakeCluster
) -> None:
    proxy.inject("bulk_items_failed")
    status, body = call(proxy, "POST", "/_bulk?refresh=wait_for", bulk("a", "b", "c", "d"))
    assert status == 200 and body["errors"] is True
    statuses = [item["create"]["status"] for item in body["items"]]
    assert statuses == [429, 201, 429, 201]
    assert [item["create"]["_id"] for item in body["items"]] == ["a", "b", "c", "d"]
    assert stored(cluster) == {"b", "d"}


def test_a_bulk_reset_in_its_answer_is_written_and_in_its_request_is_not(
    proxy: FaultProxy, cluster: FakeCluster
) -> None:
    proxy.inject("reset_bulk_response")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        call(proxy, "POST", "/_bulk", bulk("a", "b"))
    assert stored(cluster) == {"a", "b"}  # applied; the client never learnt it
    proxy.inject("reset_bulk_request")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        call(proxy, "POST", "/_bulk", bulk("c"))
    time.sleep(0.2)
    assert stored(cluster) == {"a", "b"}  # cut off half-way: nothing of it written


def test_a_stalled_request_times_out_and_still_reaches_the_cluster_later(
    proxy: FaultProxy, cluster: FakeCluster
) -> None:
    proxy.inject("stall")
    with pytest.raises(TimeoutError):
        call(proxy, "POST", "/_bulk", bulk("late"), timeout=0.3)
    assert stored(cluster) == set()
    deadline = time.monotonic() + 10
    while stored(cluster) != {"late"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored(cluster) == {"late"}


def test_refused_while_down_then_back_on_the_same_port(proxy: FaultProxy) -> None:
    port = int(proxy.url.rsplit(":", 1)[1])
    down = threading.Thread(target=proxy.refuse_for, args=(1.0,))
    down.start()
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    down.join(10)
    assert call(proxy, "GET", "/")[0] == 200
    assert proxy.injected["refused"] == 1


def test_observers_see_requests_before_and_answers_after_and_may_drop(
    proxy: FaultProxy, cluster: FakeCluster
) -> None:
    seen: list[str] = []

    def before(request: Request) -> bool:
        doc_id = request.lines()[0]["create"]["_id"]
        seen.append(f"before {doc_id}")
        return bool(doc_id == "drop")

    proxy.before(is_bulk, before)
    proxy.after(is_bulk, lambda r, a: seen.append(f"after {a.status}"))
    assert call(proxy, "POST", "/_bulk", bulk("a"))[0] == 200
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        call(proxy, "POST", "/_bulk", bulk("drop"))
    assert seen == ["before a", "after 200", "before drop"]
    assert stored(cluster) == {"a"}
