"""``runner exceptions ...``, ``runner lists ...`` and ``rules show --explain`` on the embedded
store: import, list, add from an alert, remove; value list import errors."""

from __future__ import annotations

import json
import shutil
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from runner.cli.main import main
from runner.timeutil import isoformat, utcnow
from tests.conftest import SEED_RULES
from tests.contract.events import process


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RUNNER_RULES", "RUNNER_STORE", "RUNNER_ES_URL", "RUNNER_EXCEPTIONS"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(SEED_RULES, tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--log-format", "json", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_list_and_explain(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = workdir / "export.ndjson"
    lines = [
        {"list_id": "maint", "type": "detection", "name": "Maintenance", "description": "",
         "namespace_type": "single", "tags": []},
        {"item_id": "echo", "list_id": "maint", "type": "simple", "name": "echo ok",
         "namespace_type": "single", "comments": [],
         "entries": [{"field": "process.command_line", "type": "match",
                      "operator": "included", "value": "echo ok"}]},
    ]  # fmt: skip
    export.write_text("\n".join(json.dumps(line) for line in lines) + "\n{oops\n")
    code, out, err = run(capsys, "exceptions", "import", str(export), "--rule", "emond")
    assert code == 1  # one line was skipped
    assert f"{export}:3: malformed JSON" in err
    written = workdir / "exceptions" / "maint_exceptions.toml"
    assert f"maint: 1 item(s) in {written}" in out
    document = tomllib.loads(written.read_text())
    assert document["metadata"]["rule_names"] == ["Suspicious Emond Child Process"]

    code, out, _ = run(capsys, "exceptions", "list", "--rule", "emond")
    assert code == 0 and "echo" in out and "process.command_line is echo ok" in out
    code, out, _ = run(capsys, "exceptions", "list", "--rule", "exim4")
    assert "(no items)" in out

    code, out, _ = run(capsys, "rules", "show", "emond", "--explain")
    assert code == 0
    assert "exception filter" in out
    body = out.split("POST /logs-endpoint.events.process*/_eql/search?allow_no_indices=true\n")[1]
    request = json.loads(body.split("\n\n")[0])
    phrase = {"match_phrase": {"process.command_line": "echo ok"}}
    item = {"bool": {"minimum_should_match": 1, "should": [phrase]}}
    negated = {"bool": {"must_not": [{"bool": {"should": [item]}}]}}
    assert negated in request["filter"]["bool"]["filter"]


def test_add_from_alert_then_remove(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = utcnow()
    events = workdir / "events.ndjson"
    hits = [
        process("fp", now - timedelta(minutes=2), name="echo", executable="/bin/echo"),
        process("tp", now - timedelta(minutes=2), name="curl", executable="/usr/bin/curl"),
    ]
    events.write_text("".join(json.dumps(h) + "\n" for h in hits))
    assert run(capsys, "events", "load", str(events))[0] == 0
    code, out, _ = run(capsys, "once", "--rule", "emond", "--json")
    assert json.loads(out.splitlines()[0])["alerts_created"] == 2
    code, out, _ = run(capsys, "alerts", "export", "--rule", "emond")
    alerts = [json.loads(line) for line in out.splitlines()]
    fp_alert = next(a for a in alerts if a["kibana.alert.ancestors"][0]["id"] == "fp")

    rule_file = (workdir / "rules" / "emond_child_process.toml").read_text()
    expires = isoformat(now + timedelta(days=30))
    code, out, _ = run(
        capsys, "exceptions", "add", "--rule", "emond",
        "--from-alert", fp_alert["kibana.alert.uuid"][:12],
        "--field", "process.executable", "--field", "event.type",
        "--comment", "maintenance", "--expires", expires,
    )  # fmt: skip
    assert code == 0, out
    assert "process.executable is /bin/echo" in out and "event.type is start" in out
    assert (workdir / "rules" / "emond_child_process.toml").read_text() == rule_file
    written = tomllib.loads((workdir / "exceptions" / "emond_child_process_exceptions.toml")
                           .read_text())  # fmt: skip
    (item,) = written["exceptions"][0]["items"]
    assert item["comments"][0]["comment"] == "maintenance"
    assert item["expire_time"] == expires
    assert written["metadata"]["rule_ids"] == ["3e3d15c6-1509-479a-b125-21718372157e"]

    # Later events of the same kind no longer alert; the true positive still does.
    later = [
        process("fp2", now - timedelta(minutes=1), name="echo", executable="/bin/echo"),
        process("tp2", now - timedelta(minutes=1), name="curl", executable="/usr/bin/curl"),
    ]
    events.write_text("".join(json.dumps(h) + "\n" for h in later))
    run(capsys, "events", "load", str(events))
    code, out, _ = run(capsys, "once", "--rule", "emond", "--json")
    assert json.loads(out.splitlines()[0])["alerts_created"] == 1
    code, out, _ = run(capsys, "alerts", "export", "--rule", "emond")
    ids = {json.loads(line)["kibana.alert.ancestors"][0]["id"] for line in out.splitlines()}
    assert ids == {"fp", "tp", "tp2"}

    code, out, _ = run(capsys, "exceptions", "remove", item["item_id"])
    assert code == 0 and "removed" in out
    code, out, _ = run(capsys, "exceptions", "list")
    assert "(no items)" in out
    code, _, err = run(capsys, "exceptions", "remove", item["item_id"])
    assert code == 2 and "no exception item" in err


def test_add_rejects_bad_input(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "setup")
    code, _, err = run(capsys, "exceptions", "add", "--rule", "emond", "--from-alert", "nope")
    assert code == 2 and "no alert 'nope'" in err
    code, _, err = run(capsys, "exceptions", "add", "--rule", "emond", "--from-alert", "x",
                       "--expires", "next week")  # fmt: skip
    assert code == 2 and "invalid time 'next week'" in err


def test_value_lists_commands(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = workdir / "nets.txt"
    values.write_text("10.0.0.0/8\n\n192.168.1.1-192.168.1.20\nnonsense\n10.0.0.0/8\n")
    code, out, err = run(capsys, "lists", "import", "--type", "ip_range", "--id", "nets",
                         str(values))  # fmt: skip
    assert code == 1
    assert f"{values}:4: 'nonsense' is not a CIDR range or address" in err
    assert "nets: 2 value(s) of type ip_range, 1 skipped" in out
    code, out, _ = run(capsys, "lists", "list")
    assert "nets" in out and "ip_range" in out
    code, out, _ = run(capsys, "lists", "show", "nets")
    assert "10.0.0.0/8" in out and "192.168.1.1-192.168.1.20" in out
    code, _, err = run(capsys, "lists", "import", "--type", "ipv4", str(values))
    assert code == 2 and "unknown field type 'ipv4'" in err
    assert run(capsys, "lists", "delete", "nets")[0] == 0
    code, _, err = run(capsys, "lists", "show", "nets")
    assert code == 2 and "no value list 'nets'" in err


def test_exceptions_directory_is_configurable(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = workdir / "elsewhere"
    other.mkdir()
    shutil.copy(
        SEED_RULES.parent / "tests" / "rules" / "emond_child_process" / "exceptions.toml",
        other / "emond.toml",
    )
    code, out, _ = run(capsys, "--exceptions", str(other), "exceptions", "list", "--rule", "emond")
    assert code == 0 and "emond-echo-ok" in out
    monkeypatch.setenv("RUNNER_EXCEPTIONS", str(other))
    code, out, _ = run(capsys, "exceptions", "list")
    assert "it-admins-touch" in out
    code, _, err = run(capsys, "--exceptions", str(workdir / "nope"), "exceptions", "list")
    assert code == 2 and "exceptions directory not found" in err
