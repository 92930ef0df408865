"""A real HTTP server on 127.0.0.1 that answers like Elasticsearch, for contract tests.

Replies are scripted per test (``cluster.script("POST", "/idx/_search", Reply(...))``) and
every request is recorded (method, path, query string, headers, decoded JSON / NDJSON body).
Every answer carries ``X-Elastic-Product: Elasticsearch`` (the official client refuses a
server without it); ``GET /`` answers a cluster info body and ``GET .../_field_caps`` an
empty field list unless scripted.  An optional
document store answers ``_bulk`` creates, ``_doc`` reads/writes and ``ids`` searches, so an
end-to-end run can write alerts and find them again.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from runner.config import ElasticsearchSettings

CLUSTER_INFO = {
    "name": "fake-node",
    "cluster_name": "fake-cluster",
    "cluster_uuid": "X4XxZ4iDRpq3ZdQ5Td8k8w",
    "version": {
        "number": "9.1.2",
        "build_flavor": "default",
        "build_type": "docker",
        "lucene_version": "10.2.2",
        "minimum_wire_compatibility_version": "8.19.0",
        "minimum_index_compatibility_version": "8.0.0",
    },
    "tagline": "You Know, for Search",
}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # without the query string, still URL-encoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any  # decoded JSON, a list for NDJSON, None when empty

    @property
    def target(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (to provoke client timeouts)
    product: bool = True  # send X-Elastic-Product: Elasticsearch


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering."""


Answer = Reply | Drop
Handler = Callable[[Recorded], Answer]
Fallback = Callable[[Recorded], "Answer | None"]


