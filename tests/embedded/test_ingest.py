"""Loading NDJSON: formats, ids and duplicates, bad lines, timestamps, field shapes."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from runner.embedded.ingest import LoadProgress, load_events
from runner.embedded.store import Store
from runner.errors import StoreError
from tests.embedded.conftest import Eql, Loader, write_ndjson

GOOD = {
    "@timestamp": "2024-05-01T12:00:00Z",
    "n": 1,
    "data_stream": {"dataset": "x", "namespace": "y"},
}


def _rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.connect() as con:
        return con.execute(sql).fetchall()


def test_plain_gzip_and_stream_inputs(store: Store, tmp_path: Path) -> None:
    plain = write_ndjson(tmp_path / "a.ndjson", [{**GOOD, "n": 1}])
    packed = tmp_path / "b.jsonl.gz"
    with gzip.open(packed, "wt") as out:
        out.write(json.dumps({**GOOD, "n": 2}) + "\n")
    stream = io.BytesIO((json.dumps({**GOOD, "n": 3}) + "\n").encode())
    gz_stream = io.BytesIO(gzip.compress((json.dumps({**GOOD, "n": 4}) + "\n").encode()))
    summary = load_events(store, [plain, str(packed), stream, gz_stream])
    assert (summary.loaded, summary.duplicates, summary.skipped) == (4, 0, 0)
    assert _rows(store, "SELECT _index, n FROM events ORDER BY n") == [
        ("logs-x-y", 1),
        ("logs-x-y", 2),
        ("logs-x-y", 3),
        ("logs-x-y", 4),
    ]


def test_stdin_dash(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStdin:
        buffer = io.BytesIO((json.dumps(GOOD) + "\n").encode())

    monkeypatch.setattr("sys.stdin", FakeStdin())
    assert load_events(store, ["-"]).loaded == 1


def test_hits_keep_index_and_id_and_source(store: Store, load: Loader, eql: Eql) -> None:
    hit = {"_index": "logs-a", "_id": "abc", "_source": {**GOOD, "n": 7}, "_score": None}
    summary = load([hit], index=None)
    assert summary.loaded == 1
    assert _rows(store, "SELECT _index, _id FROM events") == [("logs-a", "abc")]
    result = eql("any where n == 7")
    assert result == [7]


def test_loading_twice_stores_each_event_once(store: Store, load: Loader) -> None:
    docs = [{"n": 1, "a": "x"}, {"n": 2, "a": "y"}]
    first = load(docs)
    second = load(docs)
    assert (first.loaded, first.duplicates) == (2, 0)
    assert (second.loaded, second.duplicates) == (0, 2)
    hit = {"_index": "logs-h", "_id": "1", "_source": {"n": 3, "@timestamp": "2024-01-01"}}
    assert load([hit, hit], index=None).loaded == 1  # repeated inside one input too
    assert load([hit], index=None).duplicates == 1
    assert _rows(store, "SELECT count(*) FROM events") == [(3,)]


def test_bare_document_ids_are_content_hashes(tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "a.ndjson", [GOOD, {**GOOD, "n": 2}])
    first, second = Store(tmp_path / "one.duckdb"), Store(tmp_path / "two.duckdb")
    load_events(first, [path])
    load_events(second, [path])
    ids = _rows(first, "SELECT _id FROM events ORDER BY _id")
    assert ids == _rows(second, "SELECT _id FROM events ORDER BY _id")
    assert len({i for (i,) in ids}) == 2


def test_bad_lines_are_reported_and_skipped(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(
        b"\n".join(
            [
                json.dumps(GOOD).encode(),
                b"{not json",
                b"[1, 2]",
                b"",
                json.dumps({"@timestamp": "yesterday", "n": 5}).encode(),
                json.dumps({"@timestamp": "2024-05-01T00:00:00Z", "n": 6}).encode(),
                b'{"_index": "i", "_id": "1", "_source": "nope"}',
                json.dumps({**GOOD, "n": 8}).encode(),
            ]
        )
        + b"\n"
    )
    summary = load_events(store, [path])
    assert (summary.loaded, summary.skipped) == (2, 5)
    problems = [(p.line, p.message.split(":")[0]) for p in summary.problems]
    assert problems == [
        (2, "invalid JSON"),
        (3, "not a JSON object"),
        (5, "no usable @timestamp (ISO 8601 date or epoch milliseconds)"),
        (6, "no index"),
        (7, "hit without an object `_source`"),
    ]
    assert str(summary.problems[0]) == f"{path}:2: invalid JSON"
    assert "--index" in summary.problems[3].message


def test_invalid_utf8_line_is_reported_with_its_number(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin1.ndjson"
    path.write_bytes(
        json.dumps(GOOD).encode()
        + b"\n"
        + b'{"x": "caf\xe9"}\n'
        + json.dumps({**GOOD, "n": 3}).encode()
        + b"\n"
    )
    summary = load_events(store, [path])
    assert summary.loaded == 2
    assert [(p.line, p.message) for p in summary.problems] == [(2, "not valid UTF-8 text")]


@pytest.mark.parametrize(
    ("stamp", "millis"),
    [
        ("2024-05-01T12:00:00Z", 1714564800000),
        ("2024-05-01T12:00:00.123456789Z", 1714564800123),
        ("2024-05-01T14:00:00+02:00", 1714564800000),
        ("2024-05-01T12:00:00", 1714564800000),  # no zone: UTC
        ("2024-05-01", 1714521600000),
        (1714564800000, 1714564800000),  # epoch millis, number
        ("1714564800000", 1714564800000),  # ... and numeric string
        ("2024", 1704067200000),  # four digits: a year, as the date format comes first
    ],
)
def test_timestamp_forms(store: Store, load: Loader, stamp: Any, millis: int) -> None:
    assert load([{"@timestamp": stamp, "n": 1}]).loaded == 1
    assert _rows(store, "SELECT _ts FROM events") == [(millis,)]


def test_dotted_and_nested_keys_are_one_field(store: Store, load: Loader, eql: Eql) -> None:
    load([{"n": 1, "process": {"name": "bash"}}, {"n": 2, "process.name": "bash"}])
    assert eql('any where process.name == "bash"') == [1, 2]
    # Both spellings in one document: the field has two values.
    load([{"n": 3, "process.name": "a", "process": {"name": "b"}}])
    assert eql('any where process.name == "a"') == [3]
    assert eql('any where process.name == "b"') == [3]
    assert eql('any where process.name == "bash"') == [1, 2]


def test_scalar_then_array_field(store: Store, load: Loader, eql: Eql) -> None:
    load([{"n": 1, "tags": "a"}])
    load([{"n": 2, "tags": ["b", "c"]}, {"n": 3, "tags": []}])
    assert eql('any where tags == "a"') == [1]
    assert eql('any where tags == "c"') == [2]
    assert eql("any where tags == null") == [3]  # an empty array is no value
    with store.connect() as con:
        kind = con.execute("SELECT kind, is_list FROM event_fields WHERE field = 'tags'").fetchone()
    assert kind == ("keyword", True)


def test_number_then_string_field(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "code": 5}])
    load([{"n": 2, "code": "E5"}])
    assert eql("any where code == 5") == [1]
    assert eql('any where code == "E5"') == [2]


def test_arrays_of_objects_flatten(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "dns": {"answers": [{"name": "a.example"}, {"name": "b.example", "ttl": 5}]}}])
    assert eql('any where dns.answers.name == "b.example"') == [1]
    assert eql("any where dns.answers.ttl == 5") == [1]


def test_field_nobody_has_is_null(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "a": "x"}])
    assert eql('any where nobody.has.this == "x"') == []
    assert eql("any where nobody.has.this == null") == [1]
    assert eql("any where ?nobody.has.this == null") == [1]


def test_explicit_nulls_and_odd_text_load(load: Loader, eql: Eql) -> None:
    docs = [
        {"n": 1, "a": None, "b": 'He said "x": y', "c": {"d": None}},
        {"n": 2, "a": "set", "weird key": 1},
    ]
    assert load(docs).loaded == 2
    assert eql("any where a == null") == [1]
    assert eql('any where b == "He said \\"x\\": y"') == [1]
    assert eql("any where `weird key` == 1") == [2]


def test_empty_key_is_ignored_not_fatal(load: Loader, eql: Eql) -> None:
    assert load([{"n": 1, "": "x", "a": {"": 2, "b": 3}}]).loaded == 1
    assert eql("any where a.b == 3") == [1]


def test_mixed_object_and_scalar_positions(load: Loader, eql: Eql) -> None:
    load([{"n": 1, "x": "plain"}, {"n": 2, "x": {"y": "nested"}}, {"n": 3, "z": [1, "two"]}])
    assert eql('any where x == "plain"') == [1]
    assert eql('any where x.y == "nested"') == [2]
    assert eql('any where z == "two"') == [3]


def test_progress_reports_each_input(store: Store, tmp_path: Path) -> None:
    seen: list[LoadProgress] = []
    path = write_ndjson(tmp_path / "a.ndjson", [GOOD])
    load_events(store, [path], progress=seen.append)
    assert seen[-1] == LoadProgress(source=str(path), fraction=1.0, done=True)
    assert all(0.0 <= p.fraction <= 1.0 for p in seen)


def test_missing_file_is_an_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        load_events(store, [tmp_path / "nope.ndjson"])


# -- how a load runs (runner.embedded.ingest's docstring) -------------------------------------


def _seqs(store: Store) -> list[int]:
    return [int(s) for (s,) in _rows(store, "SELECT _seq FROM events ORDER BY rowid")]


def test_rows_are_numbered_in_load_order_and_indexed(store: Store, load: Loader) -> None:
    load([{"n": 1}, {"n": 2}])
    load([{"n": 3}])
    assert _seqs(store) == [1, 2, 3]
    assert _rows(store, "SELECT index_name FROM duckdb_indexes()") == [("events_seq",)]
    # A load that stores nothing still leaves the index in place.
    load([{"n": 3}])
    assert _rows(store, "SELECT index_name FROM duckdb_indexes()") == [("events_seq",)]


def test_rows_an_interrupted_load_left_unnumbered(store: Store, load: Loader, eql: Eql) -> None:
    load([{"n": 1}, {"n": 2}])
    with store.connect() as con:  # as if the load had stopped between its two transactions
        con.execute("DROP INDEX events_seq")
        con.execute("UPDATE events SET _seq = 0")
    assert eql("any where n > 0") == [1, 2]  # still found, read by rowid
    load([{"n": 3}])
    assert _seqs(store) == [1, 2, 3]
    assert eql("any where n > 0") == [1, 2, 3]


def test_new_fields_and_duplicates_in_a_later_load(
    store: Store, load: Loader, eql: Eql, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runner.embedded.ingest._SAMPLE", 1)  # the check finds the rest
    first = load([{"n": 1, "a": "x"}, {"n": 2, "a": "y"}])
    assert (first.loaded, first.duplicates) == (2, 0)
    second = load(
        [
            {"n": 1, "a": "x"},  # stored already
            {"n": 3, "b": {"c": [1, 2]}},  # a new field, an array
            {"n": 3, "b": {"c": [1, 2]}},  # repeated in the input
            {"n": 4, "a": 5},  # a number where strings were seen: the column widens
        ]
    )
    assert (second.loaded, second.duplicates, second.skipped) == (2, 2, 0)
    assert eql("any where b.c == 2") == [3]
    assert eql('any where a == "5"') == [4]
    assert eql('any where a == "x"') == [1]
    assert _seqs(store) == [1, 2, 3, 4]


def test_problem_lines_found_after_the_shape_grew(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runner.embedded.ingest._SAMPLE", 1)
    path = write_ndjson(
        tmp_path / "hits.ndjson",
        [
            {"_index": "logs-a", "_id": "1", "_source": {**GOOD, "n": 1}},
            # A field the sample lacks: derived again, then found to have no timestamp.
            {"_index": "logs-a", "_id": "2", "_source": {"n": 2, "new": {"x": 1}}},
            "not json",
            {"_index": "logs-a", "_id": "3", "_source": {**GOOD, "n": 3, "new": {"x": 3}}},
        ],
    )
    summary = load_events(store, [path])
    assert (summary.loaded, summary.skipped) == (2, 2)
    assert [(p.line, p.message.split(" (")[0]) for p in summary.problems] == [
        (2, "no usable @timestamp"),
        (3, "invalid JSON"),
    ]
