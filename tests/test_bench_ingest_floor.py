"""scripts/bench_ingest_floor.py on a few events: each DuckDB step really stores what it claims
(so its figures measure real work), and every figure is printed.  No timing is asserted."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from tests.helpers import load_script

REPO = Path(__file__).resolve().parents[1]
NUMBER = r"\d+(?:\.\d+)?"

DOCS = [
    {
        "@timestamp": "2024-05-01T11:59:00Z",
        "data_stream": {"dataset": "endpoint.events.process", "namespace": "default"},
        "process": {"name": "bash", "args": ["bash", "-c", "id"], "parent": {"pid": 7}},
        "event": {"category": ["process"]},
    },
    {
        "_index": "logs-endpoint.events.file-default",
        "_id": "x1",
        "_source": {"@timestamp": "2024-05-01T11:59:01Z", "file": {"path": "/tmp/a b"}},
    },
    {"@timestamp": "2024-05-01T11:59:02Z", "process": {"name": "zsh"}, "empty": {}},
    ["not an object"],
]


@pytest.fixture(scope="module")
def floor() -> ModuleType:
    return load_script("bench_ingest_floor")


@pytest.fixture
def ndjson(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    return path


def test_field_paths_are_the_leaves_of_documents_and_hit_sources(
    floor: ModuleType, ndjson: Path
) -> None:
    assert floor.field_paths(ndjson) == [
        ("@timestamp",),
        ("data_stream", "dataset"),
        ("data_stream", "namespace"),
        ("process", "name"),
        ("process", "args"),
        ("process", "parent", "pid"),
        ("event", "category"),
        ("file", "path"),
        ("empty",),
    ]


def test_each_step_stores_every_line_and_field(
    floor: ModuleType, ndjson: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "work"
    assert floor.main([str(ndjson), "--keep", str(work), "--runner"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^input: .* \(0 MB, 4 lines, 9 fields\)$", out, re.MULTILINE), out
    for label in (
        "read lines",
        "parse every field",
        "store documents",
        "store fields",
        "store documents \\+ fields",
        "add one field later",
        "lazy design: documents \\+ load checks",
        "lazy design \\+ rules' fields \\(\\d+\\)",
    ):
        assert re.search(rf"^{label}: {NUMBER} s \({NUMBER} CPU-s\) = ", out, re.MULTILINE), label
    assert re.search(r"^ceiling: .* at most \d+k? events/s here \(target 250k", out, re.MULTILINE)
    assert re.search(r"^lazy design: .* at most \d+k? events/s here \(target 250k", out, re.M)
    assert re.search(r"^runner events load: .* \(2 loaded, 2 skipped\)", out, re.MULTILINE), out
    assert re.search(r"^runner events load: .* peak RSS \d+\.\d+ GB \(target 1\.50 GB", out, re.M)

    con = duckdb.connect(str(work / "floor.duckdb"), read_only=True)
    try:
        documents = sorted(r[0] for r in con.execute("SELECT line FROM documents").fetchall())
        assert documents == sorted(json.dumps(d) for d in DOCS)
        names = con.execute('SELECT "process.name", "file.path" FROM fields').fetchall()
        assert sorted(names, key=str) == sorted(
            [("bash", None), (None, "/tmp/a b"), ("zsh", None), (None, None)], key=str
        )
        both = con.execute(
            'SELECT count(*), count("process.parent.pid") FROM documents_fields'
        ).fetchone()
        assert both == (4, 1)
        # The field added later holds what the documents say (process.name is in the sample).
        lazy = con.execute("SELECT lazy_field FROM documents").fetchall()
        assert sorted(lazy, key=str) == sorted([("bash",), ("zsh",), (None,), (None,)], key=str)
        # The lazy design's rows: a status per line as the loader reports them, a hit's own
        # index, id and _source, a bare document's derived index and MD5 id.
        lazy = con.execute(
            "SELECT _seq, _index, _id, _ts, _source FROM lazy ORDER BY _source"
        ).fetchall()
        by_status = {row[0]: row for row in lazy}
        assert sorted(by_status) == [-11, -1, 0]
        assert [r[0] for r in lazy].count(0) == 2
        hit = next(r for r in lazy if r[2] == "x1")
        assert hit[1] == "logs-endpoint.events.file-default"
        assert json.loads(hit[4]) == DOCS[1]["_source"]  # type: ignore[index]
        first = next(r for r in lazy if r[4] == json.dumps(DOCS[0]))
        assert first[:2] == (0, "logs-endpoint.events.process-default")
        assert first[2] == hashlib.md5(json.dumps(DOCS[0]).encode()).hexdigest()
        assert first[3] == 1714564740000  # 2024-05-01T11:59:00Z
        named = con.execute(
            'SELECT "process.name", "event.category" FROM lazy_rule_fields WHERE _seq = 0 '
            "ORDER BY _source"
        ).fetchall()
        assert sorted(named, key=str) == sorted([("bash", '["process"]'), (None, None)], key=str)
    finally:
        con.close()


def test_rule_fields_are_what_the_seed_rules_name(floor: ModuleType) -> None:
    from runner.resources import seed_rules_dir

    names = floor.rule_fields(seed_rules_dir())
    for name in ("event.category", "process.parent.name", "file.path", "host.id"):
        assert name in names
    assert "process.parent.entity_id" in names  # a sequence stage's key


def test_a_missing_input_is_a_clear_error(
    floor: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert floor.main([str(tmp_path / "nope.ndjson")]) == 2
    assert "nope.ndjson: no such file" in capsys.readouterr().err
