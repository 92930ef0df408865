"""``runner setup``: templates and indices created idempotently; the CLI's lines and codes."""

from __future__ import annotations

from typing import Any

import pytest

from runner.backends.elasticsearch import ElasticsearchBackend
from runner.cli import main as cli_main
from runner.cli import setup_cmd
from runner.elastic.setup import TEMPLATE_VERSION, SetupStep
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body

NAMES = (
    "runner-alerts-default",
    "runner-executions",
    "runner-state",
    "runner-gaps",
    "runner-outbox",
    "runner-lists",
    "runner-leases",
)


def template_answer(name: str, version: int) -> dict[str, Any]:
    return {
        "index_templates": [
            {
                "name": name,
                "index_template": {
                    "index_patterns": [name],
                    "composed_of": [],
                    "template": {},
                    "_meta": {"managed_by": "runner", "version": version},
                },
            }
        ]
    }


def script_not_an_alias(cluster: FakeCluster) -> None:
    # Elasticsearch's answer when no alias has the name (runner's own alerts index).
    missing = {"error": "alias [runner-alerts-default] missing", "status": 404}
    cluster.script("GET", "/_alias/runner-alerts-default", Reply(404, missing))


def script_fresh_cluster(cluster: FakeCluster) -> None:
    script_not_an_alias(cluster)
    for name in NAMES:
        missing = error_body(
            404, "resource_not_found_exception", f"index template matching [{name}] not found"
        )
        cluster.script("GET", f"/_index_template/{name}", Reply(404, missing))
        cluster.script("PUT", f"/_index_template/{name}", Reply(200, {"acknowledged": True}))
        cluster.script(
            "PUT",
            f"/{name}",
            Reply(200, {"acknowledged": True, "shards_acknowledged": True, "index": name}),
        )


def test_setup_creates_templates_and_indices(
    cluster: FakeCluster, backend: ElasticsearchBackend
) -> None:
    script_fresh_cluster(cluster)
    steps = backend.setup()
    assert steps == [SetupStep(kind="index template", name=n, action="created") for n in NAMES] + [
        SetupStep(kind="index", name=n, action="created") for n in NAMES
    ]
    body = cluster.calls("PUT", "/_index_template/runner-alerts-default")[0].body
    assert body["index_patterns"] == ["runner-alerts-default"]
    assert body["template"]["settings"] == {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
    mappings = body["template"]["mappings"]
    assert mappings["dynamic"] == "true"
    assert mappings["dynamic_templates"] == [
        {
            "strings_as_keyword": {
                "match_mapping_type": "string",
                "mapping": {"type": "keyword", "ignore_above": 1024},
            }
        }
    ]
    alert = mappings["properties"]["kibana"]["properties"]["alert"]["properties"]
    assert alert["uuid"] == {"type": "keyword"}
    assert alert["original_time"] == {"type": "date"}
    assert alert["severity"] == {"type": "keyword"}
    assert alert["risk_score"] == {"type": "float"}
    assert alert["reason"]["fields"] == {"text": {"type": "match_only_text"}}
    assert alert["rule"]["properties"]["rule_id"] == {"type": "keyword"}
    assert alert["group"]["properties"]["id"] == {"type": "keyword"}
    assert mappings["properties"]["@timestamp"] == {"type": "date"}
    executions = cluster.calls("PUT", "/_index_template/runner-executions")[0].body
    props = executions["template"]["mappings"]["properties"]
    assert executions["template"]["mappings"]["dynamic"] == "false"
    assert props["started_at"] == {"type": "date"} and props["status"] == {"type": "keyword"}
    assert cluster.calls("PUT", "/runner-state")[0].body == {}


def test_setup_is_idempotent(cluster: FakeCluster, backend: ElasticsearchBackend) -> None:
    script_not_an_alias(cluster)
    for name in NAMES:
        version = TEMPLATE_VERSION if name != "runner-state" else TEMPLATE_VERSION - 1
        cluster.script(
            "GET", f"/_index_template/{name}", Reply(200, template_answer(name, version))
        )
        exists = error_body(
            400,
            "resource_already_exists_exception",
            f"index [{name}/abc] already exists",
            index=name,
        )
        cluster.script("PUT", f"/{name}", Reply(400, exists))
    cluster.script("PUT", "/_index_template/runner-state", Reply(200, {"acknowledged": True}))
    steps = backend.setup()
    actions = {(s.kind, s.name): s.action for s in steps}
    assert actions[("index template", "runner-state")] == "updated"  # an older template
    assert actions[("index template", "runner-alerts-default")] == "exists"
    assert all(actions[("index", n)] == "exists" for n in NAMES)
    assert len(cluster.calls("PUT", "/_index_template/runner-alerts-default")) == 0


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    if setup_cmd.register not in cli_main.COMMANDS:
        monkeypatch.setattr(cli_main, "COMMANDS", (*cli_main.COMMANDS, setup_cmd.register))
    monkeypatch.delenv("RUNNER_ES_URL", raising=False)
    code = cli_main.main(["--log-format", "json", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_setup_prints_what_it_created(
    cluster: FakeCluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script_fresh_cluster(cluster)
    code, out, _ = run_cli(capsys, monkeypatch, "--es", cluster.url, "setup")
    assert code == 0
    assert out.splitlines()[0] == f"Elasticsearch 9.1.2 at {cluster.url}"
    assert "created  index template  runner-alerts-default" in out
    assert out.strip().endswith("14 created or updated, 0 already existed")


def test_cli_setup_without_a_cluster_prepares_the_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, monkeypatch, "setup")
    assert code == 0
    assert "embedded store .runner/runner.duckdb created" in out
    for table in ("alerts", "rule_state", "executions", "gaps", "outbox", "value_lists"):
        assert table in out, (table, out)
    assert (tmp_path / ".runner" / "runner.duckdb").is_file()
    code, out, _ = run_cli(capsys, monkeypatch, "setup")
    assert code == 0 and "already existed" in out


def test_cli_bad_credentials_one_line_exit_4(
    cluster: FakeCluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = error_body(
        401, "security_exception", "unable to authenticate user [elastic] for REST request [/]"
    )
    cluster.script("GET", "/", Reply(401, body))
    monkeypatch.setenv("RUNNER_ES_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("RUNNER_ES_USERNAME", "elastic")
    code, _, err = run_cli(capsys, monkeypatch, "--es", cluster.url, "setup")
    assert code == 4
    assert err.count("\n") == 1 and "Traceback" not in err and "hunter2-secret" not in err
    assert err.startswith("runner: Elasticsearch rejected the credentials (HTTP 401:")
