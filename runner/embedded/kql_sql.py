"""KQL compiled to SQL through the query DSL Kibana would send for it.

Going through :func:`runner.kql.to_dsl` (which mirrors Kibana's compiler, quirks included) and
then :mod:`.dsl_sql` gives exactly the results the rule's DSL would give on keyword fields:
``match`` is exact and case-sensitive, wildcard values run as case-sensitive ``query_string``
terms, ``not`` matches documents that lack the field (DSL is two-valued), and a value with no
field is looked for in every field.
"""

from __future__ import annotations

from datetime import datetime

from runner.embedded.catalog import Catalog
from runner.embedded.dsl_sql import DslCompiler
from runner.kql import to_dsl
from runner.kql.ast import Query

__all__ = ["KqlCompiler"]


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

    def query(self, query: Query) -> str:
        """SQL true (never NULL) for events the KQL query matches; empty query matches all."""
        return self._dsl.query(to_dsl(query))
