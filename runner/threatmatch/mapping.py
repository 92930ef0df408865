"""``threat_mapping``: which events match which indicators, as Kibana's filters decide.

A mapping is a list of blocks; the entries of a block are ANDed (each ``field`` of the event
equals the indicator's ``value`` field) and the blocks ORed.  Kibana's pieces, as data:

- ``getMappingFilters``: events must have every (non-negated) ``field`` of some block, and
  indicators every ``value`` field of some block (an ``exists`` per entry, ``should`` over
  blocks).
- ``buildThreatMappingFilter`` with ``entryKey: "value"``: the event query for a page of
  indicators.  An indicator takes part in a block only when each entry's value field holds
  exactly one value; a one-entry block becomes one ``terms`` query over the page's values (as
  Kibana sends for keyword, ip and wildcard fields), a longer block one ``bool.filter`` of
  ``match`` clauses per indicator.
- The same with ``entryKey: "field"``: the indicator query for a batch of events (enrichment).
- ``validateCompleteThreatMatches``: an event matches an indicator for a block only when every
  entry of the block matched that same indicator.  A ``negate`` entry must *not* match; it
  takes no part in the search filters and brings no enrichment.

Values compare as Elasticsearch compares a ``keyword`` term (exact text; numbers and booleans
by their text), the embedded engine's semantics for ``match`` and ``terms``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.docfields import field_values
from runner.rules.model import ThreatMappingEntry
from runner.search import Hit

Block = tuple[ThreatMappingEntry, ...]
Dsl = dict[str, Any]

__all__ = [
    "event_mapping_filter",
    "events_filter",
    "indicator_mapping_filter",
    "indicators_filter",
    "matched_entries",
    "values_at",
]


# A field's values as the fields API returns them: the same reader as exceptions and suppression.
values_at = field_values


def event_mapping_filter(mapping: Sequence[Block]) -> Dsl:
    return _exists_filter(mapping, lambda e: e.field)


def indicator_mapping_filter(mapping: Sequence[Block]) -> Dsl:
    return _exists_filter(mapping, lambda e: e.value)


def _exists_filter(mapping: Sequence[Block], name: Any) -> Dsl:
    return {
        "bool": {
            "should": [
                {"bool": {"must": [{"exists": {"field": name(e)}} for e in b if not e.negate]}}
                for b in mapping
            ]
        }
    }


def indicators_filter(mapping: Sequence[Block], indicators: Sequence[Hit]) -> Dsl | None:
    """The event query for a page of indicators (None: no indicator can match)."""
    return _mapping_filter(mapping, indicators, own=lambda e: e.value, other=lambda e: e.field)


def events_filter(mapping: Sequence[Block], events: Sequence[Hit]) -> Dsl | None:
    """The indicator query for a batch of events (None: no event can match)."""
    return _mapping_filter(mapping, events, own=lambda e: e.field, other=lambda e: e.value)


def _mapping_filter(
    mapping: Sequence[Block], items: Sequence[Hit], *, own: Any, other: Any
) -> Dsl | None:
    should: list[Dsl] = []
    for full in mapping:
        block = tuple(e for e in full if not e.negate)  # a negated entry narrows nothing here
        if not block:
            continue
        if len(block) == 1:
            (entry,) = block
            values = [v[0] for item in items if len(v := values_at(item.source, own(entry))) == 1]
            if values:
                should.append({"terms": {other(entry): list(dict.fromkeys(values))}})
            continue
        for item in items:
            single = [values_at(item.source, own(e)) for e in block]
            if any(len(v) != 1 for v in single):
                continue
            should.append(
                {
                    "bool": {
                        "filter": [
                            {"bool": {"should": [{"match": {other(e): {"query": v[0]}}}],
                                      "minimum_should_match": 1}}
                            for e, v in zip(block, single, strict=True)
                        ]
                    }
                }
            )  # fmt: skip
    if not should:
        return None
    return {"bool": {"should": should, "minimum_should_match": 1}}


def matched_entries(
    mapping: Sequence[Block], event: Mapping[str, Any], indicator: Mapping[str, Any]
) -> list[ThreatMappingEntry]:
    """The entries through which ``indicator`` matches ``event``: those of every block whose
    entries all match (an entry matches when the indicator's single value is among the event's
    values); empty when no block matches completely."""
    found: list[ThreatMappingEntry] = []
    for block in mapping:
        if all(_entry_matches(entry, event, indicator) for entry in block):
            found += [e for e in block if e not in found and not e.negate]
    return found


def _entry_matches(
    entry: ThreatMappingEntry, event: Mapping[str, Any], indicator: Mapping[str, Any]
) -> bool:
    wanted = values_at(indicator, entry.value)
    if len(wanted) != 1:
        return False
    have = {_text(v) for v in values_at(event, entry.field)}
    return (_text(wanted[0]) in have) != entry.negate


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
