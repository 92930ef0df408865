"""Fixtures: a fake cluster on 127.0.0.1 per test, and a backend pointed at it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.elastic.client import RetryPolicy
from runner.logs import configure_logging
from tests.elastic.fake_cluster import FakeCluster

# Fast backoff so retry tests take milliseconds, not seconds.
FAST_RETRY = RetryPolicy(max_retries=3, budget=10.0, base=0.01, cap=0.05)


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[io.StringIO]:
    """Logs go to a buffer, also after a CLI test pointed them at a captured stream."""
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    yield buffer
    configure_logging("info", "json", stream=io.StringIO())


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    fake = FakeCluster().start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.unexpected, [r.target for r in fake.unexpected]


@pytest.fixture
def backend(cluster: FakeCluster) -> Iterator[ElasticsearchBackend]:
    with ElasticsearchBackend(cluster.settings(), retry=FAST_RETRY) as es:
        yield es
