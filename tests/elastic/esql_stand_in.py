"""``POST /_query`` for the fake cluster, computed by the embedded ES|QL engine.

The answer is Elasticsearch's documented shape (``columns`` of ``{name, type}``, ``values``
as rows, ``drop_null_columns`` honoured); the rows come from the same documents loaded into
an embedded store, the request's DSL ``filter`` applied before the query as Elasticsearch
does.  A query that does not parse gets a 400 ``parsing_exception``.  The ``ids`` search that
fetches source documents is answered from the same store.
"""

from __future__ import annotations

from datetime import datetime

from runner.embedded.esql_search import documents_by_id, search_esql
from runner.embedded.store import Store
from runner.errors import QueryError
from runner.esql import parse_esql
from runner.search import EsqlRequest
from tests.elastic.fake_cluster import FakeCluster, Recorded, Reply, error_body, search_body


def serve_esql(cluster: FakeCluster, store: Store, now: datetime) -> None:
    def query(request: Recorded) -> Reply:
        body = request.body or {}
        try:
            parsed = parse_esql(str(body.get("query", "")))
        except QueryError as exc:
            reason = f"line {exc.line}:{exc.column}: {exc.reason}"
            return Reply(400, error_body(400, "parsing_exception", reason))
        filters = (body["filter"],) if "filter" in body else ()
        result = search_esql(store, EsqlRequest(query=parsed, filters=filters), now)
        keep = list(range(len(result.columns)))
        if request.query.get("drop_null_columns") == "true":
            keep = [i for i in keep if any(row[i] is not None for row in result.values)]
        return Reply(
            200,
            {
                "took": 3,
                "is_partial": False,
                "columns": [
                    {"name": result.columns[i].name, "type": result.columns[i].type} for i in keep
                ],
                "values": [[row[i] for i in keep] for row in result.values],
            },
        )

    def ids(request: Recorded) -> Reply:
        wanted = request.body["query"]["bool"]["filter"]["ids"]["values"]
        index = request.path.strip("/").split("/")[0]
        found = documents_by_id(store, index.split(","), wanted)
        return Reply(200, search_body([{**h.as_hit(), "_score": 0.0} for h in found.values()]))

    cluster.script("POST", "/_query", query, repeat_last=True)
    cluster.script("POST", r"^/(?!runner|\.alerts)[^_/][^/]*/_search$", ids, repeat_last=True)
