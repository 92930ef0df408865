"""A rule's backend-neutral search requests for one window.

The execution core sends these, and ``runner rules show --explain`` renders the same ones as
Elasticsearch bodies, so what an operator reads is what runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runner.rules.model import Rule
from runner.search import EqlRequest, KqlRequest, TermsQuery, TimeRange

DEFAULT_EVENT_CATEGORY = "event.category"


def rule_range(rule: Rule, start: datetime | None, end: datetime | None) -> TimeRange:
    """The window on ``timestamp_override`` with Kibana's fallback to ``@timestamp``."""
    if rule.timestamp_override:
        return TimeRange(field=rule.timestamp_override, fallback="@timestamp", start=start, end=end)
    return TimeRange(field=rule.timestamp_field, start=start, end=end)


def rule_filters(rule: Rule) -> tuple[dict[str, Any], ...]:
    """Enabled rule filters as DSL; negated ones wrapped in ``must_not``."""
    return tuple(
        {"bool": {"must_not": [dict(f.query)]}} if f.negate else dict(f.query)
        for f in rule.filters
        if not f.disabled
    )


def eql_request(rule: Rule, start: datetime, end: datetime) -> EqlRequest:
    return EqlRequest(
        query=rule.eql,
        indices=rule.index,
        time_range=rule_range(rule, start, end),
        size=rule.max_signals,
        timestamp_field=rule.timestamp_field,
        tiebreaker_field=rule.tiebreaker_field,
        event_category_field=rule.event_category_override or DEFAULT_EVENT_CATEGORY,
        filters=rule_filters(rule),
    )


MAX_PAGE = 10_000  # Elasticsearch's index.max_result_window bounds one page


def kql_request(rule: Rule, start: datetime, end: datetime) -> KqlRequest:
    """A query rule's search, oldest first, in pages of ``max_signals`` documents."""
    return KqlRequest(
        query=rule.kql,
        indices=rule.index,
        time_range=rule_range(rule, start, end),
        size=min(rule.max_signals, MAX_PAGE),
        timestamp_field=rule.timestamp_override or rule.timestamp_field,
        filters=rule_filters(rule),
    )


def terms_query(rule: Rule) -> TermsQuery:
    """What a new_terms rule's three phases share."""
    assert rule.new_terms is not None
    return TermsQuery(
        query=rule.kql,
        fields=rule.new_terms.fields,
        indices=rule.index,
        timestamp_override=rule.timestamp_override,
        filters=rule_filters(rule),
    )
