"""Every connector type against its real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runner.errors import DeliveryFailed
from runner.notify.connectors import SendOptions, connector_types
from runner.notify.model import Connector
from tests.notify.conftest import Smtp
from tests.notify.factories import alert, connector, notification
from tests.notify.receivers import HttpReceiver, SyslogListener, free_port

TYPES = connector_types()


def send(c: Connector, kind: str = "alert", env: dict[str, str] | None = None,
         timeout: float = 5.0) -> str:  # fmt: skip
    n = notification(c.type, kind=kind)  # type: ignore[arg-type]
    return TYPES[c.type].sender(c, SendOptions(timeout=timeout, environ=env or {})).send(n).detail


def test_webhook_posts_the_rendered_json_with_idempotency_key_and_basic_auth(
    http: HttpReceiver,
) -> None:
    c = connector(".webhook", url=http.url + "/hook", headers={"X-Team": "soc"}, hasAuth=True,
                  secrets={"user": "HOOK_USER", "password": "HOOK_PW"})  # fmt: skip
    send(c, env={"HOOK_USER": "runner", "HOOK_PW": "pw-123"})
    [request] = http.received()
    assert request.path == "/hook"
    body = request.json()
    assert body["alert"]["id"] == "a-1"
    assert body["alert"]["host"] == "mac-01"
    assert body["rule"]["name"] == "Suspicious Emond Child Process"
    assert request.headers["idempotency-key"] == "a-1"
    assert request.headers["x-team"] == "soc"
    assert request.headers["authorization"].startswith("Basic ")


def test_webhook_summary_lists_every_alert(http: HttpReceiver) -> None:
    c = connector(".webhook", url=http.url)
    n = notification(".webhook", kind="summary", alerts=[alert("a-1"), alert("a-2", host="m2")])
    TYPES[".webhook"].sender(c, SendOptions(environ={})).send(n)
    body = http.received()[0].json()
    assert [a["id"] for a in body["alerts"]] == ["a-1", "a-2"]
    assert body["count"] == "2"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True),
                                                   (400, False), (404, False)])  # fmt: skip
def test_webhook_failures_are_classified(http: HttpReceiver, status: int, retryable: bool) -> None:
    http.mode = status
    with pytest.raises(DeliveryFailed) as caught:
        send(connector(".webhook", url=http.url + "/t0ken-in-path"))
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in str(caught.value)
    assert "t0ken" not in str(caught.value)


def test_webhook_that_hangs_times_out_as_retryable(http: HttpReceiver) -> None:
    http.mode = "hang"
    with pytest.raises(DeliveryFailed) as caught:
        send(connector(".webhook", url=http.url), timeout=0.5)
    assert caught.value.retryable


def test_refused_connection_is_retryable() -> None:
    with pytest.raises(DeliveryFailed) as caught:
        send(connector(".webhook", url=f"http://127.0.0.1:{free_port()}/"))
    assert caught.value.retryable


@pytest.mark.parametrize("type_", [".slack", ".teams"])
def test_chat_webhooks_take_the_url_from_a_secret(http: HttpReceiver, type_: str) -> None:
    c = connector(type_, secrets={"webhookUrl": "CHAT_URL"})
    send(c, env={"CHAT_URL": http.url + "/services/T000/B000/XXXX"})
    [request] = http.received()
    text = request.json()["text"]
    assert "Suspicious Emond Child Process" in text
    assert "mac-01" in text


def test_missing_secret_names_its_variable_not_a_value() -> None:
    with pytest.raises(DeliveryFailed, match="RUNNER_SECRET_C1_WEBHOOK_URL"):
        send(connector(".slack"))


def test_pagerduty_events_v2_with_alert_id_as_dedup_key(http: HttpReceiver) -> None:
    c = connector(".pagerduty", apiUrl=http.url + "/v2/enqueue",
                  secrets={"routingKey": "PD_KEY"})  # fmt: skip
    send(c, env={"PD_KEY": "R0UTING"})
    body = http.received()[0].json()
    assert body["routing_key"] == "R0UTING"
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "a-1"
    assert body["payload"]["severity"] == "warning"  # the rule is medium
    assert body["payload"]["source"] == "mac-01"
    assert "Suspicious Emond Child Process" in body["payload"]["summary"]


def test_email_plain_smtp(smtp: Smtp) -> None:
    c = connector(".email", host=smtp.host, port=smtp.port, **{"from": "runner@example.org"})
    n = notification(".email")
    n = type(n)(**{**{f: getattr(n, f) for f in n.__dataclass_fields__},
                   "params": {**n.params, "to": ["soc@example.org"]}})  # fmt: skip
    TYPES[".email"].sender(c, SendOptions(environ={})).send(n)
    [(rcpt, message)] = smtp.messages
    assert rcpt == ["soc@example.org"]
    assert message["Subject"] == "[medium] Suspicious Emond Child Process on mac-01"
    assert "a-1" in message["Message-ID"]
    assert "parent process emond" in message.get_content()


def test_email_starttls_and_login(smtp_tls_auth: Smtp) -> None:
    server = smtp_tls_auth
    c = connector(".email", host=server.host, port=server.port, ca_file=str(server.cert),
                  hasAuth=True, secrets={"user": "SMTP_USER", "password": "SMTP_PW"},
                  **{"from": "runner@example.org"})  # fmt: skip
    n = notification(".email")
    n = type(n)(**{**{f: getattr(n, f) for f in n.__dataclass_fields__},
                   "params": {**n.params, "to": ["soc@example.org"]}})  # fmt: skip
    env = {"SMTP_USER": "mailer", "SMTP_PW": "s3cret-pw"}
    TYPES[".email"].sender(c, SendOptions(environ=env)).send(n)
    assert server.logins == ["mailer"]
    assert len(server.messages) == 1
    # aiosmtpd stalls after a refused login rather than answering 535: either way nothing is
    # delivered and the password stays out of the error.
    with pytest.raises(DeliveryFailed) as caught:
        options = SendOptions(environ={**env, "SMTP_PW": "wrong"}, timeout=1.0)
        TYPES[".email"].sender(c, options).send(n)
    assert "wrong" not in str(caught.value)
    assert len(server.messages) == 1


def test_email_implicit_tls(tmp_path: Path) -> None:
    from tests.notify.conftest import _Handler
    from tests.notify.receivers import self_signed

    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("the openssl command is needed to make a TLS certificate")
    import ssl

    from aiosmtpd.controller import Controller

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pair[0]), str(pair[1]))
    server = Smtp(host="127.0.0.1", port=free_port())
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port,
                            ssl_context=context)  # fmt: skip
    controller.start()
    try:
        c = connector(".email", host="127.0.0.1", port=server.port, secure=True,
                      ca_file=str(pair[0]))  # fmt: skip
        n = notification(".email")
        n = type(n)(**{**{f: getattr(n, f) for f in n.__dataclass_fields__},
                       "params": {**n.params, "to": ["soc@example.org"]}})  # fmt: skip
        TYPES[".email"].sender(c, SendOptions(environ={})).send(n)
        assert len(server.messages) == 1
    finally:
        controller.stop()


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_syslog_rfc5424(syslog: SyslogListener, protocol: str) -> None:
    port = syslog.udp_port if protocol == "udp" else syslog.tcp_port
    c = connector(".server-log", host="127.0.0.1", port=port, protocol=protocol, facility=4)
    send(c)
    deadline = time.monotonic() + 5
    while not syslog.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    [(seen, raw)] = syslog.messages
    assert seen == protocol
    text = raw.decode()
    # <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID [SD] MSG; facility 4, severity warning (4)
    assert text.startswith("<36>1 ")
    parts = text.split(" ", 6)
    assert parts[3:6] == ["runner", "-", "alert"]
    assert '[runner@32473 notification="' in text
    assert "Suspicious Emond Child Process" in text
    assert "\n" not in text


def test_file_sink_appends_ndjson_with_the_notification_id(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    c = connector(".file", path=str(path))
    send(c)
    send(c, kind="summary")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["alert", "summary"]
    assert lines[0]["notification_id"] == "n" * 64
    assert lines[0]["alerts"][0]["host"]["name"] == "mac-01"


def test_file_sink_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    send(connector(".file", path="-"))
    assert json.loads(capsys.readouterr().out)["alert_ids"] == ["a-1"]


def test_index_connector_copies_alerts_into_an_index_on_the_embedded_store(
    tmp_path: Path,
) -> None:
    from runner.backends.embedded import EmbeddedBackend
    from runner.embedded.store import Store
    from runner.notify.service import index_writer

    backend = EmbeddedBackend(Store(tmp_path / "s.duckdb"))
    types = connector_types(index_writer(backend))
    c = connector(".index", index="copies-default")
    n = notification(".index")
    for _ in range(2):  # a second send (a retry after a crash) writes nothing new
        types[".index"].sender(c, SendOptions(environ={})).send(n)
    from runner.embedded.search import search_kql
    from runner.kql.parser import parse_kql
    from runner.search import KqlRequest

    hits = search_kql(backend.store, KqlRequest(query=parse_kql("host.name: mac-01"),
                                                indices=("copies-*",), size=10))  # fmt: skip
    assert [h.id for h in hits] == ["a-1"]


def test_index_connector_without_index_is_a_config_error() -> None:
    assert TYPES[".index"].check(connector(".index")) == [("index", "expected an index name")]


def test_teams_rate_limit_in_a_200_answer_is_retried(http: HttpReceiver) -> None:
    http.answer = b"Microsoft Teams endpoint returned HTTP error 429 ErrorCode:ApplicationThrottled"
    c = connector(".teams", secrets={"webhookUrl": "TEAMS_URL"})
    with pytest.raises(DeliveryFailed, match="throttled by the receiver") as caught:
        send(c, env={"TEAMS_URL": http.url + "/webhookb2/x"})
    assert caught.value.retryable
