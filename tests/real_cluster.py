"""Where a real Elasticsearch cluster for tests comes from, if any.

``RUNNER_TEST_ES_URL``, else a node pytest-elasticsearch starts from its configured
executable; otherwise the test is skipped with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _executable(request: pytest.FixtureRequest) -> Path | None:
    try:
        configured = request.config.getoption("elasticsearch_executable") or request.config.getini(
            "elasticsearch_executable"
        )
    except ValueError:  # pytest-elasticsearch is not installed
        return None
    path = Path(str(configured)) if configured else None
    return path if path is not None and path.is_file() else None


def cluster_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("RUNNER_TEST_ES_URL")
    if url:
        return url
    if _executable(request) is not None:
        proc = request.getfixturevalue("elasticsearch_proc")
        return f"http://{proc.host}:{proc.port}"
    pytest.skip(
        "no Elasticsearch cluster: set RUNNER_TEST_ES_URL, or give pytest-elasticsearch an "
        "executable (--elasticsearch-executable PATH)"
    )
