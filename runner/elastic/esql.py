"""ES|QL against Elasticsearch: the ``POST /_query`` request and its answer.

The request is Kibana's ``buildEsqlSearchRequest``: the rule's query text unchanged with
``| LIMIT size`` appended, and the window (plus rule filters) as a DSL ``filter``, which
Elasticsearch applies to the documents before the first command runs.  ``drop_null_columns``
leaves out columns that are null in every row, as Kibana asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.elastic.client import ElasticClient
from runner.elastic.dsl import bool_filter, index_path, time_filter
from runner.elastic.requests import SEARCH_PARAMS, NativeRequest
from runner.elastic.responses import search_hits
from runner.search import EsqlColumn, EsqlRequest, EsqlResult, Hit

__all__ = ["documents_by_id", "esql_native_request", "esql_result", "search_esql"]

QUERY_PATH = "/_query?drop_null_columns=true"


def esql_native_request(request: EsqlRequest) -> NativeRequest:
    body: dict[str, Any] = {"query": request.text}
    clauses = [time_filter(request.time_range)] if request.time_range else []
    clauses += [dict(f) for f in request.filters]
    if clauses:
        body["filter"] = bool_filter(clauses)
    return NativeRequest(
        method="POST", path=QUERY_PATH, body=body, description="ES|QL query over the rule window"
    )


def esql_result(body: Mapping[str, Any]) -> EsqlResult:
    columns = tuple(
        EsqlColumn(name=str(c.get("name")), type=str(c.get("type")))
        for c in body.get("columns") or ()
        if isinstance(c, Mapping)
    )
    values = tuple(tuple(row) for row in body.get("values") or () if isinstance(row, list))
    return EsqlResult(columns=columns, values=values)


def search_esql(client: ElasticClient, request: EsqlRequest) -> EsqlResult:
    response = client.send(esql_native_request(request))
    return esql_result(response.body if isinstance(response.body, Mapping) else {})


def documents_by_id(
    client: ElasticClient, indices: Sequence[str], ids: Sequence[str]
) -> dict[str, Hit]:
    """Kibana's ``fetchSourceDocuments``: one ``ids`` search over the query's indices, asking
    for ``_source`` and ``fields: ["*"]`` (mapped fields only: no ``include_unmapped``); the
    hits' ``fields`` are merged into their source as for every search
    (:mod:`runner.elastic.source_fields`), before the row's values go over them."""
    if not ids:
        return {}
    body = {
        "query": {"bool": {"filter": {"ids": {"values": list(ids)}}}},
        "_source": True,
        "fields": ["*"],
        "size": len(ids),
    }
    path = f"/{index_path(indices)}/_search?{SEARCH_PARAMS}"
    response = client.send(NativeRequest(method="POST", path=path, body=body))
    hits = search_hits(response.body if isinstance(response.body, Mapping) else {})
    return {hit.id: hit for hit in hits}
