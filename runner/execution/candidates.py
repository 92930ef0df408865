"""Turn one rule window into alert candidates, per rule type, through backend primitives.

A candidate is one countable alert (an event alert, a new-term alert, or a sequence shell)
with the documents it writes (a shell brings its building blocks).  ``more`` says the search
saw more matches than it returned (a full page), which Kibana reports as hitting the cap.

A rule that reads alert indices never feeds on its own output: an alert whose ancestors
include the rule itself is dropped before dedupe, as Kibana's ``wrapHits`` (query, EQL events,
indicator match) and ``buildAlertGroupFromSequence`` (EQL sequences) drop it.  new_terms,
threshold and ES|QL rules do not filter in Kibana, and do not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.alerts import (
    build_event_alert,
    build_new_terms_alert,
    build_sequence_alerts,
    descends_from_rule,
)
from runner.backends.base import Backend
from runner.execution.model import Window
from runner.execution.rule_requests import eql_request, kql_request, rule_range, terms_query
from runner.rules.model import Rule
from runner.search import (
    FirstSeenRequest,
    Hit,
    TermDocumentsRequest,
    TermsPageRequest,
    TermsQuery,
    TimeRange,
)
from runner.timeutil import parse_datemath


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertStamp:
    """When alerts are made: ``created`` is the wall clock (the alert's ``@timestamp``);
    ``intended`` the logical time a manual run (replay, backfill) stands in for."""

    created: datetime
    intended: datetime | None = None
    execution_id: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {
            "now": self.created,
            "intended_timestamp": self.intended,
            "execution_uuid": self.execution_id,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    id: str
    documents: tuple[dict[str, Any], ...]  # the counted alert first
    # The source event(s) the alert was built from (post-search exceptions, suppression).
    sources: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class CandidateBatch:
    candidates: tuple[Candidate, ...]
    more: bool = False  # the search hit its size limit: matches may remain unseen
    partial_reason: str | None = None  # the backend answered from part of the data
    warnings: tuple[str, ...] = ()  # the rule type's own warnings (partial failure)
    requests: int = 1  # searches sent (Kibana's ES|QL executor warns once per request)


# Drops candidates whose alert already exists, so re-found events never use up the cap.
Fresh = Callable[[list[Candidate]], list[Candidate]]


def window_range(rule: Rule, window: Window) -> TimeRange:
    return rule_range(rule, window.start, window.end)


def eql_candidates(
    backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
) -> CandidateBatch:
    result = backend.search_eql(eql_request(rule, window.start, window.end))
    found: list[Candidate] = []
    for hit in result.events:
        alert = build_event_alert(rule, hit, **stamp.kwargs())
        if descends_from_rule(alert, rule):
            continue
        found.append(
            Candidate(id=alert["kibana.alert.uuid"], documents=(alert,), sources=(hit.source,))
        )
    for match in result.sequences:
        group = build_sequence_alerts(rule, match, **stamp.kwargs())
        if group.descends_from(rule):
            continue
        shell, blocks = group
        sources = tuple(e.source for e in match.events if isinstance(e, Hit))
        found.append(
            Candidate(id=shell["kibana.alert.uuid"], documents=(shell, *blocks), sources=sources)
        )
    returned = len(result.events) + len(result.sequences)
    partial = (
        (result.partial_reason or "the search returned partial results")
        if result.is_partial
        else None
    )
    return CandidateBatch(
        candidates=tuple(fresh(found)),
        more=returned >= rule.max_signals,
        partial_reason=partial,
    )


def query_candidates(
    backend: Backend,
    rule: Rule,
    window: Window,
    stamp: AlertStamp,
    fresh: Fresh,
    cap: int | None = None,
) -> CandidateBatch:
    """Pages oldest first until more than ``cap`` (default ``max_signals``) fresh candidates
    or no more hits (a point in time with ``search_after`` on a cluster, as Kibana's
    ``searchAfterAndBulkCreate``).  Suppression groups every match, so it asks for all."""
    limit = rule.max_signals if cap is None else cap
    kept: list[Candidate] = []
    reasons: list[str] = []
    with closing(backend.query_pages(kql_request(rule, window.start, window.end))) as pages:
        for page in pages:
            if page.partial_reason and page.partial_reason not in reasons:
                reasons.append(page.partial_reason)
            built = [(build_event_alert(rule, hit, **stamp.kwargs()), hit) for hit in page.hits]
            built = [(a, hit) for a, hit in built if not descends_from_rule(a, rule)]
            kept += fresh(
                [
                    Candidate(id=a["kibana.alert.uuid"], documents=(a,), sources=(hit.source,))
                    for a, hit in built
                ]
            )
            if len(kept) > limit:
                break
    return CandidateBatch(candidates=tuple(kept), partial_reason="; ".join(reasons) or None)


def new_terms_candidates(
    backend: Backend,
    rule: Rule,
    window: Window,
    stamp: AlertStamp,
    fresh: Fresh,
    cap: int | None = None,
) -> CandidateBatch:
    """Kibana's three phases, page by page, until the cap (default ``max_signals``) is
    passed or no page is left."""
    limit = rule.max_signals if cap is None else cap
    assert rule.new_terms is not None
    terms = terms_query(rule)
    in_window = window_range(rule, window)
    history = TimeRange(
        field=in_window.field,
        fallback=in_window.fallback,
        start=parse_datemath(rule.new_terms.history_window_start, window.end),
        end=window.end,
    )
    kept: list[Candidate] = []
    reasons: list[str] = []
    for keys in _term_pages(backend, terms, in_window, reasons):
        first = backend.first_seen(
            FirstSeenRequest(terms=terms, time_range=history, keys=keys, new_after=window.start)
        )
        # New: the earliest occurrence lies strictly after the window start (SEMANTICS §4).
        new_keys = tuple(k for k in keys if k in first and first[k] > window.start)
        if not new_keys:
            continue
        docs = backend.term_documents(
            TermDocumentsRequest(terms=terms, time_range=in_window, keys=new_keys)
        )
        page = [
            Candidate(
                id=(alert := build_new_terms_alert(rule, docs[key], key, **stamp.kwargs()))[
                    "kibana.alert.uuid"
                ],
                documents=(alert,),
                sources=(docs[key].source,),
            )
            for key in new_keys
            if key in docs
        ]
        kept += fresh(page)
        if len(kept) > limit:
            break
    return CandidateBatch(candidates=tuple(kept), partial_reason="; ".join(reasons) or None)


def _term_pages(
    backend: Backend, terms: TermsQuery, time_range: TimeRange, reasons: list[str]
) -> Iterator[tuple[Any, ...]]:
    """The window's term pages; why any page was partial is added to ``reasons``."""
    after = None
    while True:
        page = backend.terms_page(TermsPageRequest(terms=terms, time_range=time_range, after=after))
        if page.partial_reason and page.partial_reason not in reasons:
            reasons.append(page.partial_reason)
        if page.keys:
            yield page.keys
        if page.after is None:
            return
        after = page.after
