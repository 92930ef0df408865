"""Threshold rules (``type = "threshold"``), as Kibana's ``thresholdExecutor`` runs them.

1. The signal history: the rule's earlier alerts whose event time (``original_time``, the
   newest event of their group) lies after the window start, keyed by their
   ``threshold_result.terms``; each group's newest such time is its last signal.  Kibana keeps
   this in rule state, rebuilt from the same alerts on its first run; this runner rebuilds it
   from the alerts every run (state never holds alert data here), with the same result.
2. Groups at or over the threshold in the window, less the events an alerted group already
   counted (the history's bucket filter), page by page until no page is left or there are
   more than ``max_signals`` (then the cap warning, as Kibana).
3. One alert per group (:mod:`runner.alerts.threshold`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from runner.alerts.threshold import build_threshold_alert
from runner.backends.base import Backend
from runner.elastic.requests import NativeRequest
from runner.elastic.threshold import threshold_search
from runner.execution.candidates import AlertStamp, Candidate, CandidateBatch, Fresh
from runner.execution.model import Window
from runner.execution.rule_requests import rule_filters, rule_range
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule
from runner.search import SignalHistoryEntry, TermValue, ThresholdBucket, ThresholdRequest
from runner.timeutil import TimeParseError, parse_absolute, parse_datemath

HISTORY_SIZE = 10_000  # Kibana's buildPreviousThresholdAlertRequest size


def threshold_request(
    rule: Rule, start: datetime, end: datetime, history: tuple[SignalHistoryEntry, ...] = ()
) -> ThresholdRequest:
    threshold = rule.threshold
    assert threshold is not None
    first = threshold.cardinality[0] if threshold.cardinality else None
    return ThresholdRequest(
        query=rule.kql,
        fields=threshold.fields,
        value=threshold.value,
        time_range=rule_range(rule, start, end),
        indices=rule.index,
        filters=rule_filters(rule),
        cardinality_field=first.field if first else None,
        cardinality_value=first.value if first else 0,
        history=history,
    )


def signal_history(
    alerts: Sequence[Mapping[str, Any]], rule: Rule, start: datetime
) -> tuple[SignalHistoryEntry, ...]:
    """Kibana's ``buildThresholdSignalHistory`` over the rule's alerts for the same fields
    whose ``original_time`` lies after ``start`` (``getSignalHistory``)."""
    assert rule.threshold is not None
    latest: dict[tuple[tuple[str, TermValue], ...], datetime] = {}
    for alert in alerts:
        parameters = alert.get("kibana.alert.rule.parameters")
        fields = (parameters or {}).get("threshold", {}).get("field", [])
        if not isinstance(fields, list) or not all(f in fields for f in rule.threshold.fields):
            continue
        result = alert.get("kibana.alert.threshold_result")
        terms = result.get("terms") if isinstance(result, Mapping) else None
        when = _time(alert.get("kibana.alert.original_time"))
        if not isinstance(terms, list) or when is None or when <= start:
            continue
        pairs: list[tuple[str, TermValue]] = [
            (str(t.get("field")), t["value"])
            for t in terms
            if isinstance(t, Mapping) and isinstance(t.get("value"), str | int | float | bool)
        ]
        key = tuple(sorted(pairs, key=lambda p: (p[0], str(p[1]))))
        if key not in latest or when > latest[key]:
            latest[key] = when
    return tuple(SignalHistoryEntry(terms=k, last_signal=v) for k, v in latest.items())


class ThresholdKind:
    name = "threshold"

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        earlier = backend.list_alerts(
            rule_ids=[rule.rule_id], since=window.start, limit=HISTORY_SIZE
        )
        history = signal_history(earlier, rule, window.start)
        request = threshold_request(rule, window.start, window.end, history)
        buckets: list[ThresholdBucket] = []
        while True:
            page = backend.threshold_buckets(request)
            buckets += page.buckets
            if page.after is None or len(buckets) > rule.max_signals:
                break
            request = replace(request, after=page.after)
        found = [
            build_threshold_alert(rule, bucket, window_start=window.start, **stamp.kwargs())
            for bucket in buckets[: rule.max_signals + 1]
        ]
        kept = fresh([Candidate(id=a["kibana.alert.uuid"], documents=(a,)) for a in found])
        return CandidateBatch(candidates=tuple(kept), more=len(buckets) > rule.max_signals)

    def explain(
        self, rule: Rule, end: datetime, fields: FieldTypes | None = None
    ) -> list[NativeRequest]:
        """The first page's request, before any signal history (it adds one ``must_not``
        entry per group alerted since the window start)."""
        start = parse_datemath(rule.from_, end)
        return [threshold_search(threshold_request(rule, start, end), fields)]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_absolute(value)
    except TimeParseError:
        return None


THRESHOLD = ThresholdKind()
