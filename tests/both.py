"""Both backends for exception and suppression tests: the embedded store, and the
Elasticsearch backend over real HTTP against the loopback stand-in, whose event searches are
computed (tests/elastic/engine.py) and whose runner indices are kept by its document store."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
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
from tests.elastic.engine import EventEngine
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
    cluster = FakeCluster().start()
    try:
        cluster.enable_store()
        engine = EventEngine(cluster, tmp_path)

        def load(hits: Sequence[dict[str, Any]]) -> None:
            engine.load(hits)

        with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as es:
            yield Both(backend=es, kind="elasticsearch", load=load, cluster=cluster)
    finally:
        cluster.stop()
    assert not cluster.unexpected, [r.target for r in cluster.unexpected]
