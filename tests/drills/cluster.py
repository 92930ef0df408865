"""The cluster a drill runs against: the engine-backed stand-in, or a real one.

Every drill gets its own namespace (``drill<random>``): the events index, the alerts index
and runner's own indices (``index_prefix``) all start with it, so drills can share a real
cluster and are deleted afterwards.  The drill itself reads and writes the cluster directly
(events, alerts, gaps); runner reaches it only through the fault proxy.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.config import ElasticsearchSettings
from runner.elastic.client import ElasticClient
from tests.elastic.engine_cluster import EngineCluster

EVENT_MAPPINGS = {
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {"ingested": {"type": "date"}}},
    },
}


@dataclass
class Target:
    url: str  # the cluster itself (the proxy goes in front of it)
    real: bool
    ns: str = field(default_factory=lambda: f"drill{uuid.uuid4().hex[:8]}")
    engine: EngineCluster | None = None

    def __post_init__(self) -> None:
        timeout = 60.0 if self.engine is not None else 30.0
        self.client = ElasticClient(ElasticsearchSettings(hosts=(self.url,),
                                                          request_timeout=timeout))  # fmt: skip

    @property
    def events_index(self) -> str:
        return f"{self.ns}-events"

    @property
    def alerts_index(self) -> str:
        return f"{self.ns}-alerts"

    @property
    def prefix(self) -> str:
        return self.ns

    def env(self) -> dict[str, str]:
        """runner's settings for this namespace (the URL is the proxy's, set by the drill)."""
        return {"RUNNER_ES_INDEX_PREFIX": self.prefix, "RUNNER_ALERTS_INDEX": self.alerts_index}

    def setup(self) -> None:
        """runner's indices (as ``runner setup``) and the events index."""
        backend = ElasticsearchBackend(
            ElasticsearchSettings(hosts=(self.url,), request_timeout=60.0),
            alerts_index=self.alerts_index, index_prefix=self.prefix,
        )  # fmt: skip
        with backend:
            backend.setup()
        self.client.request("PUT", f"/{self.events_index}", {"mappings": EVENT_MAPPINGS})

    def search(self, index: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every document of ``index`` (at most 10,000: drills stay far below)."""
        self.client.request("POST", f"/{index}/_refresh", allow=(404,))
        body = {"size": 10000, "query": query or {"match_all": {}}}
        response = self.client.request(
            "POST", f"/{index}/_search?ignore_unavailable=true", body, allow=(404,)
        )
        if response.status != 200:
            return []
        return [
            {"_id": hit["_id"], **(hit.get("_source") or {})}
            for hit in response.body.get("hits", {}).get("hits", [])
        ]  # fmt: skip

    def close(self) -> None:
        if self.real:
            with contextlib.suppress(Exception):
                # By name: clusters refuse wildcard deletes (action.destructive_requires_name).
                found = self.client.request("GET", f"/_resolve/index/{self.ns}-*", allow=(404,))
                for item in found.body.get("indices", []) if found.status == 200 else []:
                    self.client.request("DELETE", f"/{item['name']}", allow=(404,))
                found = self.client.request("GET", f"/_index_template/{self.ns}-*", allow=(404,))
                for item in found.body.get("index_templates", []) if found.status == 200 else []:
                    self.client.request("DELETE", f"/_index_template/{item['name']}", allow=(404,))
        self.client.close()
        if self.engine is not None:
            self.engine.stop()


def real_cluster_url() -> str | None:
    return os.environ.get("RUNNER_TEST_ES_URL") or None


@contextlib.contextmanager
def target(workdir: Path, url: str | None = None) -> Iterator[Target]:
    """A real cluster at ``url``, else a fresh engine stand-in in ``workdir``."""
    with contextlib.ExitStack() as stack:
        if url:
            found = Target(url=url, real=True)
        else:
            engine = EngineCluster(workdir / "cluster.duckdb")
            engine.start()
            found = Target(url=engine.url, real=False, engine=engine)
            # One connection held open for the drill keeps the stand-in's DuckDB file attached
            # between requests (else each request attaches and detaches it: 3-4x slower).
            stack.enter_context(engine.node.store.connect())
        stack.callback(found.close)
        found.setup()
        yield found
