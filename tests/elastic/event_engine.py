"""Computed answers for the fake cluster: ``_eql/search`` and event ``_search`` requests are
evaluated over a DuckDB store holding the same events, with the request body exactly as the
Elasticsearch backend sent it (query text, ``filter`` DSL, ``size``, ``from``), and answered in
Elasticsearch's documented shapes.  So a test on the Elasticsearch path checks what the backend
sends (exception filters included) by its effect, not by a canned reply.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runner.docfields import field_values
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
from runner.timeutil import parse_absolute
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
        aggs = body.get("aggs") or body.get("aggregations")
        sort = body.get("sort") or [{"@timestamp": {}}]
        timestamp = next(iter(sort[0])) if isinstance(sort[0], dict) else str(sort[0])
        query = body.get("query") or {"match_all": {}}
        size, offset = int(body.get("size", 10)), int(body.get("from", 0))
        with self.store.connect() as con:
            catalog = Catalog.load(con)
            where = all_of([index_filter(self._indices(request)), dsl_filter(catalog, query)])
            order = timestamp_order(catalog, timestamp)
            limit = "" if aggs else f"LIMIT {size} OFFSET {offset}"
            rows = con.execute(
                f"SELECT {HIT_COLUMNS} FROM events WHERE {where} ORDER BY {order} {limit}"
            ).fetchall()
            fetched = fetch_hits(con, rows)
            hits = [fetched[int(str(r[0]))] for r in rows]
        if aggs:
            return Reply(200, search_body([], aggregations=aggregate(aggs, hits, body)))
        return Reply(200, search_body([{**h.as_hit(), "_score": None} for h in hits]))


# --- the aggregations the new_terms phases send ----------------------------------------------


def aggregate(aggs: dict[str, Any], hits: list[Hit], body: dict[str, Any]) -> dict[str, Any]:
    """``composite`` (terms sources, ``after``) and ``terms`` (``include``) buckets, with
    ``min``, ``top_hits`` and ``bucket_selector`` sub-aggregations, as Elasticsearch answers
    them; each value of a multi-valued field makes its own bucket, as terms sources do."""
    runtime = (body.get("runtime_mappings") or {}).get("kibana.combined_timestamp")
    params = (runtime or {}).get("script", {}).get("params", {})

    def time_of(hit: Hit, field: str) -> int | None:
        names = [params["primary"], params["secondary"]] if field in (
            "kibana.combined_timestamp",) and params else [field]  # fmt: skip
        for name in names:
            for value in field_values(hit.source, name):
                return int(parse_absolute(str(value)).timestamp() * 1000)
        return None

    out: dict[str, Any] = {}
    for name, spec in aggs.items():
        sub = spec.get("aggs") or {}
        if "composite" in spec:
            fields = [
                next(iter(s.values()))["terms"]["field"] for s in spec["composite"]["sources"]
            ]
            names = [next(iter(s)) for s in spec["composite"]["sources"]]
        else:
            fields = names = [spec["terms"]["field"]]
        groups: dict[tuple[Any, ...], list[Hit]] = {}
        for hit in hits:
            per_field = [list(dict.fromkeys(field_values(hit.source, f))) for f in fields]
            for key in itertools.product(*per_field):
                groups.setdefault(key, []).append(hit)
        keys = sorted(groups, key=lambda k: [(type(v).__name__, v) for v in k])
        if "terms" in spec:
            include = spec["terms"].get("include")
            if include is not None:
                keys = [k for k in keys if k[0] in include]
        else:
            after = spec["composite"].get("after")
            if after is not None:
                mark = [(type(after[n]).__name__, after[n]) for n in names]
                keys = [k for k in keys if [(type(v).__name__, v) for v in k] > mark]
            keys = keys[: spec["composite"]["size"]]
        buckets = []
        for key in keys:
            members = groups[key]
            bucket: dict[str, Any] = {
                "key": dict(zip(names, key, strict=True)) if "composite" in spec else key[0],
                "doc_count": len(members),
            }
            keep = True
            for sub_name, sub_spec in sub.items():
                if "min" in sub_spec:
                    times = [t for h in members if (t := time_of(h, sub_spec["min"]["field"]))]
                    bucket[sub_name] = {"value": float(min(times)) if times else None}
                elif "top_hits" in sub_spec:
                    (order,) = sub_spec["top_hits"]["sort"]
                    ((field, _),) = order.items()
                    first = min(members, key=lambda h, f=field: time_of(h, f) or 0)
                    bucket[sub_name] = {"hits": {"hits": [{**first.as_hit(), "_score": None}]}}
                elif "bucket_selector" in sub_spec:
                    start = sub_spec["bucket_selector"]["script"]["params"]["start_time"]
                    seen = bucket.get("first_seen", {}).get("value")
                    keep = seen is not None and seen > start
            if keep:
                buckets.append(bucket)
        result: dict[str, Any] = {"buckets": buckets}
        if "composite" in spec and buckets:
            result["after_key"] = buckets[-1]["key"]
        out[name] = result
    return out
