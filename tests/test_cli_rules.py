import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.cli.main import main
from tests.conftest import REPO_ROOT, SEED_RULES
from tests.helpers import write_rule


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--log-format", "json", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_rules_list_shows_the_seed_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--rules", str(SEED_RULES), "rules", "list")
    assert code == 0
    header = out.splitlines()[0]
    for column in ("short name", "name", "type", "language", "interval", "severity", "risk"):
        assert column in header
    assert "emond_child_process" in out and "new_terms" in out and "kuery" in out


def test_global_options_work_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "list", "--rules", str(SEED_RULES))
    assert code == 0 and "exim4_child_process" in out


def test_validate_summary_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rule(tmp_path, "good")
    write_rule(tmp_path, "bad", query="process where process.name = 'x'")
    (tmp_path / "saved.toml").write_text(
        '[rule]\nname = "S"\nrule_id = "sq"\ntype = "saved_query"\n'
    )
    (tmp_path / "ml.toml").write_text(
        '[rule]\nname = "ML"\nrule_id = "ml"\ntype = "machine_learning"\ndescription = "d"\n'
        'risk_score = 21\nseverity = "low"\nanomaly_threshold = 75\n'
        'machine_learning_job_id = "rare_process"\n'
    )
    code, out, err = run(capsys, "rules", "validate", str(tmp_path))
    assert code == 1
    assert out.strip().endswith(
        "2 loaded, 1 failed, 1 unsupported (1 loaded rule(s) run on a cluster only)"
    )
    assert "bad.toml: rule.query: line 1, column" in err
    assert "saved.toml: skipped: rule type 'saved_query' is not supported" in out
    assert "ml.toml: cluster only (unsupported on the embedded store): machine learning" in out


def test_validate_seed_rules_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "validate", str(SEED_RULES))
    assert code == 0
    assert out.strip().endswith("9 loaded, 0 failed, 0 unsupported")


def test_show_explain_eql_prints_the_eql_search_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--rules", str(SEED_RULES), "rules", "show", "emond", "--explain")
    assert code == 0
    assert "POST /logs-endpoint.events.process*/_eql/search?allow_no_indices=true" in out
    body = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert body["size"] == 100
    assert body["timestamp_field"] == "@timestamp"
    assert body["query"].startswith("process where host.os.type")
    should = body["filter"]["bool"]["filter"][0]["bool"]["should"]
    assert "event.ingested" in should[0]["range"]
    assert should[1]["bool"]["filter"][1] == {
        "bool": {"must_not": {"exists": {"field": "event.ingested"}}}
    }


def test_show_explain_new_terms_prints_both_phases(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--rules", str(SEED_RULES), "rules", "show", "exim4", "--explain")
    assert code == 0
    assert "new_terms phase 1" in out and "new_terms phase 2" in out
    assert '"composite"' in out and '"process.executable"' in out
    assert '"bucket_selector"' in out and '"min"' in out


def test_unknown_rule_exits_2_with_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--rules", str(SEED_RULES), "rules", "show", "process")
    assert code == 2
    assert "matches 3 rules" in err and "Traceback" not in err


def test_python_dash_m_and_packaged_seed_rules(tmp_path: Path) -> None:
    # From a directory with no ./rules, the seed rules that ship with runner are used.
    result = subprocess.run(
        [sys.executable, "-m", "runner", "rules", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "installer_package_network" in result.stdout


def test_show_explain_threshold_prints_the_composite_aggregation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "--rules", str(SEED_RULES), "rules", "show", "process_kill", "--explain"
    )
    assert code == 0
    assert "/_search?allow_no_indices=true&ignore_unavailable=true" in out
    body = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert body["size"] == 0
    agg = body["aggregations"]["thresholdTerms"]
    assert agg["composite"] == {
        "sources": [
            {"host.id": {"terms": {"field": "host.id"}}},
            {"process.executable": {"terms": {"field": "process.executable"}}},
            {"user.name": {"terms": {"field": "user.name"}}},
        ],
        "size": 10000,
    }
    assert agg["aggregations"]["count_check"] == {
        "bucket_selector": {
            "buckets_path": {"docCount": "_count"},
            "script": {"source": "params.docCount >= 15"},
        }
    }
    assert agg["aggregations"]["max_timestamp"] == {"max": {"field": "kibana.combined_timestamp"}}
    assert "kibana.combined_timestamp" in body["runtime_mappings"]
    # The signal history's bucket filter is present (empty before any alert).
    assert {"bool": {"must_not": []}} in body["query"]["bool"]["filter"]


def explained(out: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``METHOD PATH`` and JSON body of each request ``--explain`` printed."""
    found = []
    for block in out.split("\n# ")[1:]:
        lines = block.split("\n")
        body = "\n".join(lines[2:]).strip()
        found.append((lines[1], json.loads(body) if body else {}))
    return found


def test_show_explain_threat_match_prints_pit_indicator_page_and_event_search(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "--rules", str(SEED_RULES), "rules", "show", "indicator_match_hash", "--explain"
    )
    assert code == 0
    (pit, _), (page_target, page), (events_target, events) = explained(out)
    assert pit == "POST /filebeat-*,logs-ti_*/_pit?keep_alive=5m&ignore_unavailable=true"
    assert page_target == "POST /_search"
    assert page["sort"] == ["_shard_doc"] and page["size"] == 9000
    assert page["pit"] == {"id": "<point in time id>", "keep_alive": "5m"}
    filters = page["query"]["bool"]["filter"]
    assert {"match_phrase": {"event.kind": "enrichment"}} in filters
    assert events_target.startswith("POST /auditbeat-*,endgame-*,filebeat-*,logs-*,winlogbeat-*/")
    should = events["query"]["bool"]["filter"][-2]["bool"]["should"]
    assert {"terms": {"process.hash.sha256": ["<threat.indicator.file.hash.sha256>"]}} in should


def test_show_explain_machine_learning_prints_the_anomaly_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ml.toml").write_text(
        '[rule]\nname = "Rare process"\nrule_id = "ml"\ntype = "machine_learning"\n'
        'description = "d"\nrisk_score = 21\nseverity = "low"\nanomaly_threshold = 75\n'
        'machine_learning_job_id = ["job_a", "job_b"]\n'
    )
    code, out, _ = run(capsys, "--rules", str(tmp_path), "rules", "show", "ml", "--explain")
    assert code == 0
    ((target, body),) = explained(out)
    assert target == "POST /.ml-anomalies-*/_search"
    assert body["size"] == 100 and body["sort"] == [{"record_score": {"order": "desc"}}]
    must = body["query"]["bool"]["filter"][2]["bool"]["must"]
    assert must[1] == {"range": {"record_score": {"gte": 75}}}
    assert must[2] == {
        "query_string": {"analyze_wildcard": False, "query": "job_id:job_a OR job_id:job_b"}
    }