def error_body(status: int, kind: str, reason: str, **extra: Any) -> dict[str, Any]:
    """Elasticsearch's error shape."""
    cause = {"type": kind, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


@dataclass
class _Route:
    method: str
    path: re.Pattern[str]
    answers: list[Answer | Handler]
    repeat_last: bool


PRIMARY_TERM = 1


class DocStore:
    """Just enough of Elasticsearch's document APIs for an end-to-end run.

    Every write gives the document the next ``_seq_no`` of its index (primary term 1), and
    a ``PUT`` with ``if_seq_no``/``if_primary_term`` that does not match the current ones (or
    with ``op_type=create`` on an existing id) is refused with 409
    ``version_conflict_engine_exception``, as Elasticsearch's optimistic
    concurrency control does.  Searches understand ``ids``, ``term``, ``terms``, ``range``,
    ``exists``, ``match_all`` and ``bool`` (``filter``/``must``/``must_not``), ``sort``,
    ``size`` and ``seq_no_primary_term``; ``_count`` takes the same queries.  Requests are
    answered one at a time (under the cluster's lock), so a compare-and-set is atomic.
    """

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.seq_nos: dict[str, dict[str, int]] = {}
        self._next_seq: dict[str, int] = {}

    def _write(self, index: str, doc_id: str, doc: dict[str, Any]) -> int:
        seq_no = self._next_seq.get(index, 0)
        self._next_seq[index] = seq_no + 1
        self.docs.setdefault(index, {})[doc_id] = doc
        self.seq_nos.setdefault(index, {})[doc_id] = seq_no
        return seq_no

    def handle(self, request: Recorded) -> Answer | None:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if request.method == "POST" and parts == ["_bulk"]:
            return self._bulk(request.body or [])
        if len(parts) == 3 and parts[1] == "_doc":
            index, doc_id = parts[0], parts[2]
            docs = self.docs.setdefault(index, {})
            if request.method == "GET":
                if doc_id in docs:
                    body = {"_index": index, "_id": doc_id, "found": True, "_source": docs[doc_id],
                            "_seq_no": self.seq_nos[index][doc_id],
                            "_primary_term": PRIMARY_TERM}  # fmt: skip
                    return Reply(200, body)
                return Reply(404, {"_index": index, "_id": doc_id, "found": False})
            if request.method == "PUT":
                if "if_seq_no" in request.query or "if_primary_term" in request.query:
                    current = self.seq_nos.get(index, {}).get(doc_id)
                    wanted = (int(request.query.get("if_seq_no", -2)),
                              int(request.query.get("if_primary_term", -2)))  # fmt: skip
                    if current is None or wanted != (current, PRIMARY_TERM):
                        reason = (f"[{doc_id}]: version conflict, required seqNo [{wanted[0]}], "
                                  f"primary term [{wanted[1]}]. current document has seqNo "
                                  f"[{current}] and primary term [{PRIMARY_TERM}]")  # fmt: skip
                        if current is None:
                            reason = f"[{doc_id}]: version conflict, document does not exist"
                        return Reply(409, error_body(409, "version_conflict_engine_exception",
                                                     reason, index=index))  # fmt: skip
                if request.query.get("op_type") == "create" and doc_id in docs:
                    reason = (f"[{doc_id}]: version conflict, document already exists "
                              f"(current version [1])")  # fmt: skip
                    return Reply(409, error_body(409, "version_conflict_engine_exception",
                                                 reason, index=index))  # fmt: skip
                created = doc_id not in docs
                seq_no = self._write(index, doc_id, request.body)
                result = "created" if created else "updated"
                return Reply(
                    201 if created else 200,
                    {"_index": index, "_id": doc_id, "result": result, "_seq_no": seq_no,
                     "_primary_term": PRIMARY_TERM},
                )  # fmt: skip
            if request.method == "DELETE":
                found = docs.pop(doc_id, None) is not None
                body = {
                    "_index": index,
                    "_id": doc_id,
                    "result": "deleted" if found else "not_found",
                }
                return Reply(200 if found else 404, body)
        if request.method == "POST" and len(parts) == 2 and parts[1] == "_search":
            return self._search(parts[0], request.body or {})
        if request.method == "POST" and len(parts) == 2 and parts[1] == "_count":
            docs = self.docs.get(parts[0])
            if docs is None:
                return Reply(404, error_body(404, "index_not_found_exception",
                                             f"no such index [{parts[0]}]"))  # fmt: skip
            query = (request.body or {}).get("query", {"match_all": {}})
            return Reply(200, {"count": sum(1 for d in docs.values() if _matches(query, d))})
        if request.method == "POST" and len(parts) == 3 and parts[1] == "_update":
            docs = self.docs.setdefault(parts[0], {})
            if parts[2] not in docs:
                reason = f"[{parts[2]}]: document missing"
                return Reply(404, error_body(404, "document_missing_exception", reason))
            docs[parts[2]] = {**docs[parts[2]], **(request.body or {}).get("doc", {})}
            return Reply(200, {"_index": parts[0], "_id": parts[2], "result": "updated"})
        return None

    def _bulk(self, lines: list[dict[str, Any]]) -> Reply:
        """``create`` (409 when the id exists) and ``index`` (201 created, 200 replaced)."""
        items = []
        for action, doc in zip(lines[::2], lines[1::2], strict=True):
            (op, meta), *_ = action.items()
            docs = self.docs.setdefault(meta["_index"], {})
            doc_id = meta["_id"]
            exists = doc_id in docs
            if op == "create" and exists:
                error = {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists "
                    "(current version [1])",
                }
                items.append(
                    {op: {"_index": meta["_index"], "_id": doc_id, "status": 409, "error": error}}
                )
                continue
            self._write(meta["_index"], doc_id, doc)
            items.append(
                {
                    op: {
                        "_index": meta["_index"],
                        "_id": doc_id,
                        "_version": 2 if exists else 1,
                        "result": "updated" if exists else "created",
                        "status": 200 if exists else 201,
                    }
                }
            )
        errors = any(next(iter(i.values()))["status"] >= 300 for i in items)
        return Reply(200, {"took": 3, "errors": errors, "items": items})

    def _search(self, index: str, body: dict[str, Any]) -> Reply:
        """``query`` (ids, term, terms, exists, range, bool, match_all) and the first ``sort``
        key, evaluated over the stored documents as Elasticsearch would on keyword/date
        fields (ISO dates of one format compare as strings)."""
        docs = self.docs.get(index, {})
        query = body.get("query", {"match_all": {}})
        ids = [i for i, d in docs.items() if _matches(query, d, i)]
        for clause in reversed(body.get("sort", [])):
            ((name, spec),) = clause.items()
            order = spec.get("order", "asc") if isinstance(spec, dict) else spec
            present = [i for i in ids if _field(docs[i], name)]
            missing = [i for i in ids if not _field(docs[i], name)]
            present.sort(key=lambda i, n=name: _sortable(_field(docs[i], n)[0]),
                         reverse=order == "desc")  # fmt: skip
            ids = present + missing
        ids = ids[: body.get("size", 10)]
        hits = []
        for i in ids:
            hit: dict[str, Any] = {"_index": index, "_id": i, "_score": 1.0, "_source": docs[i]}
            if body.get("seq_no_primary_term"):
                hit.update(_seq_no=self.seq_nos[index][i], _primary_term=PRIMARY_TERM)
            hits.append(hit)
        return Reply(200, search_body(hits))


def _field(doc: dict[str, Any], name: str) -> list[Any]:
    value: Any = doc
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        value = doc.get(name)
    if value is None:
        return []
    return [v for v in value if v is not None] if isinstance(value, list) else [value]


def _sortable(value: Any) -> Any:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _compare(value: Any, op: str, bound: Any) -> bool:
    left, right = _sortable(value), _sortable(bound)
    if left[0] != right[0]:
        left, right = (1, str(value)), (1, str(bound))
    return {"gt": left > right, "gte": left >= right, "lt": left < right,
            "lte": left <= right}[op]  # fmt: skip


def _matches(query: dict[str, Any], doc: dict[str, Any], doc_id: str = "") -> bool:
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind == "ids":
        return doc_id in spec["values"]
    if kind == "term":
        ((name, value),) = spec.items()
        value = value["value"] if isinstance(value, dict) else value
        return value in _field(doc, name)
    if kind == "terms":
        ((name, values),) = spec.items()
        return any(v in values for v in _field(doc, name))
    if kind == "exists":
        return bool(_field(doc, spec["field"]))
    if kind == "range":
        ((name, bounds),) = spec.items()
        return any(all(_compare(v, op, b) for op, b in bounds.items() if op in
                       ("gt", "gte", "lt", "lte")) for v in _field(doc, name))  # fmt: skip
    if kind == "bool":

        def listed(key: str) -> list[dict[str, Any]]:
            clauses = spec.get(key, [])
            return clauses if isinstance(clauses, list) else [clauses]

        return (all(_matches(q, doc, doc_id) for q in listed("filter") + listed("must"))
                and not any(_matches(q, doc, doc_id) for q in listed("must_not"))
                and (not listed("should") or sum(_matches(q, doc, doc_id) for q in
                     listed("should")) >= int(spec.get("minimum_should_match", 1))))  # fmt: skip
    raise ValueError(f"fake cluster: query {kind!r} is not supported")


def search_body(hits: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A ``_search`` answer around ``hits`` (and ``aggregations=...`` etc.)."""
    return {
        "took": 5,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": None, "hits": hits},
        **extra,
    }


class FakeCluster:
    """``tls``: serve HTTPS with this server context (tests/elastic/tls.py makes one)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self.unexpected: list[Recorded] = []
        self.store: DocStore | None = None
        # Answers what no script does (the engine stand-in); else the DocStore, if enabled.
        self.fallback: Fallback | None = None
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.scheme = "http"
        if tls is not None:
            # The handshake happens on the handler's thread, at its first read.
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> FakeCluster:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def settings(self, **overrides: Any) -> ElasticsearchSettings:
        values: dict[str, Any] = {"hosts": (self.url,), "request_timeout": 2.0, "max_retries": 3}
        return ElasticsearchSettings(**{**values, **overrides})

    def enable_store(self) -> DocStore:
        self.store = DocStore()
        return self.store

    def script(
        self, method: str, path: str, *answers: Answer | Handler, repeat_last: bool = False
    ) -> None:
        """Answer ``method path`` (exact path, or a regex when it starts with ``^``) with
        ``answers`` in turn; with ``repeat_last`` the last one answers every later call."""
        pattern = re.compile(path if path.startswith("^") else re.escape(path) + "$")
        with self._lock:
            self._routes.append(_Route(method, pattern, list(answers), repeat_last))

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Recorded requests (``GET /`` product checks included), optionally filtered."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def _answer(self, request: Recorded) -> Answer:
        with self._lock:
            self.requests.append(request)
            for route in self._routes:
                if route.method == request.method and route.path.match(request.path):
                    if not route.answers:
                        continue
                    answer = route.answers[0]
                    if len(route.answers) > 1 or not route.repeat_last:
                        route.answers.pop(0)
                    return answer(request) if callable(answer) else answer
            if self.fallback is not None:
                computed = self.fallback(request)
                if computed is not None:
                    return computed
            if self.store is not None:
                stored = self.store.handle(request)
                if stored is not None:
                    return stored
            if request.method == "GET" and request.path == "/":
                return Reply(200, CLUSTER_INFO)
            if request.method == "GET" and request.path.endswith("/_field_caps"):
                # Unless scripted: no field is mapped (KQL compiles as with no field types).
                return Reply(200, {"indices": [], "fields": {}})
            self.unexpected.append(request)
        reason = f"fake cluster: nothing scripted for {request.target}"
        return Reply(500, error_body(500, "fake_cluster_exception", reason))


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8")
    if "ndjson" in content_type:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _make_handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Recorded(
                method=self.command,
                path=url.path,
                query=dict(parse_qsl(url.query, keep_blank_values=True)),
                headers=headers,
                body=_decode(raw, headers.get("content-type", "")),
            )
            answer = cluster._answer(request)
            if isinstance(answer, Drop):
                self.close_connection = True
                return
            if answer.delay:
                time.sleep(answer.delay)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                if answer.product:
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout) and closed the socket

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815 - stdlib names

    return Handler
