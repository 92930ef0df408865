"""KQL compiled to SQL through the query DSL Kibana would send for it.

Going through :func:`runner.kql.to_dsl` (which mirrors Kibana's compiler, quirks included) and
then :mod:`.dsl_sql`.  As Kibana does on a cluster, the KQL is compiled with the field types
of the store, taken from its field catalog (:func:`field_types`): string fields are ECS
``keyword`` fields, so a value is a case-sensitive ``term``, a wildcard value a ``wildcard``
query over the whole value (``*S3 Browser*`` is one pattern, not two ``query_string`` terms),
a value on a date field (``@timestamp``, fields whose values looked like dates) a ``range``,
and a field name with ``*`` is expanded to the fields it matches.  ``not`` matches documents
that lack the field (DSL is two-valued), and a value with no field is looked for in every
field.
"""

from __future__ import annotations

from datetime import datetime

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import DslCompiler
from runner.kql import to_dsl
from runner.kql.ast import Query
from runner.kql.fields import FieldTypes

__all__ = ["KqlCompiler", "field_types"]

_ES_TYPES = {"keyword": "keyword", "long": "long", "double": "double", "bool": "boolean"}


def field_types(catalog: Catalog) -> FieldTypes:
    """The store's fields as a data view sees them (strings are ECS keywords)."""
    types: dict[str, list[str]] = {}
    for name, info in catalog.fields.items():
        dated = name == "@timestamp" or info.ms_column is not None
        types[name] = ["date"] if dated else [_ES_TYPES.get(info.kind, "keyword")]
    return FieldTypes.from_types(types)


class KqlCompiler:
    def __init__(
        self,
        catalog: Catalog,
        *,
        query_text: str = "",
        now: datetime | None = None,
        timestamp_field: str = "@timestamp",
    ) -> None:
        self._dsl = DslCompiler(
            catalog, now=now, timestamp_field=timestamp_field, query_text=query_text
        )
        self._fields = field_types(catalog)

    def query(self, query: Query) -> str:
        """SQL true (never NULL) for events the KQL query matches; empty query matches all."""
        return self._dsl.query(to_dsl(query, self._fields))
