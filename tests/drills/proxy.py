"""A fault-injecting proxy on 127.0.0.1 between runner and an Elasticsearch cluster.

It relays HTTP/1.1 request by request (so it can see each request and answer it itself) and
injects, on request:

- ``refused``: the listening socket is closed for a while (connections are refused) and the
  open connections are reset, as when a cluster goes down;
- ``reset_bulk_request``: a ``_bulk`` is cut off half-way through its body, both sides reset
  (nothing of it is written);
- ``reset_bulk_response``: a ``_bulk`` reaches the cluster and is applied, but the connection
  is reset half-way through the answer (written, and the client does not know it);
- ``stall``: a request is held past the client's request timeout, then still handed to the
  cluster (as Elasticsearch goes on with a request whose client went away), answer dropped;
- ``http_429`` / ``http_503``: answered by the proxy with Elasticsearch's error body;
- ``bulk_items_failed``: a ``_bulk`` answered 200 with every other item failed (429
  ``es_rejected_execution_exception``); only the other items reach the cluster, as with a
  real rejection.

Faults are queued (:meth:`FaultProxy.inject`) and each applies to the next matching request.
Observers (:meth:`FaultProxy.before` / :meth:`FaultProxy.after`) see every request before it
is forwarded (and may drop it) and after the cluster answered, before the client gets the
answer: the process drills use them to SIGKILL a daemon at a chosen point of an execution.
An ``https`` upstream (a real cluster) is reached over TLS; runner talks plain HTTP to the
proxy.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

KINDS = ("refused", "reset_bulk_request", "reset_bulk_response", "stall", "http_429",
         "http_503", "bulk_items_failed")  # fmt: skip
_ERRORS = {
    429: ("es_rejected_execution_exception",
          "rejected execution of coordinating operation [drill]"),
    503: ("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];"),
}  # fmt: skip
_REASONS = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}


class Closed(Exception):
    """The peer closed the connection."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query string, as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes
    head: bytes = field(repr=False, default=b"")  # request line and headers, as received

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def bulk(self) -> bool:
        return self.method == "POST" and self.path.rstrip("/").endswith("/_bulk")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass(frozen=True)
class Response:
    status: int
    raw: bytes  # status line, headers and body, as received

    @property
    def body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1]


Match = Callable[[Request], bool]
BeforeHook = Callable[[Request], bool]  # True: drop the request (never forwarded)
AfterHook = Callable[[Request, Response], object]


def any_request(_: Request) -> bool:
    return True


def is_bulk(request: Request) -> bool:
    return request.bulk


@dataclass
class Fault:
    """A queued fault; ``left`` counts the requests it has still to meet."""

    kind: str
    match: Match
    left: int

    def done(self) -> bool:
        return self.left <= 0


