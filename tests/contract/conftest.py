"""The execution contract suite runs against every backend implementation.

``embedded`` always runs (a real DuckDB file).  ``elasticsearch`` runs against a real cluster
when ``RUNNER_TEST_ES_URL`` is set, and is skipped with that reason otherwise.
"""

from __future__ import annotations

import json
import os
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


@dataclass
class Harness:
    """A backend plus a way to put source events in front of it."""

    backend: Backend
    tmp: Path
    kind: str

    def load(self, hits: Sequence[dict[str, Any]]) -> None:
        if isinstance(self.backend, EmbeddedBackend):
            path = self.tmp / f"events-{uuid.uuid4().hex}.ndjson"
            path.write_text("".join(json.dumps(h) + "\n" for h in hits))
            summary = load_events(self.backend.store, [path])
            assert summary.skipped == 0, summary.problems
            return
        lines = [json.dumps(h) for h in hits]  # pragma: no cover - needs a cluster
        self.backend.index_events(lines)  # type: ignore[attr-defined]


def _elasticsearch(tmp: Path) -> Harness:  # pragma: no cover - needs a cluster
    url = os.environ.get("RUNNER_TEST_ES_URL")
    if not url:
        pytest.skip(
            "no Elasticsearch cluster: set RUNNER_TEST_ES_URL to run the contract suite on one"
        )
    from runner.backends.elasticsearch import ElasticsearchBackend
    from runner.config import ElasticsearchSettings

    prefix = f"runner-test-{uuid.uuid4().hex[:8]}"
    backend = ElasticsearchBackend(
        ElasticsearchSettings(hosts=(url,)), alerts_index=f"{prefix}-alerts", index_prefix=prefix
    )
    backend.setup()
    return Harness(backend=backend, tmp=tmp, kind="elasticsearch")


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "embedded":
        yield Harness(backend=EmbeddedBackend(Store(tmp_path / "store.duckdb")), tmp=tmp_path,
                      kind="embedded")  # fmt: skip
    else:
        yield _elasticsearch(tmp_path)
