"""``.email``: SMTP (Kibana's e-mail connector).

Config: ``from``, ``host``, ``port``, ``secure`` (true: TLS from the first byte, port 465;
false: STARTTLS whenever the server offers it), ``requireTLS`` (refuse a server without
STARTTLS), ``hasAuth``, and runner's ``ca_file`` / ``verify`` for private CAs.  Secrets:
``user``, ``password``.  Params: ``to``, ``cc``, ``bcc`` (lists), ``subject``, ``message``.
The Message-ID is derived from the notification's key, so a mail sent twice is recognisable.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from runner.errors import DeliveryFailed
from runner.notify.connectors.base import SendOptions
from runner.notify.model import Ack, Connector, Notification
from runner.notify.render import Templates
from runner.notify.secrets import required_secret, secret


def _addresses(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    # A newline in an address would start a new header.
    return [str(a).replace("\r", "").replace("\n", "").strip() for a in items if str(a).strip()]


def _one_line(text: str, limit: int = 998) -> str:
    return " ".join(text.split())[:limit]


def build_message(connector: Connector, notification: Notification) -> EmailMessage:
    params = notification.params
    message = EmailMessage()
    message["From"] = _one_line(str(connector.config.get("from") or "runner@localhost"))
    to, cc = _addresses(params.get("to")), _addresses(params.get("cc"))
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = _one_line(str(params.get("subject") or notification.rule_name))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{notification.idempotency_key}.{notification.id[:16]}@runner>"
    message["X-Runner-Notification"] = notification.id
    message.set_content(str(params.get("message", "")))
    return message


@dataclass(frozen=True, kw_only=True)
class EmailSender:
    connector: Connector
    options: SendOptions

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.connector.config.get("ca_file"))
        if self.connector.config.get("verify", True) is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(self, notification: Notification) -> Ack:
        config = self.connector.config
        message = build_message(self.connector, notification)
        recipients = [
            *_addresses(notification.params.get("to")),
            *_addresses(notification.params.get("cc")),
            *_addresses(notification.params.get("bcc")),
        ]
        if not recipients:
            raise DeliveryFailed(f"connector {self.connector.id}: no recipients", retryable=False)
        host = str(config.get("host") or "localhost")
        secure = bool(config.get("secure", False))
        port = int(config.get("port") or (465 if secure else 25))
        env = self.options.environ
        user = secret(self.connector, "user", environ=env)
        try:
            smtp: smtplib.SMTP
            if secure:
                smtp = smtplib.SMTP_SSL(host, port, timeout=self.options.timeout,
                                        context=self._tls())  # fmt: skip
            else:
                smtp = smtplib.SMTP(host, port, timeout=self.options.timeout)
            with smtp:
                smtp.ehlo()
                if not secure and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                elif not secure and config.get("requireTLS"):
                    raise DeliveryFailed(
                        f"connector {self.connector.id}: server offers no STARTTLS",
                        retryable=False,
                    )
                if config.get("hasAuth", user is not None) and user is not None:
                    smtp.login(user, required_secret(self.connector, "password", environ=env))
                refused = smtp.send_message(message, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(
                f"connector {self.connector.id}: SMTP authentication refused ({exc.smtp_code})",
                retryable=False,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(
                f"connector {self.connector.id}: every recipient refused ({len(exc.recipients)})",
                retryable=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"connector {self.connector.id}: SMTP {exc.smtp_code}",
                retryable=exc.smtp_code >= 400 and exc.smtp_code < 500,
            ) from None
        except (TimeoutError, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            detail = getattr(exc, "strerror", None) or type(exc).__name__
            raise DeliveryFailed(
                f"connector {self.connector.id}: SMTP {host}:{port}: {detail}", retryable=True
            ) from None
        accepted = len(recipients) - len(refused)
        return Ack(detail=f"{accepted} recipient(s) accepted")


class EmailType:
    type_id = ".email"

    def default_params(
        self, templates: Templates, kind: str, view: Mapping[str, Any]
    ) -> dict[str, Any]:
        text = templates.render(self.type_id, kind, view)
        subject, _, body = text.partition("\n")
        return {"subject": subject.strip(), "message": body.lstrip("\n")}

    def sender(self, connector: Connector, options: SendOptions) -> EmailSender:
        return EmailSender(connector=connector, options=options)

    def check(self, connector: Connector) -> list[tuple[str, str]]:
        port = connector.config.get("port")
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            return [("port", "expected a port number")]
        return []
