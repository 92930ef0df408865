"""Loopback receivers and a small rule/alert set for the notification tests."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.notify.receivers import HttpReceiver, SyslogListener, free_port, self_signed


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def syslog() -> Iterator[SyslogListener]:
    listener = SyslogListener()
    yield listener
    listener.stop()


@dataclass
class Smtp:
    host: str
    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    cert: Path | None = None


class _Handler:
    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.smtp.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def _start_smtp(tmp_path: Path, *, tls: bool, auth: bool) -> tuple[Any, Smtp]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    smtp = Smtp(host="127.0.0.1", port=free_port())
    kwargs: dict[str, Any] = {}
    if tls:
        pair = self_signed(tmp_path)
        if pair is None:
            pytest.skip("the openssl command is needed to make a TLS certificate")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(pair[0]), str(pair[1]))
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
        smtp.cert = pair[0]
    if auth:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                          data: Any) -> AuthResult:  # fmt: skip
            ok = data.login == b"mailer" and data.password == b"s3cret-pw"
            if ok:
                smtp.logins.append(data.login.decode())
            return AuthResult(success=ok)

        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = tls
    controller = Controller(_Handler(smtp), hostname="127.0.0.1", port=smtp.port, **kwargs)
    controller.start()
    return controller, smtp


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Smtp]:
    controller, server = _start_smtp(tmp_path, tls=False, auth=False)
    yield server
    controller.stop()


@pytest.fixture
def smtp_tls_auth(tmp_path: Path) -> Iterator[Smtp]:
    controller, server = _start_smtp(tmp_path, tls=True, auth=True)
    yield server
    controller.stop()
