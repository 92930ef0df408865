"""Configured secrets never appear in anything runner prints: commands are run (as processes,
debug logging on) with a password, an API key and credentials inside the URL, against the
HTTPS stand-in and against one that refuses them, and every byte of stdout, stderr, the
daemon's logs, ``status`` and the metrics page is searched for each secret and its encodings."""

from __future__ import annotations

import base64
import shutil
import signal
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.timeutil import isoformat, utcnow
from tests.conftest import SEED_RULES
from tests.daemon.procs import Processes, Workspace
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body
from tests.elastic.tls import Pki, make_pki

EQL_PATH = "/logs-endpoint.events.process*/_eql/search"
PASSWORD = "Pw-9f2c-very-secret"
KEY_ID, KEY = "kid-77", "Ak-41d8-very-secret"
URL_PASSWORD = "Url-7e1a-very-secret"


def forms(secret: str) -> list[str]:
    """The secret and the encodings it travels in (Basic / ApiKey headers)."""
    found = [secret, base64.b64encode(secret.encode()).decode()]
    return found


SECRETS = [
    *forms(PASSWORD), *forms(KEY), *forms(f"{KEY_ID}:{KEY}"), *forms(f"runner:{PASSWORD}"),
    *forms(URL_PASSWORD), *forms(f"alice:{URL_PASSWORD}"),
]  # fmt: skip


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def https(pki: Pki) -> Iterator[FakeCluster]:
    fake = FakeCluster(tls=pki.server_context()).start()
    fake.enable_store()
    stamp = isoformat(utcnow() - timedelta(seconds=30))
    event: dict[str, Any] = {
        "_index": ".ds-logs-endpoint.events.process-default-000001", "_id": "ev-1",
        "_source": {"@timestamp": stamp, "event": {"category": ["process"], "type": ["start"]},
                    "host": {"name": "mac-01", "os": {"type": "macos"}},
                    "process": {"name": "bash", "parent": {"name": "emond"}}},
    }  # fmt: skip
    body = {"is_partial": False, "is_running": False, "took": 1, "timed_out": False,
            "hits": {"total": {"value": 1, "relation": "eq"}, "events": [event]}}  # fmt: skip
    fake.script("POST", EQL_PATH, Reply(200, body), repeat_last=True)
    yield fake
    fake.stop()


@pytest.fixture
def refusing(pki: Pki) -> Iterator[FakeCluster]:
    fake = FakeCluster(tls=pki.server_context()).start()
    denied = error_body(401, "security_exception", "unable to authenticate user [runner]")
    fake.script("POST", "^/.*", Reply(401, denied), repeat_last=True)
    fake.script("GET", "^/.*", Reply(401, denied), repeat_last=True)
    yield fake
    fake.stop()


def test_no_output_log_status_or_metric_shows_a_configured_secret(
    tmp_path: Path, pki: Pki, https: FakeCluster, refusing: FakeCluster
) -> None:
    (tmp_path / "ws").mkdir()
    workspace = Workspace(tmp_path / "ws")
    shutil.copy(SEED_RULES / "emond_child_process.toml", workspace.rules)
    workspace.env.update(RUNNER_ES_CA_CERTS=str(pki.ca), RUNNER_ES_USERNAME="runner",
                         RUNNER_ES_PASSWORD=PASSWORD, RUNNER_LOG_LEVEL="debug")  # fmt: skip
    seen: list[str] = []

    def cli(*args: str) -> None:
        done = workspace.cli(*args)
        seen.extend([done.stdout, done.stderr])  # (not the command line: it holds them)

    cli("--es", https.url, "once", "--all")
    cli("--es", https.url, "status")
    cli("--es", https.url, "status", "--json")
    cli("--es", https.url, "executions")
    cli("--es", refusing.url, "once", "--all")  # 401: bad credentials
    cli("--es", refusing.url, "status")
    with_url = https.url.replace("https://", f"https://alice:{URL_PASSWORD}@")
    cli("--es", with_url, "status")  # credentials inside the URL
    cli("--es", with_url.replace("127.0.0.1", "127.0.0.2"), "status")  # unreachable
    env = dict(workspace.env)
    workspace.env.pop("RUNNER_ES_USERNAME")  # a password without a username: a config error
    cli("--es", https.url, "status")
    workspace.env.update(env)
    workspace.env.pop("RUNNER_ES_PASSWORD")
    workspace.env.update(RUNNER_ES_API_KEY=f"{KEY_ID}:{KEY}")
    cli("--es", https.url, "once", "--all")
    cli("--es", refusing.url, "once", "--all")
    workspace.env["RUNNER_ES_CA_CERTS"] = str(tmp_path / "missing-ca.pem")  # a TLS failure
    cli("--es", https.url, "once", "--all")
    workspace.env["RUNNER_ES_CA_CERTS"] = str(pki.ca)

    processes = Processes(workspace)
    try:
        daemon = processes.daemon("--es", https.url, "--interval", "1s", "--metrics-port", "0")
        daemon.wait_event("rule_executed", count=2)
        port = daemon.wait_event("metrics_listening")["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            seen.append(page.read().decode())
        daemon.send(signal.SIGTERM)
        assert daemon.wait(15) == 0
    finally:
        processes.close()
    seen.extend(daemon.raw)

    everything = "\n".join(seen)
    assert "rule_executed" in everything and "runner_executions_total" in everything
    assert "unable to authenticate" in everything or "401" in everything  # the refusals ran
    assert "password given without username" in everything
    assert "cannot reach Elasticsearch at https://" in everything  # URLs were printed, redacted
    # The API key and the password did reach the cluster (so the search below means something).
    sent = {r.headers.get("authorization", "") for c in (https, refusing) for r in c.requests}
    assert any(h.startswith("ApiKey ") for h in sent) and any(h.startswith("Basic ") for h in sent)
    leaked = [secret for secret in SECRETS if secret in everything]
    assert not leaked, leaked
