"""Request validation against Elasticsearch's published OpenAPI document.

A small JSON Schema subset, as that document uses it: ``$ref``, ``allOf``, ``oneOf`` and
``anyOf`` (a value must fit one branch; the document's unions overlap, so "exactly one" is
not asked), ``type``, ``enum``, ``properties``/``required``, ``additionalProperties``,
``minProperties``/``maxProperties``, ``items``.  Objects are **closed**: an object schema with
``properties`` and no ``additionalProperties`` refuses any other key, so a misspelt or
invented option fails.  Operations are found by method and path template, and query-string
parameter names are checked against the operation's parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "number": (int, float),
    "integer": int,
    "null": type(None),
}


class OpenApi:
    def __init__(self, path: Path) -> None:
        self.doc = json.loads(path.read_text())
        self._names: dict[int, str] = {}
        self._memo: dict[tuple[int, int], tuple[Any, list[str]]] = {}
        self._templates = [
            (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$"), p)
            for p in self.doc["paths"]
        ]

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            node: Any = self.doc
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            self._names[id(node)] = name
            schema = node
        return schema

    def operation(self, method: str, path: str) -> Mapping[str, Any] | None:
        """The operation of ``method path``; the most literal template wins."""
        found = [t for rx, t in self._templates if rx.match(path)]
        found.sort(key=lambda t: t.count("{"))
        for template in found:
            op = self.doc["paths"][template].get(method.lower())
            if op is not None:
                return op
        return None

    def check(self, method: str, path: str, query: Mapping[str, str], body: Any) -> list[str]:
        """Problems with one request; empty when it fits the document."""
        self._memo: dict[tuple[int, int], tuple[Any, list[str]]] = {}
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in the OpenAPI document"]
        problems = []
        names = {self.resolve(p).get("name") for p in op.get("parameters", [])}
        for name in query:
            if name not in names:
                problems.append(f"{method} {path}: unknown query parameter [{name}]")
        if body is not None and not isinstance(body, list):  # NDJSON (_bulk) is not JSON
            request = op.get("requestBody")
            if request is None:
                if body:
                    problems.append(f"{method} {path}: the operation takes no body")
            else:
                content = self.resolve(request)["content"]
                schema = next(iter(content.values()))["schema"]
                problems += [f"{method} {path}: {p}" for p in self.validate(body, schema, "body")]
        return problems

    def validate(self, value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
        schema = self.resolve(schema)
        # Unions nest deeply (a bool query of bool queries...): each (schema, value) once.
        key = (id(schema), id(value))
        known = self._memo.get(key)
        if known is not None and known[0] is value:
            return known[1]
        problems = self._validate(value, schema, where)
        self._memo[key] = (value, problems)
        return problems

    def _validate(self, value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
        problems: list[str] = []
        if _user_defined(schema):
            return []  # the specification's "any value" (UserDefinedValue, params, _meta...)
        shortcut = SHORTCUTS.get(self._names.get(id(schema), ""))
        if shortcut is not None and not isinstance(value, dict | list):
            return self.validate(value, self._properties(schema)[shortcut], where)
        for part in schema.get("allOf", []):
            problems += self._open(value, self.resolve(part), where)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                branches = [self.validate(value, b, where) for b in schema[key]]
                if all(branches):
                    best = min(branches, key=len)
                    problems.append(f"{where}: fits no branch of {key} ({best[0]})")
        kind = schema.get("type")
        if kind is not None:
            expected = _TYPES.get(kind, object)
            ok = isinstance(value, expected) and not (
                kind in ("number", "integer") and isinstance(value, bool)
            )
            if kind == "integer" and isinstance(value, float) and value.is_integer():
                ok = True
            if not ok:
                return [*problems, f"{where}: expected {kind}, got {type(value).__name__}"]
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
        if isinstance(value, dict):
            problems += self._object(value, schema, where)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                problems += self.validate(item, schema["items"], f"{where}[{i}]")
        return problems

    def _open(self, value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
        """An ``allOf`` part: its own checks, but keys it lacks may belong to another part
        (and its ``maxProperties`` counts only its own keys: a variant container)."""
        problems = self.validate(value, schema, where)
        own = [k for k in value if k in self._properties(schema)] if isinstance(value, dict) else []
        limit = schema.get("maxProperties")
        kept = []
        for p in problems:
            mine = p.startswith(where + ":")
            if mine and ("unknown key" in p or "key(s) expected" in p):
                continue
            kept.append(p)
        if limit is not None and len(own) > limit:
            kept.append(f"{where}: at most {limit} of {sorted(self._properties(schema))}")
        return kept

    def _gap(self, schema: Mapping[str, Any]) -> dict[str, Any] | None:
        gap = SPEC_GAPS.get(self._names.get(id(schema), ""))
        for part in schema.get("allOf", []):
            gap = gap or self._gap(self.resolve(part))
        return gap

    def _properties(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Properties of the schema and of its ``allOf`` parts."""
        found = dict(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            found.update(self._properties(self.resolve(part)))
        return found

    def _object(self, value: dict[str, Any], schema: Mapping[str, Any], where: str) -> list[str]:
        problems = []
        properties = self._properties(schema)
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: [{key}] is required")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            problems.append(f"{where}: at least {schema['minProperties']} key(s) expected")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            problems.append(f"{where}: at most {schema['maxProperties']} key(s) expected")
        gap = self._gap(schema)
        for key, item in value.items():
            if (gap is not None and key in gap["keys"]) or (
                gap is not None and gap["keys"] == "*" and key not in properties
            ):
                problems += self.validate(item, gap["schema"], f"{where}.{key}")
            elif key in properties:
                problems += self.validate(item, properties[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                problems += self.validate(item, extra, f"{where}.{key}")
            elif extra is False or (extra is None and properties):
                problems.append(f"{where}: unknown key [{key}]")
        return problems


# The specification's ``@shortcut_property``: ``{"term": {"f": "v"}}`` is ``{"value": "v"}``.
# The OpenAPI rendering drops it; these are the ones runner's requests use.
SHORTCUTS = {
    "_types.query_dsl.TermQuery": "value",
    "_types.query_dsl.MatchQuery": "query",
    "_types.query_dsl.MatchPhraseQuery": "query",
    "_types.query_dsl.WildcardQuery": "value",
    "_types.query_dsl.PrefixQuery": "value",
    "_types.query_dsl.RegexpQuery": "value",
    "_types.SortOrder": None,
}
SHORTCUTS = {k: v for k, v in SHORTCUTS.items() if v}


_FIELD_SORT = {
    "type": "object",
    "properties": {
        "order": {"type": "string", "enum": ["asc", "desc"]},
        "unmapped_type": {"type": "string"},
        "missing": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "mode": {"type": "string", "enum": ["min", "max", "sum", "avg", "median"]},
        "numeric_type": {"type": "string"},
        "format": {"type": "string"},
    },
}
# Where the serverless rendering leaves out what Elasticsearch's specification has: a field
# name as a sort key (``{"@timestamp": {"order": "asc"}}``, ``FieldSort``) or as the key of a
# ``terms`` query, and the shard settings serverless manages itself.
SPEC_GAPS: dict[str, dict[str, Any]] = {
    "_types.SortOptions": {"keys": "*", "schema": {"oneOf": [
        _FIELD_SORT, {"type": "string", "enum": ["asc", "desc"]}]}},
    # ``{"terms": {"field": [values]}}``: the field key is not rendered.
    "_types.query_dsl.TermsQuery": {"keys": "*", "schema": {"type": "array", "items": {
        "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}}},
    "indices._types.IndexSettings": {"keys": {"number_of_shards", "number_of_replicas"},
                                     "schema": {"oneOf": [{"type": "integer"},
                                                          {"type": "string"}]}},
}  # fmt: skip


def _user_defined(schema: Mapping[str, Any]) -> bool:
    keys = set(schema) - {"description", "externalDocs", "x-state", "default", "title"}
    return keys == {"type"} and schema["type"] == "object"


@cache
def load(path: Path) -> OpenApi:
    return OpenApi(path)
