"""Both backends for exception and suppression tests: the embedded store, and the
Elasticsearch backend over real HTTP against the engine-backed loopback stand-in
(tests/elastic/engine_cluster.py), whose answers are all computed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner.backends.base import Backend
from runner.backends.elasticsearch import ElasticsearchBackend
from runner.backends.embedded import EmbeddedBackend
from runner.embedded.store import Store
from runner.logs import configure_logging
from tests.contract.conftest import Harness
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.engine_cluster import EngineCluster
from tests.elastic.fake_cluster import FakeCluster


@dataclass
class Both:
    backend: Backend
    kind: str
    load: Any  # (hits) -> None
    cluster: FakeCluster | None = None


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    configure_logging("info", "json", stream=io.StringIO())
    yield


@pytest.fixture(params=["embedded", "elasticsearch"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Both]:
    if request.param == "embedded":
        backend = EmbeddedBackend(Store(tmp_path / "store.duckdb"))
        harness = Harness(backend=backend, tmp=tmp_path, kind="embedded")
        yield Both(backend=backend, kind="embedded", load=harness.load)
        return
    cluster = EngineCluster(tmp_path / "cluster.duckdb").start()
    try:
        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as es:
            es.setup()
            harness = Harness(backend=es, tmp=tmp_path, kind="stand-in")
            yield Both(backend=es, kind="elasticsearch", load=harness.load, cluster=cluster)
    finally:
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]
