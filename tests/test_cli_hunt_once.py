"""The CLI over a real store: events load, hunt, once, alerts, executions, demo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.cli.main import main
from tests.conftest import SEED_RULES
from tests.contract.events import network, process

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    events = [
        process("tp-1", NOW - 2 * MIN),
        process("tp-2", NOW - 1 * MIN, name="Curl"),
        process("fp-1", NOW - 3 * MIN, name="ls"),
        process("seq-a", NOW - 4 * MIN, name="sh", parent="installer", entity_id="E1"),
        network("seq-b", NOW - 4 * MIN + timedelta(seconds=3), parent_entity_id="E1"),
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + "{broken\n")
    db = tmp_path / "store.duckdb"
    code = main(["--store", str(db), "events", "load", str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "5 loaded, 0 duplicates, 1 skipped" in out
    assert "events.ndjson:6: invalid JSON" in err
    return db


def run(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--store", str(db), "--rules", str(SEED_RULES), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_hunt_eql_ndjson_in_elasticsearch_order(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, store, "hunt", 'process where process.parent.name : "EMOND"',
                       "--format", "ndjson")  # fmt: skip
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["_id"] for h in hits] == ["fp-1", "tp-1", "tp-2"]  # ascending @timestamp
    assert hits[0]["_index"] == "logs-endpoint.events.process-default"
    assert hits[0]["_source"]["process"]["name"] == "ls"


def test_hunt_sequence_ndjson(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = (
        "sequence by host.id with maxspan=15s "
        "[process where true] by process.entity_id [network where true] by process.parent.entity_id"
    )
    code, out, _ = run(capsys, store, "hunt", query, "--format", "ndjson")
    assert code == 0
    (line,) = out.splitlines()
    sequence = json.loads(line)
    assert sequence["join_keys"] == ["id-mac-01", "E1"]
    assert [e["_id"] for e in sequence["events"]] == ["seq-a", "seq-b"]


def test_hunt_kuery_index_and_time_filters(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, store, "hunt", "--language", "kuery", "process.parent.name:emond",
                       "--index", "logs-endpoint.events.process*", "--from",
                       "2024-05-01T11:57:30Z", "--to", "2024-05-01T12:00:00Z",
                       "--format", "ndjson")  # fmt: skip
    assert code == 0
    assert [json.loads(line)["_id"] for line in out.splitlines()] == ["tp-1", "tp-2"]
    code, out, _ = run(capsys, store, "hunt", "network where true", "--index", "nothing-*",
                       "--format", "ndjson")  # fmt: skip
    assert code == 0 and out == ""


def test_hunt_query_error_exits_2_with_position(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, store, "hunt", "process where process.name = 'x'")
    assert code == 2
    assert "line 1, column" in err and "^" in err and "Traceback" not in err


def test_once_alerts_executions_round_trip(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = "2024-05-01T12:00:00Z"
    code, out, _ = run(capsys, store, "once", "--rule", "emond", "--rule", "installer",
                       "--now", now, "--json")  # fmt: skip
    assert code == 0
    summaries = [json.loads(line) for line in out.splitlines()]
    assert [(s["rule_name"], s["status"], s["alerts_created"]) for s in summaries] == [
        ("Suspicious Emond Child Process", "succeeded", 2),
        ("MacOS Installer Package Spawns Network Event", "succeeded", 1),
    ]
    assert set(summaries[0]) == {
        "rule_id", "rule_name", "status", "window_from", "window_to", "candidates",
        "alerts_created", "duplicates", "capped", "message", "search_ms", "index_ms",
    }  # fmt: skip
    assert summaries[0]["window_from"] == "2024-05-01T11:51:00.000Z"
    # Replaying the same moment creates nothing new.
    code, out, _ = run(capsys, store, "once", "--all", "--now", now, "--json")
    again = {json.loads(line)["rule_name"]: json.loads(line) for line in out.splitlines()}
    assert again["Suspicious Emond Child Process"]["duplicates"] == 2
    assert sum(s["alerts_created"] for s in again.values()) == 0
    code, out, _ = run(capsys, store, "alerts", "list")
    assert code == 0 and out.count("Suspicious Emond Child Process") == 2
    code, out, _ = run(capsys, store, "alerts", "export", "--rule", "emond")
    reasons = sorted(json.loads(line)["kibana.alert.reason"] for line in out.splitlines())
    assert reasons[0] == (
        "process event with process Curl, parent process emond, by root on mac-01 "
        "created medium alert Suspicious Emond Child Process."
    )
    code, out, _ = run(capsys, store, "alerts", "export", "--rule", "installer")
    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) == 3  # the shell and its two building blocks
    code, out, _ = run(capsys, store, "executions", "--rule", "emond", "--limit", "1")
    assert code == 0 and "succeeded" in out and out.count("Suspicious Emond") == 1


def test_once_needs_a_rule_or_all(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, store, "once")
    assert code == 2 and "--rule NAME" in err


def test_demo_finds_every_seed_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.duckdb"
    code, out, _ = run(capsys, db, "demo", "--seed", "7", "--events", "600", "--hosts", "4")
    assert code == 0
    for name in ("Suspicious Emond", "Hidden Launch Agent", "MacOS Installer", "Unusual Exim4"):
        assert name in out
    created = int(out.split(" alert(s) created")[0].rsplit(" ", 1)[1])
    assert created >= 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["once", "--rule", "nosuch"], "loaded rules: emond_child_process"),
        (["once", "--rule", "emnod"], "did you mean: emond_child_process"),
        (["events", "load", "/nonexistent.ndjson"], "no such file: /nonexistent.ndjson"),
        (["demo", "--hosts", "1"], "hosts must be at least 2"),
        (["alerts", "list"], "no store at"),
        (["executions"], "no store at"),
        (["hunt", "any where true"], "no store at"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = tmp_path / "missing" / "store.duckdb"
    code, _, err = run(capsys, db, *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not db.exists()  # read-only commands never create a store


def test_bad_index_name_is_refused(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.ndjson"
    path.write_text('{"@timestamp": "2024-05-01T12:00:00Z"}\n')
    for bad in ("", "BAD INDEX", "Upper", "_under"):
        code, _, err = run(capsys, store, "events", "load", str(path), "--index", bad)
        assert code == 2 and "invalid index name" in err


def test_once_rule_and_all_exclude_each_other(store: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--store", str(store), "once", "--all", "--rule", "emond"])
    assert caught.value.code == 2
