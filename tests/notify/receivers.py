"""Real receivers on 127.0.0.1 for the connector tests: HTTP, syslog (UDP and TCP), SMTP.

The HTTP receiver records every request and answers according to ``mode``: ``ok`` (200),
an HTTP status to fail with (500, 429, 400), or ``hang`` (never answers until released).
It can also drop requests that carry an ``Idempotency-Key`` it has already accepted, the way
an idempotent receiver does; ``accepted`` then holds each notification once.
"""

from __future__ import annotations

import json
import shutil
import socket
import socketserver
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    mode: str | int = "ok"
    answer: bytes | None = None  # body of 2xx answers (default: a small JSON object)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    requests: list[HttpRequest] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = HttpRequest(self.command, self.path, headers, body)
                mode = receiver.mode
                if mode == "hang":
                    receiver.release.wait(30)
                    return
                status = 200 if mode == "ok" else int(mode)
                request.status = status
                with receiver.lock:
                    receiver.requests.append(request)
                payload = b'{"status":"success"}' if status < 300 else b'{"error":"no"}'
                if status < 300 and receiver.answer is not None:
                    payload = receiver.answer
                try:
                    self.send_response(202 if status == 200 and self.path == "/v2/enqueue"
                                       else status)  # fmt: skip
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in receiver.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            do_PUT = do_POST  # noqa: N815 - stdlib name

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)  # fmt: skip
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> list[HttpRequest]:
        """Every request answered so far (hung ones are not)."""
        with self.lock:
            return list(self.requests)

    def acknowledged(self) -> list[HttpRequest]:
        """Requests answered 2xx: the ones a sender may count as delivered."""
        return [r for r in self.received() if 200 <= r.status < 300]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class SyslogListener:
    """UDP and TCP (octet-counted frames) on the same port number where possible."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        listener = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with listener.lock:
                    listener.messages.append(("udp", self.request[0]))

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                data = self.rfile.read()
                while data:
                    length, _, rest = data.partition(b" ")
                    size = int(length)
                    with listener.lock:
                        listener.messages.append(("tcp", rest[:size]))
                    data = rest[size:]

        self.udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tcp)
        self.tcp.daemon_threads = True
        for server in (self.udp, self.tcp):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()  # fmt: skip

    @property
    def udp_port(self) -> int:
        return int(self.udp.server_address[1])

    @property
    def tcp_port(self) -> int:
        return int(self.tcp.server_address[1])

    def stop(self) -> None:
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(tmp: Path) -> tuple[Path, Path] | None:
    """(cert, key) for 127.0.0.1 made by the openssl command, or None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    done = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    return (cert, key) if done.returncode == 0 else None
