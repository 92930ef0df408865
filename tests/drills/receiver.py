"""The webhook that receives the drills' notifications, and the gate around daemon kills.

Every notification a daemon sends is a POST carrying ``Idempotency-Key`` (for a per-alert
notification, the alert's id).  :class:`Receiver` acknowledges it with 200 and counts it:
acknowledged twice is a duplicate delivery.

A daemon killed after the receiver acknowledged a notification but before the daemon
recorded it as sent delivers it again after the restart: runner documents that window (the
receiver's acknowledgement cannot be made atomic with the sender's record), and the
idempotency key is there for it.  The process drills kill at points of an *execution*, so
:meth:`Receiver.quiet` keeps a kill out of that window: it answers 503 to new sends (a retry,
not a delivery) and waits until every acknowledged notification is recorded as sent (the
proxy sees the outbox ``PUT``), so a duplicate the checker finds is a real one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.drills.proxy import Request, Response


class Receiver:
    def __init__(self) -> None:
        self.acknowledged: Counter[str] = Counter()  # idempotency key -> 2xx answers
        self.marked: set[str] = set()  # keys the outbox recorded as sent (seen by the proxy)
        self.refused = 0
        self._closed = False
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with receiver._lock:
                    status = 503 if receiver._closed else 200
                    if status == 200:
                        receiver.acknowledged[key] += 1
                    else:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_PUT = do_POST  # noqa: N815 - stdlib name

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered(self) -> set[str]:
        with self._lock:
            return set(self.acknowledged)

    # -- the outbox, as the proxy sees it --------------------------------------------------
    def outbox_watch(self, outbox_index: str) -> tuple[Any, Any]:
        """(match, after-hook) for :meth:`FaultProxy.after`: notes each entry marked sent."""

        def match(request: Request) -> bool:
            return request.method == "PUT" and request.path.startswith(f"/{outbox_index}/_doc/")

        def seen(request: Request, response: Response) -> None:
            body = request.json() or {}
            if response.status in (200, 201) and body.get("status") == "sent":
                with self._lock:
                    self.marked.add(str(body.get("idempotency_key")))
                    self._lock.notify_all()

        return match, seen

    @contextmanager
    def quiet(self, timeout: float = 30.0) -> Iterator[None]:
        """No acknowledgement that is not yet recorded as sent, for the time of the block."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            while set(self.acknowledged) - self.marked and time.monotonic() < deadline:
                self._lock.wait(0.05)
        try:
            yield
        finally:
            with self._lock:
                self._closed = False
