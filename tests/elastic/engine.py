"""Computed answers for the fake cluster: ``_eql/search`` and event ``_search`` requests are
evaluated over a DuckDB store holding the same events, with the request body exactly as the
Elasticsearch backend sent it (query text, ``filter`` DSL, ``size``, ``from``), and answered in
Elasticsearch's documented shapes.  So a test on the Elasticsearch path checks what the backend
sends (exception filters included) by its effect, not by a canned reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import dsl_filter
from runner.embedded.indices import index_filter
from runner.embedded.ingest import load_events
from runner.embedded.plan import HIT_COLUMNS, all_of, fetch_hits, timestamp_order
from runner.embedded.search import search_eql
from runner.embedded.store import Store
from runner.eql import ast, parse_eql
from runner.errors import QueryError
from runner.search import EqlRequest, Hit, MissingEvent
from tests.elastic.fake_cluster import FakeCluster, Recorded, Reply, error_body, search_body

EQL_ROUTE = r"^/(?!runner-)[^/]+/_eql/search$"
SEARCH_ROUTE = r"^/(?!runner-|_)[^/]+/_search$"


class EventEngine:
    def __init__(self, cluster: FakeCluster, tmp: Path) -> None:
        self.store = Store(tmp / "cluster-events.duckdb")
        self.tmp = tmp
        cluster.script("POST", EQL_ROUTE, self.eql, repeat_last=True)
        cluster.script("POST", SEARCH_ROUTE, self.search, repeat_last=True)

    def load(self, hits: Sequence[dict[str, Any]]) -> None:
        path = self.tmp / f"cluster-{len(list(self.tmp.iterdir()))}.ndjson"
        path.write_text("".join(json.dumps(h) + "\n" for h in hits))
        summary = load_events(self.store, [path])
        assert summary.skipped == 0, summary.problems

    @staticmethod
    def _indices(request: Recorded) -> tuple[str, ...]:
        target = unquote(request.path.strip("/").split("/")[0])
        return tuple(target.split(",")) if target != "*" else ()

    def eql(self, request: Recorded) -> Reply:
        body = request.body or {}
        try:
            query = parse_eql(body["query"])
        except QueryError as exc:
            return Reply(400, error_body(400, "verification_exception", str(exc)))
        result = search_eql(
            self.store,
            EqlRequest(
                query=query,
                indices=self._indices(request),
                size=int(body.get("size", 10)),
                timestamp_field=body.get("timestamp_field", "@timestamp"),
                tiebreaker_field=body.get("tiebreaker_field"),
                event_category_field=body.get("event_category_field", "event.category"),
                filters=(body["filter"],) if "filter" in body else (),
            ),
        )
        hits: dict[str, Any] = {"total": {"value": 0, "relation": "eq"}}
        if not isinstance(query.body, ast.EventQuery):
            hits["sequences"] = [
                {
                    "join_keys": list(s.join_keys),
                    "events": [
                        e.as_hit() if isinstance(e, Hit) else {"missing": True}
                        for e in s.events
                        if isinstance(e, Hit | MissingEvent)
                    ],
                }
                for s in result.sequences
            ]
        else:
            hits["events"] = [h.as_hit() for h in result.events]
        hits["total"]["value"] = len(result.events) + len(result.sequences)
        return Reply(200, {"is_partial": False, "is_running": False, "took": 3,
                           "timed_out": False, "hits": hits})  # fmt: skip

    def search(self, request: Recorded) -> Reply:
        body = request.body or {}
        if "aggs" in body or "aggregations" in body:
            return Reply(500, error_body(500, "fake_cluster_exception", "aggregations: script"))
        sort = body.get("sort") or [{"@timestamp": {}}]
        timestamp = next(iter(sort[0])) if isinstance(sort[0], dict) else str(sort[0])
        query = body.get("query") or {"match_all": {}}
        with self.store.connect() as con:
            catalog = Catalog.load(con)
            where = all_of([index_filter(self._indices(request)), dsl_filter(catalog, query)])
            order = timestamp_order(catalog, timestamp)
            rows = con.execute(
                f"SELECT {HIT_COLUMNS} FROM events WHERE {where} ORDER BY {order} "
                f"LIMIT {int(body.get('size', 10))} OFFSET {int(body.get('from', 0))}"
            ).fetchall()
            fetched = fetch_hits(con, rows)
            hits = [fetched[int(str(r[0]))] for r in rows]
        return Reply(200, search_body([{**h.as_hit(), "_score": None} for h in hits]))
