"""The engine stand-in's request handling: indices, templates, documents, searches.

Documents live in the DuckDB store: every document in ``stand_in_docs`` (index, id, source,
``_seq_no``, write order), and those with a usable ``@timestamp`` also in the embedded
engine's ``events`` table, which answers ``_eql/search`` and ``_query`` (ES|QL).  ``_search``
and ``_count`` read the documents of the target indices from the store and evaluate the
query DSL with each index's mapping (:mod:`.query_dsl`).  Answers and errors take
Elasticsearch's documented shapes.
"""

from __future__ import annotations

import base64
import fnmatch
import io
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from runner.embedded.esql_search import search_esql
from runner.embedded.ingest import load_events
from runner.embedded.search import search_eql
from runner.embedded.store import Store, register_schema
from runner.eql import parse_eql
from runner.errors import QueryError
from runner.esql import parse_esql
from runner.esql.ast import From as EsqlFrom
from runner.search import EqlRequest, EsqlRequest, Hit, MissingEvent
from tests.elastic.engine.mappings import (
    COMPONENTS,
    LOGS_TEMPLATE,
    IndexMapping,
    hit_fields,
    leaves,
    parse_date_ms,
)
from tests.elastic.engine.query_dsl import Doc, DslError, Evaluator
from tests.elastic.engine.search import MAX_RESULT_WINDOW, Search, Stored
from tests.elastic.fake_cluster import CLUSTER_INFO, Recorded, Reply, error_body

register_schema(
    "stand_in_docs",
    """CREATE TABLE IF NOT EXISTS stand_in_docs (
        _index VARCHAR NOT NULL, _id VARCHAR NOT NULL, _source VARCHAR NOT NULL,
        seq_no BIGINT NOT NULL, ord BIGINT NOT NULL, PRIMARY KEY (_index, _id))""",
)


class ApiError(Exception):
    def __init__(self, status: int, kind: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.reply = Reply(status, error_body(status, kind, reason, **extra))


def _not_found(index: str) -> ApiError:
    return ApiError(404, "index_not_found_exception", f"no such index [{index}]",
                    index=index, **{"resource.type": "index_or_alias", "resource.id": index,
                                    "index_uuid": "_na_"})  # fmt: skip


@dataclass
class IndexInfo:
    mapping: IndexMapping
    data_stream: bool = False
    max_result_window: int = MAX_RESULT_WINDOW
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex[:22])


@dataclass
class Pit:
    indices: list[str]
    docs: list[Stored]


