"""Fixtures for the daemon tests: structured logs captured in a buffer."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from runner.logs import configure_logging


@pytest.fixture(autouse=True)
def logs() -> Iterator[io.StringIO]:
    """JSON log lines of the code under test (reset afterwards)."""
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    yield buffer
    configure_logging("info", "json", stream=io.StringIO())
