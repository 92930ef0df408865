"""The field types KQL is compiled with, as a Kibana data view holds them.

Kibana's detection engine compiles a rule's KQL with the fields of its index patterns loaded
(``getQueryFilterLoadFields``: ``queryToFields`` then ``buildEsQuery``), so the clause per
field depends on the field's type.  :class:`FieldTypes` is that list: each field's
Elasticsearch types across the indices (``esTypes``), its Kibana type (``string``, ``date``,
``number``, ``boolean``, ``ip``, ... or ``conflict`` when the indices disagree) and the path
of the ``nested`` object it sits in, if any.  Built from a ``_field_caps`` answer on a cluster
and from the embedded store's field catalog.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.kql.ast import (
    And,
    Exists,
    FieldMatch,
    Nested,
    Node,
    Not,
    Or,
    Query,
    Range,
)

__all__ = ["FieldType", "FieldTypes", "kibana_type", "query_fields"]

_KIBANA_TYPES = {
    **dict.fromkeys(
        (
            "keyword",
            "text",
            "match_only_text",
            "wildcard",
            "constant_keyword",
            "version",
            "flattened",
            "semantic_text",
        ),
        "string",
    ),
    **dict.fromkeys(("date", "date_nanos"), "date"),
    **dict.fromkeys(
        (
            "long",
            "integer",
            "short",
            "byte",
            "double",
            "float",
            "half_float",
            "scaled_float",
            "unsigned_long",
            "token_count",
        ),
        "number",
    ),
    "boolean": "boolean",
    "ip": "ip",
    "geo_point": "geo_point",
    "geo_shape": "geo_shape",
    "nested": "nested",
    "binary": "binary",
}
_SKIPPED = {"object", "unmapped"}


def kibana_type(es_types: Iterable[str]) -> str:
    """Kibana's field type for the Elasticsearch types a field has across indices."""
    kinds = {_KIBANA_TYPES.get(t, "unknown") for t in es_types}
    if not kinds:
        return "unknown"
    return kinds.pop() if len(kinds) == 1 else "conflict"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldType:
    name: str
    es_types: tuple[str, ...]
    type: str  # Kibana's: string, date, number, boolean, ip, conflict, ...
    nested_path: str | None = None

    @property
    def is_keyword(self) -> bool:
        """Kibana's ``isKeywordField``: exactly one Elasticsearch type, ``keyword``."""
        return self.es_types == ("keyword",)


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldTypes:
    """A data view's fields (multi-fields included, objects left out), by name."""

    fields: Mapping[str, FieldType] = field(default_factory=dict)

    def get(self, name: str) -> FieldType | None:
        return self.fields.get(name)

    def matching(self, pattern: str) -> list[FieldType]:
        """Kibana's ``getFields`` for a wildcard name (``*`` matches any run, dots too)."""
        return [f for n, f in sorted(self.fields.items()) if fnmatch.fnmatchcase(n, pattern)]

    @classmethod
    def from_types(
        cls, types: Mapping[str, Iterable[str]], nested: Iterable[str] = ()
    ) -> FieldTypes:
        """``{field: [Elasticsearch types]}``; ``nested`` names the nested object paths."""
        paths = sorted(nested, key=len, reverse=True)
        out: dict[str, FieldType] = {}
        for name, raw in types.items():
            es_types = tuple(sorted(t for t in raw if t not in _SKIPPED))
            if not es_types or es_types == ("nested",):
                continue
            inside = next((p for p in paths if name.startswith(f"{p}.")), None)
            out[name] = FieldType(
                name=name, es_types=es_types, type=kibana_type(es_types), nested_path=inside
            )
        return cls(fields=out)

    @classmethod
    def from_field_caps(cls, body: Mapping[str, Any]) -> FieldTypes:
        """From a ``_field_caps`` answer (``{"fields": {name: {type: caps}}}``)."""
        raw = body.get("fields") if isinstance(body, Mapping) else None
        types: dict[str, list[str]] = {}
        nested: list[str] = []
        for name, caps in (raw or {}).items():
            if not isinstance(caps, Mapping):
                continue
            types[str(name)] = [str(t) for t in caps]
            if "nested" in caps:
                nested.append(str(name))
        return cls.from_types(types, nested)


def query_fields(query: Query) -> list[str]:
    """The field names (and name patterns) a KQL query refers to, for ``_field_caps``."""
    found: list[str] = []

    def walk(node: Node, prefix: str) -> None:
        match node:
            case And(terms=terms) | Or(terms=terms):
                for term in terms:
                    walk(term, prefix)
            case Not(node=child):
                walk(child, prefix)
            case Nested(path=path, query=child):
                walk(child, f"{prefix}{path}.")
            case Exists(field=name) | Range(field=name):
                found.append(f"{prefix}{name}")
            case FieldMatch(field=name) if name is not None:
                found.append(f"{prefix}{name}")

    if query.node is not None:
        walk(query.node, "")
    return list(dict.fromkeys(found))