class Node:
    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.templates: dict[str, dict[str, Any]] = {"logs": LOGS_TEMPLATE}
        self.indices: dict[str, IndexInfo] = {}
        self.aliases: dict[str, str] = {}  # alias -> its (write) index
        self.pits: dict[str, Pit] = {}
        self._order = 0
        self._seq: dict[str, int] = {}
        # Documents written since the last EQL / ES|QL search, loaded into ``events`` in one
        # go before the next one: a load per write costs the stand-in most of its time.
        self._pending: dict[tuple[str, str], str] = {}

    # --- routing -------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply | None:
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        method, body, params = request.method, request.body, request.query
        try:
            return self._route(method, parts, body, params)
        except ApiError as exc:
            return exc.reply
        except DslError as exc:
            return self._search_error(exc)

    def _search_error(self, exc: DslError) -> Reply:
        if exc.kind in ("parsing_exception", "illegal_argument_exception") and "Result window" \
                not in exc.reason and "Fielddata" not in exc.reason:  # fmt: skip
            return Reply(exc.status, error_body(exc.status, exc.kind, exc.reason))
        cause = {"type": exc.kind, "reason": exc.reason}
        body = {"error": {"root_cause": [cause], "type": "search_phase_execution_exception",
                          "reason": "all shards failed", "phase": "query", "grouped": True,
                          "failed_shards": [{"shard": 0, "index": "", "node": "engine",
                                             "reason": cause}],
                          "caused_by": cause}, "status": exc.status}  # fmt: skip
        return Reply(exc.status, body)

    def _route(self, method: str, parts: list[str], body: Any, params: dict[str, str]
               ) -> Reply | None:  # fmt: skip
        if not parts:
            return Reply(200, CLUSTER_INFO if method == "GET" else None)
        head = parts[0]
        if head == "_index_template":
            return self._template(method, parts[1] if len(parts) > 1 else None, body)
        if head == "_bulk" and method in ("POST", "PUT"):
            return self._bulk(body or [], None)
        if head == "_pit" and method == "DELETE":
            found = self.pits.pop(str((body or {}).get("id")), None)
            return Reply(200 if found else 404, {"succeeded": True,
                                                 "num_freed": 1 if found else 0})  # fmt: skip
        if head == "_search" and method in ("GET", "POST"):
            return self._search_request(None, body or {}, params)
        if head == "_query" and method == "POST":
            return self._esql(body or {}, params)
        if head == "_refresh":
            return Reply(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        if head == "_data_stream":
            return self._data_stream(method, parts[1] if len(parts) > 1 else "*")
        if head == "_alias" and method == "GET" and len(parts) == 2:
            return self._alias(parts[1])
        if head.startswith("_"):
            return None
        target, rest = head, parts[1:]
        if rest and rest[0] in ("_doc", "_create", "_update", "_bulk") and target in self.aliases:
            target = self.aliases[target]  # writes through an alias go to its write index
        if not rest:
            return self._index(method, target, body, params)
        action = rest[0]
        if action in ("_doc", "_create") and len(rest) == 2:
            return self._document(method, target, rest[1], body, params, create=action == "_create")
        if action == "_doc" and len(rest) == 1 and method == "POST":
            return self._document("PUT", target, uuid.uuid4().hex, body, params, create=True)
        if action == "_update" and len(rest) == 2 and method == "POST":
            return self._update(target, rest[1], body or {})
        if action == "_bulk":
            return self._bulk(body or [], target)
        if action == "_search" and method in ("GET", "POST"):
            return self._search_request(target, body or {}, params)
        if action == "_count":
            return self._count(target, body or {}, params)
        if action == "_pit" and method == "POST":
            return self._open_pit(target, params)
        if action == "_eql" and rest[1:] == ["search"]:
            return self._eql(target, body or {}, params)
        if action == "_field_caps":
            return self._field_caps(target, params)
        if action == "_mapping" and method == "GET":
            names = self.resolve(target, params)
            return Reply(200, {n: {"mappings": self.indices[n].mapping.raw} for n in names})
        if action == "_refresh":
            return Reply(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        return None

    # --- indices and templates -------------------------------------------------------------
    def _template(self, method: str, name: str | None, body: Any) -> Reply:
        if method == "PUT" and name:
            self.templates[name] = dict(body or {})
            return Reply(200, {"acknowledged": True})
        if method == "DELETE" and name:
            if self.templates.pop(name, None) is None:
                raise ApiError(404, "resource_not_found_exception",
                               f"index_template matching [{name}] not found")  # fmt: skip
            return Reply(200, {"acknowledged": True})
        found = [{"name": n, "index_template": t} for n, t in sorted(self.templates.items())
                 if name is None or fnmatch.fnmatchcase(n, name)]  # fmt: skip
        if name and not found:
            raise ApiError(404, "resource_not_found_exception",
                           f"index template matching [{name}] not found")  # fmt: skip
        return Reply(200, {"index_templates": found})

    def _template_for(self, index: str) -> dict[str, Any] | None:
        best: tuple[int, dict[str, Any]] | None = None
        for template in self.templates.values():
            patterns = template.get("index_patterns", [])
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if any(fnmatch.fnmatchcase(index, p) for p in patterns):
                priority = int(template.get("priority", 0))
                if best is None or priority > best[0]:
                    best = (priority, template)
        return best[1] if best else None

    def create_index(self, index: str, body: Mapping[str, Any] | None = None) -> IndexInfo:
        template = self._template_for(index) or {}
        mapping = IndexMapping.from_body({})
        settings: dict[str, Any] = {}
        # Component templates first (the built-in logs@mappings / ecs@mappings), then the
        # template's own, then the create-index body.
        for name in template.get("composed_of", []):
            component = COMPONENTS.get(name, {})
            mapping.merge(component.get("mappings") or {})
            settings.update(_flat(component.get("settings") or {}))
        own = template.get("template") or {}
        mapping.merge(own.get("mappings") or {})
        settings.update(_flat(own.get("settings") or {}))
        if body:
            mapping.merge(body.get("mappings") or {})
            settings.update(_flat(body.get("settings") or {}))
        mapping.raw = {**(own.get("mappings") or {}), **((body or {}).get("mappings") or {})}
        window = int(settings.get("index.max_result_window", MAX_RESULT_WINDOW))
        info = IndexInfo(mapping=mapping, data_stream="data_stream" in template,
                         max_result_window=window)  # fmt: skip
        self.indices[index] = info
        return info

    def _alias(self, name: str) -> Reply:
        found = {a: i for a, i in self.aliases.items() if fnmatch.fnmatchcase(a, name)}
        if not found:
            return Reply(404, {"error": f"alias [{name}] missing", "status": 404})
        out: dict[str, Any] = {}
        for alias, index in found.items():
            out.setdefault(index, {"aliases": {}})["aliases"][alias] = {"is_write_index": True}
        return Reply(200, out)

    def _index(self, method: str, target: str, body: Any, params: dict[str, str]) -> Reply | None:
        if method == "PUT":
            if target in self.aliases:
                raise ApiError(400, "invalid_index_name_exception",
                               f"Invalid index name [{target}], already exists as alias",
                               index=target)  # fmt: skip
            if target in self.indices:
                raise ApiError(400, "resource_already_exists_exception",
                               f"index [{target}/{self.indices[target].uuid}] already exists",
                               index=target)  # fmt: skip
            self.create_index(target, body or {})
            for alias in (body or {}).get("aliases") or {}:
                self.aliases[alias] = target
            return Reply(200, {"acknowledged": True, "shards_acknowledged": True,
                               "index": target})  # fmt: skip
        if method in ("GET", "HEAD"):
            names = self.resolve(target, params)
            return Reply(200, {n: {"mappings": self.indices[n].mapping.raw} for n in names})
        if method == "DELETE":
            names = self.resolve(target, {**params, "allow_no_indices": "true"})
            self._drop(names)
            return Reply(200, {"acknowledged": True})
        return None

    def _data_stream(self, method: str, name: str) -> Reply:
        names = [n for n, i in self.indices.items()
                 if i.data_stream and fnmatch.fnmatchcase(n, name)]  # fmt: skip
        if method == "DELETE":
            if not names and "*" not in name:
                raise _not_found(name)
            self._drop(names)
            return Reply(200, {"acknowledged": True})
        return Reply(200, {"data_streams": [{"name": n} for n in names]})

    def _drop(self, names: Sequence[str]) -> None:
        with self.store.connect() as con:
            for name in names:
                self.indices.pop(name, None)
                con.execute("DELETE FROM stand_in_docs WHERE _index = ?", [name])
                con.execute("DELETE FROM events WHERE _index = ?", [name])
        self._pending = {k: v for k, v in self._pending.items() if k[0] not in names}

    def resolve(self, target: str | None, params: Mapping[str, str]) -> list[str]:
        """Concrete indices of a comma-separated target (wildcards, ``-`` exclusions)."""
        expand = params.get("expand_wildcards", "open")
        allow_none = params.get("allow_no_indices", "true") == "true"
        ignore = params.get("ignore_unavailable", "false") == "true"
        found: list[str] = []
        for expression in (target or "_all").split(","):
            if expression.startswith("-") and found:
                found = [n for n in found if not fnmatch.fnmatchcase(n, expression[1:])]
                continue
            if expression in ("_all", "*") or "*" in expression or "?" in expression:
                pattern = "*" if expression == "_all" else expression
                hidden = pattern.startswith(".") or expand in ("all", "hidden")
                found += [n for n in sorted(self.indices) if fnmatch.fnmatchcase(n, pattern)
                          and (hidden or not n.startswith("."))]  # fmt: skip
                found += [i for a, i in sorted(self.aliases.items()) if fnmatch.fnmatchcase(
                    a, pattern) and (hidden or not a.startswith("."))]  # fmt: skip
            elif expression in self.indices:
                found.append(expression)
            elif expression in self.aliases:
                found.append(self.aliases[expression])
            elif not ignore:
                raise _not_found(expression)
        if not found and not allow_none:
            raise _not_found(target or "_all")
        return list(dict.fromkeys(found))

    # --- documents -------------------------------------------------------------------------
    def _document(self, method: str, index: str, doc_id: str, body: Any,
                  params: dict[str, str], *, create: bool) -> Reply | None:  # fmt: skip
        if method in ("GET", "HEAD"):
            stored = self._read(index, doc_id)
            if index not in self.indices:
                raise _not_found(index)
            if stored is None:
                return Reply(404, {"_index": index, "_id": doc_id, "found": False})
            return Reply(200, {"_index": index, "_id": doc_id, "_version": 1,
                               "_seq_no": stored.seq_no, "_primary_term": 1, "found": True,
                               "_source": dict(stored.doc.source)})  # fmt: skip
        if method == "DELETE":
            stored = self._read(index, doc_id) if index in self.indices else None
            if stored is not None:
                with self.store.connect() as con:
                    con.execute("DELETE FROM stand_in_docs WHERE _index = ? AND _id = ?",
                                [index, doc_id])  # fmt: skip
                    con.execute("DELETE FROM events WHERE _index = ? AND _id = ?", [index, doc_id])
                self._pending.pop((index, doc_id), None)
            result = "deleted" if stored else "not_found"
            return Reply(200 if stored else 404, {"_index": index, "_id": doc_id,
                                                  "result": result})  # fmt: skip
        if method not in ("PUT", "POST"):
            return None
        create = create or params.get("op_type") == "create"
        if "if_seq_no" in params or "if_primary_term" in params:
            current = self._read(index, doc_id) if index in self.indices else None
            wanted = (int(params.get("if_seq_no", -2)), int(params.get("if_primary_term", -2)))
            if current is None:
                raise ApiError(409, "version_conflict_engine_exception",
                               f"[{doc_id}]: version conflict, document does not exist",
                               index=index)  # fmt: skip
            if wanted != (current.seq_no, 1):
                raise ApiError(409, "version_conflict_engine_exception",
                               f"[{doc_id}]: version conflict, required seqNo [{wanted[0]}], "
                               f"primary term [{wanted[1]}]. current document has seqNo "
                               f"[{current.seq_no}] and primary term [1]", index=index)  # fmt: skip
        status, result = self._write([(index, doc_id, body or {}, create)])[0]
        if status >= 300:
            return Reply(status, {"error": {"root_cause": [result], **result}, "status": status})
        return Reply(status, {"_index": index, "_id": doc_id, "_version": 1,
                              "result": result["result"], "_seq_no": result["_seq_no"],
                              "_primary_term": 1})  # fmt: skip

    def _update(self, index: str, doc_id: str, body: dict[str, Any]) -> Reply:
        """A partial update: ``doc``'s top-level keys replace the stored ones (no script)."""
        stored = self._read(index, doc_id) if index in self.indices else None
        if stored is None:
            raise ApiError(404, "document_missing_exception", f"[{doc_id}]: document missing",
                           index=index)  # fmt: skip
        merged = {**dict(stored.doc.source), **dict(body.get("doc") or {})}
        status, result = self._write([(index, doc_id, merged, False)])[0]
        if status >= 300:
            return Reply(status, {"error": {"root_cause": [result], **result}, "status": status})
        return Reply(200, {"_index": index, "_id": doc_id, "_version": 2, "result": "updated",
                           "_seq_no": result["_seq_no"], "_primary_term": 1})  # fmt: skip

    def _read(self, index: str, doc_id: str) -> Stored | None:
        with self.store.connect() as con:
            row = con.execute("SELECT _source, seq_no, ord FROM stand_in_docs WHERE _index = ? "
                              "AND _id = ?", [index, doc_id]).fetchone()  # fmt: skip
        if row is None:
            return None
        return Stored(doc=Doc(index, doc_id, json.loads(row[0])), seq_no=row[1], order=row[2])

    def _write(self, items: Sequence[tuple[str, str, Mapping[str, Any], bool]]
               ) -> list[tuple[int, dict[str, Any]]]:  # fmt: skip
        """Write (index, id, source, create-only) items; (status, result or error) each."""
        out: list[tuple[int, dict[str, Any]]] = []
        with self.store.connect() as con:
            for index, doc_id, source, create in items:
                info = self.indices.get(index) or self.create_index(index)
                if info.data_stream and not create:
                    out.append((400, {"type": "illegal_argument_exception", "reason":
                               "only write ops with an op_type of create are allowed in data "
                               "streams"}))  # fmt: skip
                    continue
                stamp = leaves(source).get("@timestamp", [None])[0]
                if info.data_stream and parse_date_ms(stamp) is None:
                    out.append((400, {"type": "document_parsing_exception", "reason":
                               "data stream timestamp field [@timestamp] is missing"}))  # fmt: skip
                    continue
                exists = con.execute("SELECT 1 FROM stand_in_docs WHERE _index = ? AND _id = ?",
                                     [index, doc_id]).fetchone()  # fmt: skip
                if exists and create:
                    out.append((409, {"type": "version_conflict_engine_exception",
                                      "reason": f"[{doc_id}]: version conflict, document already "
                                      "exists (current version [1])", "index": index}))  # fmt: skip
                    continue
                info.mapping.learn(source)
                seq_no = self._seq.get(index, 0)
                self._seq[index] = seq_no + 1
                self._order += 1
                text = json.dumps(source)
                con.execute(
                    "DELETE FROM stand_in_docs WHERE _index = ? AND _id = ?", [index, doc_id]
                )
                con.execute("DELETE FROM events WHERE _index = ? AND _id = ?", [index, doc_id])
                self._pending.pop((index, doc_id), None)
                con.execute("INSERT INTO stand_in_docs VALUES (?, ?, ?, ?, ?)",
                            [index, doc_id, text, seq_no, self._order])  # fmt: skip
                if parse_date_ms(stamp) is not None:
                    self._pending[(index, doc_id)] = json.dumps(
                        {"_index": index, "_id": doc_id, "_source": source}
                    )
                out.append((200 if exists else 201, {"result": "updated" if exists else "created",
                                                     "_seq_no": seq_no}))  # fmt: skip
        return out

    def _load_pending(self, names: Sequence[str] | None = None) -> None:
        """Put the documents of ``names`` (default: all) written since they were last
        searched with EQL / ES|QL into ``events``."""
        wanted = [k for k in self._pending if names is None or k[0] in names]
        if not wanted:
            return
        lines = "\n".join(self._pending.pop(k) for k in wanted) + "\n"
        summary = load_events(self.store, [io.BytesIO(lines.encode())])
        assert not summary.skipped, summary.problems

    def _bulk(self, lines: list[dict[str, Any]], default_index: str | None) -> Reply:
        items: list[tuple[str, str, dict[str, Any], str]] = []
        i = 0
        while i < len(lines):
            ((op, meta),) = lines[i].items()
            index = meta.get("_index", default_index)
            index = self.aliases.get(index, index)
            doc_id = str(meta.get("_id") or uuid.uuid4().hex)
            if op == "delete":
                items.append((index, doc_id, {}, op))
                i += 1
                continue
            items.append((index, doc_id, lines[i + 1], op))
            i += 2
        results = []
        writes = [(ix, di, src, op == "create") for ix, di, src, op in items if op != "delete"]
        written = iter(self._write(writes))
        for index, doc_id, _, op in items:
            if op == "delete":
                reply = self._document("DELETE", index, doc_id, None, {}, create=False)
                assert reply is not None
                results.append({op: {"_index": index, "_id": doc_id, "status": reply.status,
                                     "result": reply.body["result"]}})  # fmt: skip
                continue
            status, result = next(written)
            entry: dict[str, Any] = {"_index": index, "_id": doc_id, "status": status}
            if status >= 300:
                entry["error"] = result
            else:
                entry.update(_version=1, result=result["result"], _seq_no=result["_seq_no"],
                             _primary_term=1)  # fmt: skip
            results.append({op: entry})
        errors = any(next(iter(r.values()))["status"] >= 300 for r in results)
        return Reply(200, {"took": 1, "errors": errors, "items": results})

    # --- searching -------------------------------------------------------------------------
    def documents(self, indices: Sequence[str]) -> list[Stored]:
        if not indices:
            return []
        marks = ", ".join("?" for _ in indices)
        with self.store.connect() as con:
            rows = con.execute(
                "SELECT _index, _id, _source, seq_no, ord FROM stand_in_docs "
                f"WHERE _index IN ({marks}) ORDER BY ord",
                list(indices),
            ).fetchall()
        return [Stored(doc=Doc(r[0], r[1], json.loads(r[2])), seq_no=r[3], order=r[4])
                for r in rows]  # fmt: skip

    def _search_request(self, target: str | None, body: Mapping[str, Any],
                        params: Mapping[str, str]) -> Reply:  # fmt: skip
        pit_spec = body.get("pit")
        if pit_spec is not None:
            if target is not None:
                raise ApiError(400, "action_request_validation_exception", "Validation Failed: "
                               "1: [indices] cannot be used with point in time. Do not specify "
                               "any index with point in time.;")  # fmt: skip
            pit = self.pits.get(str(pit_spec.get("id")))
            if pit is None:
                raise ApiError(404, "search_context_missing_exception",
                               "No search context found for id [pit]")  # fmt: skip
            mappings = {n: self.indices[n].mapping for n in pit.indices if n in self.indices}
            docs = [s for s in pit.docs if s.doc.index in mappings]
            window = min((self.indices[n].max_result_window for n in mappings),
                         default=MAX_RESULT_WINDOW)  # fmt: skip
            answer = Search(docs, mappings, body, self.clock(), pit=True).response(window)
            answer["pit_id"] = pit_spec.get("id")
            return Reply(200, answer)
        names = self.resolve(target, params)
        mappings = {n: self.indices[n].mapping for n in names}
        window = min((self.indices[n].max_result_window for n in names), default=MAX_RESULT_WINDOW)
        search = Search(self.documents(names), mappings, body, self.clock())
        return Reply(200, search.response(window))

    def _count(self, target: str, body: Mapping[str, Any], params: Mapping[str, str]) -> Reply:
        names = self.resolve(target, params)
        mappings = {n: self.indices[n].mapping for n in names}
        search = Search(self.documents(names), mappings, body, self.clock())
        return Reply(
            200,
            {
                "count": len(search.matched),
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            },
        )

    def _open_pit(self, target: str, params: Mapping[str, str]) -> Reply:
        if "keep_alive" not in params:
            raise ApiError(400, "action_request_validation_exception",
                           "Validation Failed: 1: [keep_alive] is not specified;")  # fmt: skip
        names = self.resolve(target, params)
        pit_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self.pits[pit_id] = Pit(indices=names, docs=self.documents(names))
        return Reply(200, {"id": pit_id, "_shards": {"total": 1, "successful": 1,
                                                     "skipped": 0, "failed": 0}})  # fmt: skip

    def matching_ids(self, indices: Sequence[str], query: Mapping[str, Any]) -> list[str]:
        out = []
        for stored in self.documents(indices):
            evaluator = Evaluator(self.indices[stored.doc.index].mapping, self.clock())
            if evaluator.matches(query, stored.doc):
                out.append(stored.doc.id)
        return out

    def _eql(self, target: str, body: Mapping[str, Any], params: Mapping[str, str]) -> Reply:
        text = str(body.get("query", ""))
        try:
            parsed = parse_eql(text)
        except QueryError as exc:
            raise ApiError(400, "parsing_exception",
                           f"line {exc.line}:{exc.column}: {exc.reason}") from None  # fmt: skip
        names = self.resolve(target, params)
        self._load_pending(names)
        filters: tuple[Mapping[str, Any], ...] = ()
        if "filter" in body:
            filters = ({"ids": {"values": self.matching_ids(names, body["filter"])}},)
        request = EqlRequest(
            query=parsed, indices=tuple(names) or ("<none>",),
            size=int(body.get("size", 10)),
            timestamp_field=str(body.get("timestamp_field", "@timestamp")),
            tiebreaker_field=body.get("tiebreaker_field"),
            event_category_field=str(body.get("event_category_field", "event.category")),
            result_position=body.get("result_position", "tail"), filters=filters,
        )  # fmt: skip
        try:
            result = search_eql(self.store, request)
        except QueryError as exc:
            raise ApiError(
                400, "verification_exception", f"Found 1 problem\n{exc.reason}"
            ) from None
        hits: dict[str, Any] = {}
        specs = body.get("fields")

        def hit(event: Hit | MissingEvent) -> dict[str, Any]:
            out = _eql_hit(event)
            if specs and isinstance(event, Hit) and event.index in self.indices:
                found = hit_fields(self.indices[event.index].mapping, event.source, specs)
                if found:
                    out["fields"] = found
            return out

        if result.sequences:
            hits["sequences"] = [
                {"join_keys": list(s.join_keys), "events": [hit(e) for e in s.events]}
                for s in result.sequences
            ]
        else:
            hits["events"] = [hit(e) for e in result.events]
        count = len(result.sequences) or len(result.events)
        hits["total"] = {"value": count, "relation": "eq"}
        return Reply(200, {"is_partial": False, "is_running": False, "took": 1,
                           "timed_out": False, "hits": hits})  # fmt: skip

    def _esql(self, body: Mapping[str, Any], params: Mapping[str, str]) -> Reply:
        try:
            parsed = parse_esql(str(body.get("query", "")))
        except QueryError as exc:
            raise ApiError(400, "parsing_exception",
                           f"line {exc.line}:{exc.column}: {exc.reason}") from None  # fmt: skip
        filters = (body["filter"],) if "filter" in body else ()
        sources = parsed.source.sources if isinstance(parsed.source, EsqlFrom) else ()
        self._load_pending(self.resolve(",".join(sources), {"ignore_unavailable": "true"})
                           if sources else [])  # fmt: skip
        result = search_esql(self.store, EsqlRequest(query=parsed, filters=filters), self.clock())
        keep = list(range(len(result.columns)))
        if params.get("drop_null_columns") == "true":  # columns null in every row left out
            keep = [i for i in keep if any(row[i] is not None for row in result.values)]
        columns = [{"name": result.columns[i].name, "type": result.columns[i].type} for i in keep]
        values = [[row[i] for i in keep] for row in result.values]
        return Reply(200, {"took": 1, "is_partial": False, "columns": columns, "values": values})

    def _field_caps(self, target: str, params: Mapping[str, str]) -> Reply:
        names = self.resolve(target, params)
        wanted = [f for f in params.get("fields", "*").split(",") if f]
        by_field: dict[str, dict[str, list[str]]] = {}
        for index in names:
            mapping = self.indices[index].mapping
            for name, ftype in mapping.fields.items():
                if not any(fnmatch.fnmatchcase(name, w) for w in wanted):
                    continue
                by_field.setdefault(name, {}).setdefault(ftype.type, []).append(index)
                parts = name.split(".")
                for i in range(1, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent not in mapping.fields and any(
                        fnmatch.fnmatchcase(parent, w) for w in wanted
                    ):
                        kinds = by_field.setdefault(parent, {}).setdefault("object", [])
                        if index not in kinds:
                            kinds.append(index)
        fields: dict[str, Any] = {}
        for name, kinds in sorted(by_field.items()):
            entry = {}
            for kind, where in kinds.items():
                caps: dict[str, Any] = {
                    "type": kind,
                    "metadata_field": False,
                    "searchable": kind != "object",
                    "aggregatable": kind not in ("object", "text", "match_only_text"),
                }
                if len(kinds) > 1 or len(where) < len(names):
                    caps["indices"] = where
                entry[kind] = caps
            if params.get("include_unmapped") == "true":
                missing = [n for n in names if not any(n in w for w in kinds.values())]
                if missing:
                    entry["unmapped"] = {"type": "unmapped", "metadata_field": False,
                                         "searchable": False, "aggregatable": False,
                                         "indices": missing}  # fmt: skip
            fields[name] = entry
        return Reply(200, {"indices": names, "fields": fields})


def _flat(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"index": {"max_result_window": 5}}`` -> ``{"index.max_result_window": 5}``."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    if out and not all(k.startswith("index.") for k in out):
        out = {(k if k.startswith("index.") else f"index.{k}"): v for k, v in out.items()}
    return out


def _eql_hit(event: Hit | MissingEvent) -> dict[str, Any]:
    if isinstance(event, MissingEvent):
        return {"_index": "", "_id": "", "missing": True}
    return {"_index": event.index, "_id": event.id, "_source": dict(event.source)}
