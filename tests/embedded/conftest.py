"""Fixtures for the embedded engine: a fresh store per test and helpers to load and query it.

Test documents carry ``n`` (a number naming them); queries return the ``n`` of each hit, so
assertions read as "events 1 and 3 match, in this order".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.embedded.ingest import LoadSummary, load_events
from runner.embedded.search import search_eql, search_kql
from runner.embedded.store import Store
from runner.eql import parse_eql
from runner.kql import parse_kql
from runner.search import EqlRequest, EqlResult, Hit, KqlRequest, MissingEvent

BASE = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """An ISO timestamp ``seconds`` after BASE."""
    moment = BASE + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def write_ndjson(path: Path, docs: Iterable[Mapping[str, Any] | str]) -> Path:
    with path.open("w") as out:
        for doc in docs:
            out.write((doc if isinstance(doc, str) else json.dumps(doc)) + "\n")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store.duckdb")


Loader = Callable[..., LoadSummary]


@pytest.fixture
def load(store: Store, tmp_path: Path) -> Loader:
    """Load documents (each gets ``@timestamp`` = at(n) unless it has one) into ``store``."""
    counter = iter(range(10_000))

    def loader(
        docs: Sequence[Mapping[str, Any]], *, index: str | None = "logs-test"
    ) -> LoadSummary:
        prepared = []
        for doc in docs:
            item = dict(doc)
            if "@timestamp" not in item and "_source" not in item:
                item["@timestamp"] = at(float(item.get("n", 0)))
            prepared.append(item)
        path = write_ndjson(tmp_path / f"docs-{next(counter)}.ndjson", prepared)
        return load_events(store, [path], index=index)

    return loader


def ids(hits: Iterable[Hit | MissingEvent]) -> list[Any]:
    return [h.source.get("n") if isinstance(h, Hit) else None for h in hits]


Eql = Callable[..., list[Any]]


@pytest.fixture
def eql(store: Store) -> Eql:
    """Run an EQL query; events give their ``n``s, sequences a list of ``n`` lists."""

    def run(query: str, **options: Any) -> list[Any]:
        options.setdefault("size", 100)
        result = search_eql(store, EqlRequest(query=parse_eql(query), **options))
        if result.sequences:
            return [ids(s.events) for s in result.sequences]
        return ids(result.events)

    return run


@pytest.fixture
def eql_result(store: Store) -> Callable[..., EqlResult]:
    def run(query: str, **options: Any) -> EqlResult:
        options.setdefault("size", 100)
        return search_eql(store, EqlRequest(query=parse_eql(query), **options))

    return run


@pytest.fixture
def kql(store: Store) -> Eql:
    def run(query: str, **options: Any) -> list[Any]:
        options.setdefault("size", 100)
        return ids(search_kql(store, KqlRequest(query=parse_kql(query), **options)))

    return run