class FaultProxy:
    def __init__(self, upstream: str, *, stall: float = 3.0, ca_certs: str | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self._tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._tls = ssl.create_default_context(cafile=ca_certs)
        self._userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        self.stall = stall
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._faults: list[Fault] = []
        self._before: list[tuple[Match, BeforeHook]] = []
        self._after: list[tuple[Match, AfterHook]] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._port = 0
        self._stopped = threading.Event()
        self._up = threading.Event()

    # -- life --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where runner connects (with the upstream URL's credentials, if any)."""
        return f"http://{self._userinfo}127.0.0.1:{self._port}"

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()
        self._reset_all()

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        sock.listen(64)
        self._port = sock.getsockname()[1]
        self._listener = sock
        self._up.set()
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _close_listener(self) -> None:
        self._up.clear()
        sock, self._listener = self._listener, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: refusing, or stopped
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _reset_all(self) -> None:
        with self._lock:
            conns, self._conns = set(self._conns), set()
        for conn in conns:
            _reset(conn)

    # -- faults and observers ----------------------------------------------------------
    def inject(self, kind: str, *, count: int = 1, match: Match = any_request) -> Fault:
        """The next ``count`` requests that ``match`` get fault ``kind``."""
        if kind not in KINDS or kind == "refused":
            raise ValueError(f"unknown request fault {kind!r} (refusals: refuse_for)")
        fault = Fault(kind, match, count)
        with self._lock:
            self._faults.append(fault)
        return fault

    def pending(self) -> int:
        with self._lock:
            return sum(f.left for f in self._faults)

    def refuse_for(self, seconds: float) -> None:
        """The cluster is down: connections refused (and open ones reset) for ``seconds``."""
        self.injected["refused"] += 1
        self._close_listener()
        self._reset_all()
        self._stopped.wait(seconds)
        if not self._stopped.is_set():
            self._listen()

    def before(self, match: Match, hook: BeforeHook) -> None:
        self._before.append((match, hook))

    def after(self, match: Match, hook: AfterHook) -> None:
        self._after.append((match, hook))

    def _take_fault(self, request: Request) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.left > 0 and fault.match(request):
                    if fault.kind.startswith(("reset_bulk", "bulk_items")) and not request.bulk:
                        continue
                    fault.left -= 1
                    self.injected[fault.kind] += 1
                    self._faults = [f for f in self._faults if f.left > 0]
                    return fault.kind
        return None

    # -- relaying ----------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        reader = _Reader(conn)
        try:
            while not self._stopped.is_set():
                request = _read_request(reader)
                with self._lock:
                    self.requests += 1
                dropped = [
                    True for match, hook in list(self._before) if match(request) and hook(request)
                ]
                if dropped:
                    _reset(conn)
                    break
                if not self._relay(conn, request):
                    break
        except (Closed, OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _relay(self, conn: socket.socket, request: Request) -> bool:
        """Answer one request; False when the client connection is done."""
        kind = self._take_fault(request)
        if kind in ("http_429", "http_503"):
            status = int(kind[5:])
            conn.sendall(_error_response(status))
            return True
        if kind == "stall":
            time.sleep(self.stall)  # past the client's timeout: it gave up and hung up
            with contextlib.suppress(OSError, Closed, ValueError):
                self._forward(request.head + request.body)
            _reset(conn)
            return False
        if kind == "reset_bulk_request":
            self._forward_truncated(request)
            _reset(conn)
            return False
        if kind == "bulk_items_failed":
            conn.sendall(self._bulk_with_failures(request))
            return True
        response = self._forward(request.head + request.body)
        for match, after in list(self._after):
            if match(request):
                after(request, response)
        if kind == "reset_bulk_response":
            conn.sendall(response.raw[: len(response.raw) // 2])
            _reset(conn)
            return False
        conn.sendall(response.raw)
        return b"\r\nconnection: close" not in response.raw.split(b"\r\n\r\n", 1)[0].lower()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.upstream, timeout=120)
        if self._tls is not None:
            return self._tls.wrap_socket(sock, server_hostname=self.upstream[0])
        return sock

    def _forward(self, raw: bytes) -> Response:
        # One upstream connection per request: simple, and loopback connects are cheap.
        with self._connect() as upstream:
            upstream.sendall(raw)
            return _read_response(_Reader(upstream))

    def _forward_truncated(self, request: Request) -> None:
        with contextlib.suppress(OSError), self._connect() as upstream:
            upstream.sendall(request.head + request.body[: len(request.body) // 2])
            _reset(upstream)

    def _bulk_with_failures(self, request: Request) -> bytes:
        """Forward every other item; answer the others 429 in their places."""
        actions = _bulk_actions(request.lines())
        failed = set(range(0, len(actions), 2))
        kept = [a for i, a in enumerate(actions) if i not in failed]
        answered: list[dict[str, Any]] = []
        took, errors = 1, True
        if kept:
            body = b"".join(json.dumps(line).encode() + b"\n" for a in kept for line in a)
            head = _with_length(request.head, len(body))
            response = self._forward(head + body)
            if response.status != 200:
                return response.raw
            parsed = json.loads(response.body)
            answered, took = list(parsed.get("items", [])), int(parsed.get("took", 1))
        items: list[dict[str, Any]] = []
        for i, action in enumerate(actions):
            if i in failed:
                op, meta = next(iter(action[0].items()))
                kind, reason = _ERRORS[429]
                error = {"type": kind, "reason": reason}
                items.append({op: {"_index": meta.get("_index"), "_id": meta.get("_id"),
                                   "status": 429, "error": error}})  # fmt: skip
            else:
                items.append(answered.pop(0) if answered else {})
        payload = json.dumps({"took": took, "errors": errors, "items": items}).encode()
        return _response(200, payload)


# -- HTTP framing ----------------------------------------------------------------------------
class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed
        self.buffer += chunk

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        found, self.buffer = self.buffer.split(marker, 1)
        return found + marker

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    def rest(self) -> bytes:
        with contextlib.suppress(Closed):
            while True:
                self._fill()
        found, self.buffer = self.buffer, b""
        return found


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in lines if line)
    }  # fmt: skip


def _read_request(reader: _Reader) -> Request:
    head = reader.until(b"\r\n\r\n")
    method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    headers = _headers(head)
    if "chunked" in headers.get("transfer-encoding", ""):
        raise ValueError("chunked request bodies are not relayed")
    body = reader.exactly(int(headers.get("content-length") or 0))
    return Request(method=method, target=target, headers=headers, body=body, head=head)


def _read_response(reader: _Reader) -> Response:
    head = reader.until(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = _headers(head)
    if "content-length" in headers:
        body = reader.exactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", ""):
        body = b""
        while True:
            size_line = reader.until(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            body += size_line + reader.exactly(size + 2)
            if size == 0:
                break
    else:
        body = reader.rest()
    return Response(status=status, raw=head + body)


def _with_length(head: bytes, length: int) -> bytes:
    lines = [
        line for line in head.rstrip(b"\r\n").split(b"\r\n")
        if not line.lower().startswith(b"content-length:")
    ]  # fmt: skip
    return b"\r\n".join([*lines, f"Content-Length: {length}".encode()]) + b"\r\n\r\n"


def _response(status: int, payload: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\nX-Elastic-Product: Elasticsearch\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def _error_response(status: int) -> bytes:
    kind, reason = _ERRORS[status]
    cause = {"type": kind, "reason": reason}
    body = {"error": {"root_cause": [cause], **cause}, "status": status}
    return _response(status, json.dumps(body).encode())


def _bulk_actions(lines: list[Any]) -> list[list[Any]]:
    """NDJSON lines grouped per action (``delete`` has no source line)."""
    actions: list[list[Any]] = []
    i = 0
    while i < len(lines):
        op = next(iter(lines[i]))
        size = 1 if op == "delete" else 2
        actions.append(lines[i : i + size])
        i += size
    return actions


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed peer or a middlebox does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
