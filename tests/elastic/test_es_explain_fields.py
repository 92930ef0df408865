"""``runner rules show --explain`` prints the field-aware request when a cluster is
configured: the KQL compiled with the cluster's field types (``_field_caps``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli.main import main
from runner.elastic.client import ElasticClient
from tests.elastic.engine_cluster import EngineCluster

RULE = """[rule]
name = "S3 Browser"
rule_id = "s3-1"
type = "query"
language = "kuery"
description = "d"
index = ["logs-aws.cloudtrail-*"]
risk_score = 21
severity = "low"
query = 'user_agent.original: *S3 Browser*'
"""


def test_explain_uses_the_clusters_field_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "s3.toml").write_text(RULE)
    monkeypatch.delenv("RUNNER_ES_URL", raising=False)
    cluster = EngineCluster(tmp_path / "c.duckdb").start()
    try:
        client = ElasticClient(cluster.settings())
        doc = {"@timestamp": "2024-05-01T12:00:00Z", "user_agent": {"original": "S3 Browser"}}
        client.request("POST", "/_bulk", [{"create": {"_index": "logs-aws.cloudtrail-default"}},
                                          doc])  # fmt: skip
        args = ["--rules", str(rules), "--es", cluster.url, "rules", "show", "s3", "--explain"]
        assert main(args) == 0
        with_cluster = capsys.readouterr().out
        assert main(["--rules", str(rules), "rules", "show", "s3", "--explain"]) == 0
        without = capsys.readouterr().out
    finally:
        cluster.stop()
    assert '"wildcard"' in with_cluster and '"query_string"' not in with_cluster
    assert '"query_string"' in without and '"wildcard"' not in without
    assert "/_pit?keep_alive=5m" in with_cluster


THRESHOLD_RULE = (
    RULE.replace('type = "query"', 'type = "threshold"')
    + """
[rule.threshold]
field = ["host.name"]
value = 2
"""
)

INDICATOR_RULE = """[rule]
name = "Bad actor hashes"
rule_id = "bad-1"
type = "threat_match"
language = "kuery"
description = "d"
index = ["logs-aws.cloudtrail-*"]
risk_score = 21
severity = "low"
query = 'user_agent.original: *S3 Browser*'
threat_index = ["logs-ti_*"]
threat_query = "threat.indicator.description:*bad actor*"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "file.hash.md5"
type = "mapping"
value = "threat.indicator.file.hash.md5"
"""


@pytest.mark.parametrize(("text", "wildcards"), [(THRESHOLD_RULE, 1), (INDICATOR_RULE, 2)])
def test_explain_types_threshold_and_indicator_kql(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    wildcards: int,
) -> None:
    # The threat query is typed with the threat indices' fields, the rule's with its own.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text(text)
    monkeypatch.delenv("RUNNER_ES_URL", raising=False)
    cluster = EngineCluster(tmp_path / "c.duckdb").start()
    try:
        client = ElasticClient(cluster.settings())
        docs = [
            {"create": {"_index": "logs-aws.cloudtrail-default"}},
            {"@timestamp": "2024-05-01T12:00:00Z", "user_agent": {"original": "S3 Browser"}},
            {"create": {"_index": "logs-ti_x.indicators-default"}},
            {"@timestamp": "2024-05-01T12:00:00Z",
             "threat": {"indicator": {"description": "bad actor"}}},
        ]  # fmt: skip
        client.request("POST", "/_bulk", docs)
        args = ["--rules", str(rules), "--es", cluster.url, "rules", "show", "r", "--explain"]
        assert main(args) == 0
        out = capsys.readouterr().out
    finally:
        cluster.stop()
    assert out.count('"wildcard"') == wildcards and '"query_string"' not in out
