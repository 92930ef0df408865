"""Indicator match rules (``type = "threat_match"``), as Kibana's ``createThreatSignals``.

Kibana walks whichever side is smaller; this runner always walks the indicators (Kibana's
threat-first path), which finds the same events:

1. Indicators matching the threat query, the threat filters and the mapping's ``exists``
   filter are read page by page (``items_per_search`` at a time; a point in time on a
   cluster), so memory holds one page, not the indicator set.
2. Per page, the events matching the rule's query, filters, window, the mapping's ``exists``
   filter and the page's threat mapping filter are searched, ``max_signals`` a page, newest
   first (Kibana's order without suppression: the cap keeps the newest).
3. Each new event is enriched with every indicator it matches (a second indicator search
   built from the events' values, as Kibana's ``buildThreatEnrichment``); events without a
   complete match are dropped; the others become alerts carrying ``threat.enrichments``, with
   the ids of query-rule alerts (one alert per event, so overlapping windows never alert an
   event twice).
4. Stop when no page is left or more than ``max_signals`` alerts were found (the cap warning).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing
from datetime import datetime
from typing import Any

from runner.alerts import build_event_alert, descends_from_rule
from runner.backends.base import Backend
from runner.elastic.indicators import PIT_PLACEHOLDER, indicator_search, open_pit_request
from runner.elastic.requests import NativeRequest, kql_request
from runner.execution.candidates import AlertStamp, Candidate, CandidateBatch, Fresh
from runner.execution.model import Window
from runner.execution.rule_requests import rule_filters, rule_range
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule, ThreatMatch
from runner.search import Hit, KqlRequest
from runner.threatmatch.enrich import collect_enrichments, enriched_source, indicator_request
from runner.threatmatch.mapping import (
    event_mapping_filter,
    events_filter,
    indicator_mapping_filter,
    indicators_filter,
)
from runner.timeutil import parse_datemath

ENRICH_PAGE = 1000  # Kibana's INDICATOR_PER_PAGE for the enrichment search


def threat_filters(threat: ThreatMatch) -> tuple[Mapping[str, Any], ...]:
    enabled = tuple(
        {"bool": {"must_not": [dict(f.query)]}} if f.negate else dict(f.query)
        for f in threat.filters
        if not f.disabled
    )
    return (*enabled, indicator_mapping_filter(threat.mapping))


def events_request(
    rule: Rule, start: datetime, end: datetime, match: Mapping[str, Any]
) -> KqlRequest:
    assert rule.threat_match is not None
    return KqlRequest(
        query=rule.kql,
        indices=rule.index,
        time_range=rule_range(rule, start, end),
        size=rule.max_signals,
        timestamp_field=rule.timestamp_override or rule.timestamp_field,
        filters=(*rule_filters(rule), event_mapping_filter(rule.threat_match.mapping), match),
        descending=True,  # Kibana's sortOrder for indicator match without suppression
    )


class IndicatorMatchKind:
    name = "threat_match"

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        threat = rule.threat_match
        assert threat is not None
        seen: set[tuple[str, str]] = set()
        kept: list[Candidate] = []
        request = indicator_request(
            threat, threat_filters(threat), threat.items_per_search, window.end
        )
        # Closing the pages releases the point in time; it never raises over another error.
        with closing(backend.indicator_pages(request)) as pages:
            for indicators in pages:
                match = indicators_filter(threat.mapping, indicators)
                if match is None:
                    continue
                events = backend.query_pages(events_request(rule, window.start, window.end, match))
                with closing(events):
                    for page in events:
                        new = [h for h in page.hits if (h.index, h.id) not in seen]
                        seen.update((h.index, h.id) for h in new)
                        kept += fresh(self._alerts(backend, rule, new, window, stamp))
                        if len(kept) > rule.max_signals:
                            break
                if len(kept) > rule.max_signals:
                    break
        return CandidateBatch(candidates=tuple(kept))

    def _alerts(
        self, backend: Backend, rule: Rule, events: list[Hit], window: Window, stamp: AlertStamp
    ) -> list[Candidate]:
        threat = rule.threat_match
        assert threat is not None
        if not events:
            return []
        from_events = events_filter(threat.mapping, events)
        if from_events is None:
            return []
        request = indicator_request(
            threat, (*threat_filters(threat), from_events), ENRICH_PAGE, window.end
        )
        found = collect_enrichments(backend.indicator_pages(request), threat, events)
        candidates = []
        for event in events:
            enrichments = found.get((event.index, event.id))
            if not enrichments:
                continue  # no complete match (validateCompleteThreatMatches)
            hit = Hit(
                index=event.index, id=event.id, source=enriched_source(event.source, enrichments)
            )
            alert = build_event_alert(rule, hit, **stamp.kwargs())
            if descends_from_rule(alert, rule):
                continue  # Kibana's wrapHits: never an alert on the rule's own alert
            candidates.append(Candidate(id=alert["kibana.alert.uuid"], documents=(alert,)))
        return candidates

    def explain(
        self,
        rule: Rule,
        end: datetime,
        fields: FieldTypes | None = None,
        threat_fields: FieldTypes | None = None,
    ) -> list[NativeRequest]:
        """The point in time, the first indicator page, and the event search for a page
        (its threat mapping filter shown with a placeholder indicator value).  The rule's
        query is compiled with ``fields`` (its indices' types), the threat query with
        ``threat_fields`` (the threat indices'), when given."""
        threat = rule.threat_match
        assert threat is not None
        start = parse_datemath(rule.from_, end)
        request = indicator_request(threat, threat_filters(threat), threat.items_per_search, end)
        placeholder = [
            Hit(index="<threat index>", id="<indicator id>", source=_placeholder(threat))
        ]
        match = indicators_filter(threat.mapping, placeholder) or {"match_none": {}}
        events = kql_request(events_request(rule, start, end, match), fields=fields)
        return [
            open_pit_request(threat.index),
            indicator_search(request, PIT_PLACEHOLDER, fields=threat_fields),
            NativeRequest(
                method=events.method,
                path=events.path,
                body=events.body,
                description="indicator match: events matching one page of indicators "
                "(values shown as placeholders)",
            ),
        ]


def _placeholder(threat: ThreatMatch) -> dict[str, Any]:
    return {e.value: f"<{e.value}>" for block in threat.mapping for e in block}


INDICATOR_MATCH = IndicatorMatchKind()
