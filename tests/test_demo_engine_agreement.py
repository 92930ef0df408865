"""The generator's manifest and the engine agree: exactly the planted true positives alert.

The generator labels its documents independently of any engine (its own tests re-state each
query in plain Python), so this is an end-to-end check of the embedded engine, the execution
core and alert building on realistic data, near misses included.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.backends.embedded import EmbeddedBackend
from runner.demo import EventSet, GeneratorConfig
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.execution.executor import Executor
from runner.rules.loader import load_rules
from tests.conftest import SEED_RULES

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _event_id(source: dict[str, object]) -> str:
    event = source.get("event")
    assert isinstance(event, dict)
    return str(event["id"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alerts_match_the_generator_manifest(tmp_path: Path, seed: int) -> None:
    events = EventSet(GeneratorConfig(now=NOW, hosts=8, events=4000, seed=seed))
    path = tmp_path / "events.ndjson"
    with path.open("w", encoding="utf-8") as out:
        events.write_ndjson(out)
    store = Store(tmp_path / "store.duckdb")
    assert load_events(store, [path]).skipped == 0
    backend = EmbeddedBackend(store)
    executor = Executor(backend=backend)
    rules = {r.stem: r for r in load_rules([SEED_RULES]).rules}
    for stem, rule in rules.items():
        records = executor.run(rule, NOW)
        assert [r.status for r in records] == ["succeeded"], stem
        expected = {
            tuple(sorted(a.event_ids)) for a in events.manifest.expected_alerts if a.rule == stem
        }
        got = set()
        for alert in backend.list_alerts(rule_ids=[rule.rule_id]):
            if "kibana.alert.building_block_type" in alert:
                continue
            ids = sorted(
                _event_id(_source_of(backend, a["index"], a["id"]))
                for a in alert["kibana.alert.ancestors"]
                if a["type"] == "event"
            )
            got.add(tuple(ids))
        assert got == expected, stem


def _source_of(backend: EmbeddedBackend, index: str, doc_id: str) -> dict[str, object]:
    with backend.store.connect() as con:
        row = con.execute(
            "SELECT _source FROM events WHERE _index = ? AND _id = ?", [index, doc_id]
        ).fetchone()
    assert row is not None
    source = json.loads(row[0])
    assert isinstance(source, dict)
    return source
