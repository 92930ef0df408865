"""Value lists in a runner index on the cluster (``<prefix>-lists``).

One document per list (``list:<id>``: type, name, description, size, number of chunks) and
its values in chunk documents of at most :data:`CHUNK_SIZE` values (``items:<id>:<n>``),
read back with one ``ids`` search.  Kibana keeps one document per value in ``.items-*``; the
chunks keep a 65,536-value list to a handful of documents.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from runner.elastic.client import Response
from runner.elastic.dsl import doc_path, index_path
from runner.lists.model import ValueList, ValueListInfo

CHUNK_SIZE = 10_000
SEARCH_PARAMS = "ignore_unavailable=true&allow_no_indices=true"

LIST_FIELDS: dict[str, dict[str, Any]] = {
    "kind": {"type": "keyword"},
    "list_id": {"type": "keyword"},
    "type": {"type": "keyword"},
    "name": {"type": "keyword"},
    "description": {"type": "keyword", "index": False, "doc_values": False},
    "size": {"type": "long"},
    "chunks": {"type": "long"},
    "chunk": {"type": "long"},
    "values": {"type": "keyword", "index": False, "doc_values": False},
}


class _Client(Protocol):
    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        allow: Collection[int] = (),
    ) -> Response: ...


def _meta_id(list_id: str) -> str:
    return f"list:{list_id}"


def _chunk_id(list_id: str, n: int) -> str:
    return f"items:{list_id}:{n}"


class ElasticLists:
    """:class:`~runner.lists.model.ValueListStore` on the cluster."""

    def __init__(self, client: _Client, index: str) -> None:
        self._client = client
        self.index = index

    def _meta(self, list_id: str) -> dict[str, Any] | None:
        response = self._client.request(
            "GET", doc_path(self.index, _meta_id(list_id)), allow=(404,)
        )
        if response.status != 200 or not response.body.get("found"):
            return None
        return dict(response.body.get("_source") or {})

    def get_list(self, list_id: str) -> ValueList | None:
        meta = self._meta(list_id)
        if meta is None:
            return None
        ids = [_chunk_id(list_id, n) for n in range(int(meta.get("chunks") or 0))]
        values: list[str] = []
        if ids:
            body = {"size": len(ids), "query": {"ids": {"values": ids}}}
            response = self._client.request(
                "POST", f"/{index_path([self.index])}/_search?{SEARCH_PARAMS}", body
            )
            hits = response.body.get("hits", {}).get("hits", [])
            chunks = sorted((h.get("_source") or {} for h in hits), key=lambda d: d.get("chunk", 0))
            for chunk in chunks:
                values += [str(v) for v in chunk.get("values") or []]
        return ValueList(info=_info(meta), values=tuple(values))

    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        unique = list(dict.fromkeys(values))
        old = self._meta(info.id)
        chunks = [unique[i : i + CHUNK_SIZE] for i in range(0, len(unique), CHUNK_SIZE)]
        for n, chunk in enumerate(chunks):
            doc = {"kind": "items", "list_id": info.id, "chunk": n, "values": chunk}
            self._client.request("PUT", doc_path(self.index, _chunk_id(info.id, n)), doc)
        meta = {
            "kind": "list",
            "list_id": info.id,
            "type": info.type,
            "name": info.name,
            "description": info.description,
            "size": len(unique),
            "chunks": len(chunks),
        }
        path = doc_path(self.index, _meta_id(info.id)) + "?refresh=wait_for"
        self._client.request("PUT", path, meta)
        for n in range(len(chunks), int((old or {}).get("chunks") or 0)):
            self._client.request(
                "DELETE", doc_path(self.index, _chunk_id(info.id, n)), allow=(404,)
            )

    def _delete(self, doc_id: str) -> None:
        self._client.request("DELETE", doc_path(self.index, doc_id), allow=(404,))

    def list_lists(self) -> list[ValueListInfo]:
        body = {"size": 10_000, "query": {"bool": {"filter": [{"term": {"kind": "list"}}]}},
                "sort": [{"list_id": {"order": "asc", "unmapped_type": "keyword"}}]}  # fmt: skip
        response = self._client.request(
            "POST", f"/{index_path([self.index])}/_search?{SEARCH_PARAMS}", body, allow=(404,)
        )
        if response.status != 200:
            return []
        hits = response.body.get("hits", {}).get("hits", [])
        return [_info(h["_source"]) for h in hits if (h.get("_source") or {}).get("kind") == "list"]

    def delete_list(self, list_id: str) -> bool:
        meta = self._meta(list_id)
        if meta is None:
            return False
        for n in range(int(meta.get("chunks") or 0)):
            self._client.request(
                "DELETE", doc_path(self.index, _chunk_id(list_id, n)), allow=(404,)
            )
        path = doc_path(self.index, _meta_id(list_id)) + "?refresh=wait_for"
        self._client.request("DELETE", path, allow=(404,))
        return True


def _info(doc: Mapping[str, Any]) -> ValueListInfo:
    return ValueListInfo(
        id=str(doc.get("list_id")),
        type=str(doc.get("type")),
        name=str(doc.get("name") or doc.get("list_id")),
        description=str(doc.get("description") or ""),
        size=int(doc.get("size") or 0),
    )
