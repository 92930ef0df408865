"""TLS and authentication against a loopback HTTPS stand-in (the fake cluster behind a
throwaway CA): ``ca_certs`` accepted, an unknown or wrong CA refused with a clear error, API key
and basic auth sent as Elasticsearch expects, and a certificate fingerprint pin."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.config import load_settings
from runner.elastic.client import ElasticClient
from runner.errors import BackendUnavailable, ConfigError
from tests.elastic.conftest import FAST_RETRY
from tests.elastic.fake_cluster import FakeCluster
from tests.elastic.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("other-pki"), name="someone-else")


@pytest.fixture
def https(pki: Pki) -> Iterator[FakeCluster]:
    fake = FakeCluster(tls=pki.server_context()).start()
    yield fake
    fake.stop()


def info(cluster: FakeCluster, **settings: object) -> int:
    client = ElasticClient(cluster.settings(**settings), retry=FAST_RETRY)
    try:
        return client.request("GET", "/").status
    finally:
        client.close()


def test_the_cluster_s_ca_given_with_ca_certs_is_accepted(https: FakeCluster, pki: Pki) -> None:
    assert https.url.startswith("https://127.0.0.1:")
    assert info(https, ca_certs=pki.ca) == 200


@pytest.mark.parametrize("which", ["system CAs", "wrong CA"])
def test_a_certificate_from_an_unknown_ca_is_refused_with_a_clear_error(
    https: FakeCluster, other_pki: Pki, which: str
) -> None:
    settings = {"ca_certs": other_pki.ca} if which == "wrong CA" else {}
    with pytest.raises(BackendUnavailable) as refused:
        info(https, **settings)
    message = str(refused.value)
    assert message.startswith(f"cannot reach Elasticsearch at {https.url}: TLS failure (")
    assert "certificate verify failed" in message
    assert "check elasticsearch.ca_certs, ssl_assert_fingerprint, verify_certs" in message
    assert not https.requests  # nothing was sent over the unverified connection


def test_api_key_and_basic_auth_are_sent_as_elasticsearch_expects(
    https: FakeCluster, pki: Pki
) -> None:
    assert info(https, ca_certs=pki.ca, api_key="key-id:key-secret") == 200
    encoded = base64.b64encode(b"key-id:key-secret").decode()
    assert https.requests[-1].headers["authorization"] == f"ApiKey {encoded}"
    assert info(https, ca_certs=pki.ca, api_key="ZW5jb2RlZA==") == 200  # already encoded
    assert https.requests[-1].headers["authorization"] == "ApiKey ZW5jb2RlZA=="
    assert info(https, ca_certs=pki.ca, username="runner", password="pa:ss") == 200
    basic = base64.b64encode(b"runner:pa:ss").decode()
    assert https.requests[-1].headers["authorization"] == f"Basic {basic}"


def test_a_pinned_certificate_fingerprint_is_accepted_and_another_refused(
    https: FakeCluster, pki: Pki, other_pki: Pki
) -> None:
    # The pin replaces the CA chain: no ca_certs needed.
    assert info(https, ssl_assert_fingerprint=pki.fingerprint) == 200
    with pytest.raises(BackendUnavailable, match=r"TLS failure \(Fingerprints did not match"):
        info(https, ssl_assert_fingerprint=other_pki.fingerprint)


def test_the_fingerprint_setting_takes_colons_and_names_its_key_when_wrong(
    tmp_path: Path, pki: Pki
) -> None:
    colons = ":".join(pki.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    settings = load_settings(environ={"RUNNER_ES_SSL_ASSERT_FINGERPRINT": colons})
    assert settings.elasticsearch.ssl_assert_fingerprint == pki.fingerprint
    config = tmp_path / "runner.toml"
    config.write_text('[elasticsearch]\nssl_assert_fingerprint = "12:34"\n')
    with pytest.raises(ConfigError) as bad:
        load_settings(config_file=config, environ={})
    assert f"{config}: elasticsearch.ssl_assert_fingerprint: expected the certificate" in str(
        bad.value
    )
