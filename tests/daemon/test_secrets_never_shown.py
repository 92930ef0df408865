"""Configured secrets never appear in anything runner prints: commands are run (as processes,
debug logging on) with a password, an API key and credentials inside the URL, against the
HTTPS stand-in and against one that refuses them, and every byte of stdout, stderr, the
daemon's logs, ``status`` and the metrics page is searched for each secret and its encodings."""

from __future__ import annotations

import base64
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.procs import Processes, Workspace, emond_hit, fake_cluster
from tests.elastic.fake_cluster import FakeCluster, Reply, error_body
from tests.elastic.tls import Pki, make_pki

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
    with fake_cluster(emond_hit("ev-1"), tls=pki.server_context()) as fake:
        yield fake


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
    workspace.add_seed_rule()
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

    with Processes(workspace) as processes:
        daemon = processes.daemon("--es", https.url, "--interval", "1s", "--metrics-port", "0")
        daemon.wait_event("rule_executed", count=2)
        port = daemon.wait_event("metrics_listening")["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            seen.append(page.read().decode())
        daemon.send(signal.SIGTERM)
        assert daemon.wait(15) == 0
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
