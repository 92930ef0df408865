"""The execution contract suite runs against every backend implementation.

``embedded`` always runs (a real DuckDB file).  ``stand-in`` runs the Elasticsearch backend
through the real client against the engine-backed loopback stand-in
(tests/elastic/engine_cluster.py), which computes every answer.  ``elasticsearch`` runs
against a real cluster when ``RUNNER_TEST_ES_URL`` is set, and is skipped with that reason
otherwise.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.backends.base import Backend
from runner.backends.embedded import EmbeddedBackend
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from tests.real_cluster import cluster_url


@dataclass
class Harness:
    """A backend plus a way to put source events in front of it."""

    backend: Backend
    tmp: Path
    kind: str
    namespace: str = "default"

    def load(self, hits: Sequence[dict[str, Any]]) -> None:
        if isinstance(self.backend, EmbeddedBackend):
            path = self.tmp / f"events-{uuid.uuid4().hex}.ndjson"
            path.write_text("".join(json.dumps(h) + "\n" for h in hits))
            summary = load_events(self.backend.store, [path])
            assert summary.skipped == 0, summary.problems
            return
        # On a cluster each test writes into its own namespace of the rules' data streams
        # (logs-endpoint.events.process-<ns> still matches logs-endpoint.events.process*).
        lines = [
            json.dumps({**h, "_index": _namespaced(h["_index"], self.namespace)}) for h in hits
        ]
        outcome = self.backend.index_events(lines)  # type: ignore[attr-defined]
        assert not outcome.failed, outcome.failed


def _namespaced(index: str, namespace: str) -> str:
    return index.rsplit("-", 1)[0] + f"-{namespace}"


BACKENDS = ["embedded", "stand-in", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "embedded":
        yield Harness(
            backend=EmbeddedBackend(Store(tmp_path / "store.duckdb")), tmp=tmp_path, kind="embedded"
        )
        return
    if request.param == "stand-in":
        yield from _stand_in(tmp_path)
        return
    from runner.backends.elasticsearch import ElasticsearchBackend  # pragma: no cover
    from runner.config import ElasticsearchSettings

    url = cluster_url(request)  # pragma: no cover - needs a cluster
    namespace = f"rt{uuid.uuid4().hex[:10]}"
    backend = ElasticsearchBackend(
        ElasticsearchSettings(hosts=(url,)),
        alerts_index=f"runner-test-{namespace}-alerts",
        index_prefix=f"runner-test-{namespace}",
    )
    backend.setup()
    try:
        yield Harness(backend=backend, tmp=tmp_path, kind="elasticsearch", namespace=namespace)
    finally:
        client = backend.client
        client.request("DELETE", f"/_data_stream/logs-endpoint.events.*-{namespace}", allow=(404,))
        client.request("DELETE", f"/runner-test-{namespace}-*?expand_wildcards=all", allow=(404,))
        for name in ("alerts", "executions", "state", "gaps", "window"):
            client.request(
                "DELETE", f"/_index_template/runner-test-{namespace}-{name}", allow=(404,)
            )
        backend.close()


def _stand_in(tmp_path: Path) -> Iterator[Harness]:
    from runner.backends.elasticsearch import ElasticsearchBackend
    from tests.elastic.conftest import FAST_RETRY
    from tests.elastic.engine_cluster import EngineCluster

    cluster = EngineCluster(tmp_path / "cluster.duckdb").start()
    try:
        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as backend:
            backend.setup()
            yield Harness(backend=backend, tmp=tmp_path, kind="stand-in")
    finally:
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]
