"""An Elasticsearch stand-in on 127.0.0.1 whose answers are computed, not canned.

:class:`EngineCluster` is a :class:`~tests.elastic.fake_cluster.FakeCluster` (so a test can
still script a fault for one request) whose other requests are answered by
:class:`~tests.elastic.engine.node.Node`: documents in a DuckDB store, ``_eql/search`` and
``_query`` by the embedded engine, ``_search``/``_count`` by the query DSL evaluated with
each index's mapping, ``_field_caps``, ``_bulk``, documents, indices, data streams, index
templates and points in time.  Talk to it through the real ``elasticsearch`` client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.config import ElasticsearchSettings
from runner.embedded.store import Store
from tests.elastic.engine.node import Node
from tests.elastic.fake_cluster import FakeCluster


class EngineCluster(FakeCluster):
    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.node = Node(Store(path), clock)
        self.fallback = self.node.handle

    def settings(self, **overrides: Any) -> ElasticsearchSettings:
        # Computed answers can take seconds on a loaded machine: no client timeout in tests.
        return super().settings(**{"request_timeout": 60.0, **overrides})
