"""The CLI for ES|QL: ``hunt --language esql`` and ``rules show --explain``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli.main import main
from tests.test_cli_hunt_once import run, store  # noqa: F401  (the store fixture)

RULE = """[rule]
name = "Esql Emond Child"
rule_id = "esql-emond"
type = "esql"
language = "esql"
description = "d"
risk_score = 47
severity = "medium"
from = "now-9m"
timestamp_override = "event.ingested"
query = '''FROM logs-endpoint.events.process-* METADATA _id
| WHERE process.parent.name == "emond"'''
"""


def test_hunt_esql_ndjson_rows(store: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    query = (
        "FROM logs-endpoint.events.process-* | WHERE process.parent.name IS NOT NULL "
        "| STATS n = COUNT(*) BY process.parent.name | SORT process.parent.name"
    )
    code, out, _ = run(capsys, store, "hunt", "--language", "esql", query, "--format", "ndjson")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [
        {"n": 3, "process.parent.name": "emond"},
        {"n": 1, "process.parent.name": "installer"},
    ]


def test_hunt_esql_table_and_query_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    query = 'FROM logs-* | WHERE process.name == "Curl" | KEEP process.name, host.name'
    code, out, _ = run(capsys, store, "hunt", "--language", "esql", query)
    assert code == 0
    header, *lines = [line for line in out.splitlines() if line.strip()]
    assert header.split()[:2] == ["process.name", "host.name"]
    assert any("Curl" in line for line in lines)
    code, _, err = run(capsys, store, "hunt", "--language", "esql", "FROM x | WHERE")
    assert code == 2
    assert "line 1, column" in err


def test_rules_show_explain_prints_the_query_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "esql.toml").write_text(RULE)
    code = main(["--rules", str(tmp_path), "rules", "show", "esql", "--explain"])
    out = capsys.readouterr().out
    assert code == 0
    assert "POST /_query?drop_null_columns=true" in out
    body = json.loads(out[out.index("{", out.index("POST /_query")) :].split("\n\n")[0])
    assert body["query"].endswith('process.parent.name == "emond"\n| LIMIT 100')
    window = body["filter"]["bool"]["filter"][0]["bool"]
    assert "event.ingested" in json.dumps(window["should"][0])  # timestamp_override first
    assert "@timestamp" in json.dumps(window["should"][1])  # then the fallback
