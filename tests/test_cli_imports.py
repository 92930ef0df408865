"""Quick commands load only what they use: no DuckDB, APScheduler, Elasticsearch client,
structlog or Jinja2 for ``runner --help`` or ``runner rules list``.

A test of the property that makes start-up fast (``scripts/bench_cli.py`` measures the time);
each case runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("duckdb", "apscheduler", "elasticsearch", "elastic_transport", "structlog", "jinja2")

_PROBE = """
import contextlib, io, json, sys
import runner.cli.main as cli
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = cli.main(sys.argv[1:])
    except SystemExit as exc:  # --help exits from argparse
        code = exc.code
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "loaded": loaded, "out": out.getvalue()}))
"""


def _probe(tmp_path: Path, *args: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runner.cli.main, sys, json; print(json.dumps(list(sys.modules)))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "runner" in loaded
    assert not loaded & set(HEAVY)
    # Not the rule loader either: --help needs no parser.
    assert "lark" not in loaded


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("rules", "list"), ("hunt", "--help"), ("daemon", "--help")],
)
def test_quick_commands_load_no_heavy_module(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _probe(tmp_path, *args)
    assert result["code"] == 0
    assert result["out"]  # the command did its work
    loaded = set(result["loaded"])  # type: ignore[call-overload]
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_rules_list_still_loads_and_lists_the_rules(tmp_path: Path) -> None:
    result = _probe(tmp_path, "rules", "list")
    out = str(result["out"])
    for stem in ("emond_child_process", "exim4_child_process", "installer_package_network"):
        assert stem in out


def test_a_command_that_logs_loads_structlog_when_it_logs(tmp_path: Path) -> None:
    """Deferred logging set-up still applies: a rule that fails to load is logged as JSON."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.toml").write_text("[rule\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-m", "runner", "--log-format", "json", "rules", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(done.stderr.splitlines()[0])
    assert record["event"] == "rule_not_loaded"
    assert record["level"] == "warning"
    assert "broken.toml" in record["error"]


_HUNT_PROBE = """
import contextlib, io, json, sys
import runner.cli.main as cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules), "out": out.getvalue()}))
"""

# What an EQL hunt on the store never needs: other languages' parsers and compilers, the
# alert store, value lists, the daemon.
_NOT_FOR_AN_EQL_HUNT = (
    "runner.esql",
    "runner.kql",
    "runner.embedded.dsl_sql",
    "runner.embedded.kql_sql",
    "runner.backends.embedded",
    "runner.backends.embedded_alerts",
    "runner.lists",
    "runner.embedded.ingest",
    "apscheduler",
)


def test_an_eql_hunt_loads_only_what_it_searches_with(tmp_path: Path) -> None:
    from runner.embedded import Store, load_events

    events = tmp_path / "events.ndjson"
    events.write_text(
        json.dumps(
            {
                "@timestamp": "2024-05-01T12:00:00Z",
                "event": {"category": "process", "type": "start"},
                "process": {"name": "bash"},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    store = tmp_path / "store.duckdb"
    load_events(Store(store), [events], index="logs-test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-c", _HUNT_PROBE, "--store", str(store), "hunt", "--format", "ndjson",
         'process where process.name == "bash"'],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0
    hits = [json.loads(line) for line in result["out"].splitlines()]
    assert [h["_source"]["process"]["name"] for h in hits] == ["bash"]
    modules = set(result["modules"])
    assert "runner.embedded.sequences" in modules  # the probe saw the search's modules
    loaded = sorted(m for m in modules if m.startswith(_NOT_FOR_AN_EQL_HUNT))
    assert not loaded, loaded
