"""A load that fails inside its transaction reports the error that caused it, and loses nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from runner.embedded import ingest
from runner.embedded.ingest import load_events
from runner.embedded.store import Store
from runner.errors import StoreError
from tests.embedded.conftest import write_ndjson

DOC = {"@timestamp": "2024-05-01T12:00:00Z", "data_stream": {"dataset": "x", "namespace": "y"}}


def _count(store: Store) -> int:
    with store.connect() as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def stored(store: Store, tmp_path: Path) -> Store:
    """A store already holding two events."""
    first = write_ndjson(tmp_path / "first.ndjson", [{**DOC, "n": 1}, {**DOC, "n": 2}])
    load_events(store, [first])
    assert _count(store) == 2
    return store


def test_a_query_error_mid_transaction_names_itself_and_the_file(
    stored: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After the rows are inserted, settling them meets a real DuckDB error: the transaction is
    # aborted, and every cleanup statement that follows fails too.
    def broken_settle(self: ingest._Load) -> None:
        self.con.execute("SELECT * FROM no_such_table_for_this_test")

    monkeypatch.setattr(ingest._Load, "_settle_flags", broken_settle)
    path = write_ndjson(tmp_path / "second.ndjson", [{**DOC, "n": 3}])
    with pytest.raises(StoreError) as caught:
        load_events(stored, [path])
    message = str(caught.value)
    assert message.startswith(f"{path}: loading failed: Catalog Error")
    assert "no_such_table_for_this_test" in message
    assert "aborted" not in message
    assert isinstance(caught.value.__cause__, duckdb.CatalogException)

    monkeypatch.undo()
    assert _count(stored) == 2  # rolled back: nothing of the failed load stayed
    assert load_events(stored, [path]).loaded == 1  # and the store takes the next load


def test_a_parser_error_in_the_load_statement_is_the_reported_error(
    stored: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failure of issue #10: SQL DuckDB rejects while parsing, inside the transaction.
    monkeypatch.setattr(
        ingest._Load, "_from_file", lambda self, numbered=False: "SELEC line FROM nowhere"
    )
    path = write_ndjson(tmp_path / "second.ndjson", [{**DOC, "n": 3}])
    with pytest.raises(StoreError, match=r"second\.ndjson: loading failed: Parser Error") as caught:
        load_events(stored, [path])
    assert "transaction is aborted" not in str(caught.value)
    monkeypatch.undo()
    assert _count(stored) == 2
