"""``threat.enrichments``: the indicators each alerted event matched, as Kibana records them.

For a batch of events, the indicator query is built from the events' values
(:func:`~runner.threatmatch.mapping.events_filter`) and every indicator it finds is checked
against every event (complete blocks only).  Each matching (indicator, entry) becomes one
enrichment, at most 200 per event (Kibana's ``MAX_NUMBER_OF_SIGNAL_MATCHES``)::

    {"feed": {"name": <threat.feed.name>} or {},
     "indicator": <first value at threat_indicator_path, an object>,
     "matched": {"atomic": <the event's value of the field>, "field": <event field>,
                 "id": <indicator _id>, "index": <indicator _index>,
                 "type": "indicator_match_rule"}}

and the event's ``threat.enrichments`` (existing ones first) carries them on the alert.  Events
without a complete match are not alerted (Kibana's ``validateCompleteThreatMatches``).
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Mapping, Sequence
from contextlib import closing
from typing import Any

from runner.alerts.fields import lodash_get
from runner.rules.model import ThreatMappingEntry, ThreatMatch
from runner.search import Hit, IndicatorRequest
from runner.threatmatch.mapping import matched_entries

MAX_MATCHES = 200
ENRICHMENT_TYPE = "indicator_match_rule"
FEED_NAME_PATH = "threat.feed.name"

__all__ = ["collect_enrichments", "enriched_source", "enrichment"]

Key = tuple[str, str]


def collect_enrichments(
    pages: Generator[tuple[Hit, ...], None, None],
    threat: ThreatMatch,
    events: Sequence[Hit],
) -> dict[Key, list[dict[str, Any]]]:
    """Walk the indicator pages (closing them at the end) and gather each event's
    enrichments, stopping once every event has the maximum."""  # fmt: skip
    found: dict[Key, list[dict[str, Any]]] = {}
    with closing(pages):
        for page in pages:
            for indicator in page:
                for event in events:
                    key = (event.index, event.id)
                    have = found.setdefault(key, [])
                    for entry in matched_entries(threat.mapping, event.source, indicator.source):
                        if len(have) < MAX_MATCHES:
                            have.append(enrichment(threat, event, indicator, entry))
            if all(len(found.get((e.index, e.id), [])) >= MAX_MATCHES for e in events):
                break
    return {key: items for key, items in found.items() if items}


def enrichment(
    threat: ThreatMatch, event: Hit, indicator: Hit, entry: ThreatMappingEntry
) -> dict[str, Any]:
    value = lodash_get(indicator.source, threat.indicator_path)
    first = value[0] if isinstance(value, list) and value else value
    feed = lodash_get(indicator.source, FEED_NAME_PATH)
    matched: dict[str, Any] = {}
    atomic = lodash_get(event.source, entry.field)
    if atomic is not None:
        matched["atomic"] = atomic
    matched.update(field=entry.field, id=indicator.id, index=indicator.index, type=ENRICHMENT_TYPE)
    return {
        "feed": {"name": feed} if feed else {},
        "indicator": copy.deepcopy(first) if isinstance(first, Mapping) else {},
        "matched": matched,
    }


def enriched_source(source: Mapping[str, Any], enrichments: list[dict[str, Any]]) -> dict[str, Any]:
    """The event's ``_source`` with ``threat.enrichments`` extended (Kibana's
    ``enrichSignalWithThreatMatches``)."""
    threat = source.get("threat")
    threat = dict(threat) if isinstance(threat, Mapping) else {}
    existing = lodash_get(source, "threat.enrichments")
    before = existing if isinstance(existing, list) else ([] if existing is None else [existing])
    return {**source, "threat": {**threat, "enrichments": [*before, *enrichments]}}


def indicator_request(
    threat: ThreatMatch, filters: tuple[Mapping[str, Any], ...], size: int, now: Any
) -> IndicatorRequest:
    return IndicatorRequest(
        query=threat.parsed, indices=threat.index, filters=filters, size=size, now=now
    )
