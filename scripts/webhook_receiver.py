#!/usr/bin/env python3
"""A local webhook receiver for trying notifications: prints every request it gets.

    scripts/webhook_receiver.py [--port 8080] [--status 200]

Answers ``--status`` (200 by default; 500 or 429 to watch runner retry), and prints the
method, path, ``Idempotency-Key`` and the JSON body of each request on one block.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *rest: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                shown = json.dumps(json.loads(body), indent=2)
            except ValueError:
                shown = body.decode("utf-8", "replace")
            key = self.headers.get("Idempotency-Key", "-")
            print(f"{self.command} {self.path} (Idempotency-Key: {key})\n{shown}\n", flush=True)
            self.send_response(args.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST  # noqa: N815 - stdlib name

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"listening on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
