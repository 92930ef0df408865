"""The suppression stage of an execution: instead of writing one alert per candidate, group
candidates by their ``group_by`` values and create or update one alert per group.

eql (events and sequences), new_terms and esql rules suppress in memory, as Kibana's
``bulkCreateSuppressedAlertsInMemory`` / ``bulkCreateSuppressedSequencesInMemory`` (esql
candidates arrive wrapped by their rule type, and count against 1 x ``max_signals``); query rules
group like Kibana's aggregation (:mod:`runner.suppression.buckets`).  Both then go through
:func:`~runner.suppression.memory.alert_with_suppression` against the stored alerts (with a
duration), or create per execution.  Everything the stage reads back lives in the alerts
themselves, so it survives a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.alerts.ids import alert_id_for_bucket, suppression_instance_id
from runner.backends.base import Backend
from runner.execution.candidates import Candidate
from runner.execution.model import Window
from runner.rules.model import Rule
from runner.suppression.buckets import Member, group, history_excludes, keys_of
from runner.suppression.memory import Suppressible, alert_with_suppression
from runner.suppression.model import (
    MAX_SIGNALS_SUPPRESSION_MULTIPLIER,
    SUPPRESSION_MAX_SIGNALS_WARNING,
    AlertSuppression,
)
from runner.suppression.select import latest_by_instance
from runner.suppression.terms import (
    ALERT_START,
    DOCS_COUNT,
    INSTANCE_ID,
    LAST_DETECTED,
    TERMS,
    event_time,
    has_every_field,
    suppression_fields,
    suppression_terms,
)
from runner.timeutil import isoformat, parse_absolute

if TYPE_CHECKING:
    from runner.notify.model import NotifyHook

# Rule types whose candidates come wrapped with their suppression fields (Kibana's
# wrapSuppressedEsqlAlerts); a candidate left unwrapped is not suppressible (doNotSuppress).
WRAPPED_BY_TYPE = frozenset({"esql"})
# Created plus suppressed alerts may reach this many times max_signals; ES|QL, which has no
# paging, passes 1 (Kibana's maxNumberOfAlertsMultiplier).
_MULTIPLIER = {"esql": 1}

# The notifications to queue with a write of these alert documents (None: none).
HookFor = Callable[[list[dict[str, Any]]], "NotifyHook | None"]


@dataclass(kw_only=True)
class SuppressedWrite:
    created: int = 0
    duplicates: int = 0
    suppressed: int = 0
    updated: int = 0
    truncated: bool = False
    failed: list[tuple[str, str]] = field(default_factory=list)
    # How created alerts queue their notifications (not an outcome: set by write_suppressed).
    hook_for: HookFor | None = field(default=None, repr=False, compare=False)

    @property
    def warning(self) -> str | None:
        return SUPPRESSION_MAX_SIGNALS_WARNING if self.truncated else None


def write_suppressed(
    backend: Backend,
    rule: Rule,
    candidates: Sequence[Candidate],
    *,
    window: Window,
    now: datetime,
    execution_id: str,
    hook_for: HookFor | None = None,
) -> SuppressedWrite:
    spec = rule.alert_suppression
    assert spec is not None
    out = SuppressedWrite(hook_for=hook_for)
    primary = rule.timestamp_override or rule.timestamp_field
    secondary = "@timestamp" if rule.timestamp_override else None
    if rule.type == "query":
        suppressible = _buckets(backend, rule, spec, candidates, window, out, primary, secondary)
    else:
        keep: list[Candidate] = []
        plain: list[Candidate] = []
        for candidate in candidates:
            if rule.type in WRAPPED_BY_TYPE:
                wrapped = INSTANCE_ID in candidate.documents[0]
                (keep if wrapped else plain).append(candidate)
            elif spec.missing_fields_strategy == "doNotSuppress" and not has_every_field(
                _term_source(candidate), spec.group_by
            ):
                plain.append(candidate)
            else:
                keep.append(candidate)
        _create_plain(backend, plain, rule.max_signals, out)
        suppressible = [
            Suppressible(id=c.id, documents=c.documents)
            if rule.type in WRAPPED_BY_TYPE
            else _in_memory(rule, spec, c, primary, secondary)
            for c in keep
        ]
    _stamp(suppressible, now, execution_id)
    window_start = now - spec.duration.as_timedelta() if spec.duration else window.start
    if rule.type == "query" and spec.per_execution:
        _create(backend, suppressible, out)
        out.suppressed += sum(
            int(s.alert["kibana.alert.suppression.docs_count"]) for s in suppressible
        )
    else:
        found = backend.suppression_alerts(rule.rule_id, started_since=window_start)
        wanted = {s.instance_id for s in suppressible}
        existing = {k: v for k, v in latest_by_instance(found).items() if k in wanted}
        result = alert_with_suppression(
            suppressible,
            existing,
            execution_id=execution_id,
            per_execution=spec.per_execution,
            now=now,
            max_alerts=None if rule.type == "query" else rule.max_signals - out.created,
        )
        if result.updates:
            backend.update_alerts([(u.alert_id, u.fields) for u in result.updates])
        out.updated += len(result.updates)
        out.truncated = out.truncated or result.truncated
        _create(backend, result.create, out)
        if rule.type == "query":
            # Kibana counts a query rule's groups by their docs_count (aggregated buckets).
            created = sum(int(a.alert[DOCS_COUNT]) for a in result.create)
            out.suppressed += created + result.suppressed_docs
        else:
            out.suppressed += result.suppressed
    limit = _MULTIPLIER.get(rule.type, MAX_SIGNALS_SUPPRESSION_MULTIPLIER) * rule.max_signals
    out.truncated = (
        out.truncated or out.suppressed + out.created >= limit or out.created >= rule.max_signals
    )
    return out


def _term_source(candidate: Candidate) -> Any:
    """Events: the event; sequences: the shell alert (the fields all its events share)."""
    if len(candidate.documents) == 1 and candidate.sources:
        return candidate.sources[0]
    return candidate.documents[0]


def _in_memory(
    rule: Rule,
    spec: AlertSuppression,
    candidate: Candidate,
    primary: str,
    secondary: str | None,
) -> Suppressible:
    source = _term_source(candidate)
    terms = suppression_terms(source, spec.group_by)
    shell = candidate.documents[0]
    fallback = _alert_time(shell)
    when = event_time(source, primary, secondary, fallback)
    instance = suppression_instance_id(rule.rule_id, terms)
    shell.update(suppression_fields(instance, terms, when, when, 0))
    return Suppressible(id=candidate.id, documents=candidate.documents)


def _buckets(
    backend: Backend,
    rule: Rule,
    spec: AlertSuppression,
    candidates: Sequence[Candidate],
    window: Window,
    out: SuppressedWrite,
    primary: str,
    secondary: str | None,
) -> list[Suppressible]:
    history = []
    for alert in backend.suppression_alerts(rule.rule_id, ended_since=window.start):
        terms = alert.get(TERMS) or []
        if [t.get("field") for t in terms] == list(spec.group_by):
            end = event_time(alert, "kibana.alert.suppression.end", None, window.start)
            history.append((tuple(t.get("value") for t in terms), end))
    members: list[Member] = []
    plain: list[Candidate] = []
    for position, candidate in enumerate(candidates):
        source = candidate.sources[0] if candidate.sources else candidate.documents[0]
        when = event_time(source, primary, secondary, window.end)
        if history_excludes(source, when, spec.group_by, history):
            continue
        if spec.missing_fields_strategy == "doNotSuppress" and not has_every_field(
            source, spec.group_by
        ):
            plain.append(candidate)
            continue
        members.append(Member(position=position, time=when, keys=keys_of(source, spec.group_by)))
    buckets = group(members, rule.max_signals)
    _create_plain(backend, plain, rule.max_signals - len(buckets), out)
    found: list[Suppressible] = []
    for bucket in buckets:
        first = candidates[bucket.first]
        terms = [{"field": f, "value": v} for f, v in zip(spec.group_by, bucket.key, strict=True)]
        event = first.documents[0]["kibana.alert.ancestors"][0]
        span = (isoformat(bucket.start), isoformat(bucket.end))
        alert_id = alert_id_for_bucket(rule.rule_id, event["index"], event["id"], terms, *span)
        doc = dict(first.documents[0])
        doc["kibana.alert.uuid"] = alert_id
        instance = suppression_instance_id(rule.rule_id, terms)
        doc.update(suppression_fields(instance, terms, bucket.start, bucket.end, bucket.count - 1))
        found.append(Suppressible(id=alert_id, documents=(doc,)))
    existing = backend.existing_alert_ids([s.id for s in found])
    out.duplicates += sum(1 for s in found if s.id in existing)
    return [s for s in found if s.id not in existing]


def _stamp(alerts: Sequence[Suppressible], now: datetime, execution_id: str) -> None:
    for alert in alerts:
        alert.alert[ALERT_START] = isoformat(now)
        alert.alert[LAST_DETECTED] = isoformat(now)
        alert.alert["kibana.alert.rule.execution.uuid"] = execution_id


def _create_plain(
    backend: Backend, candidates: Sequence[Candidate], limit: int, out: SuppressedWrite
) -> None:
    """Alerts without suppression (doNotSuppress and a group_by field missing), capped."""
    if limit <= 0 or not candidates:
        out.truncated = out.truncated or bool(candidates)
        return
    if len(candidates) > limit:
        out.truncated = True
    _write(backend, [c.documents for c in candidates[:limit]], [c.id for c in candidates[:limit]],
           out)  # fmt: skip


def _create(backend: Backend, alerts: Sequence[Suppressible], out: SuppressedWrite) -> None:
    _write(backend, [a.documents for a in alerts], [a.id for a in alerts], out)


def _write(
    backend: Backend,
    documents: Sequence[tuple[dict[str, Any], ...]],
    ids: Sequence[str],
    out: SuppressedWrite,
) -> None:
    if not ids:
        return
    flat = [d for docs in documents for d in docs]
    outcome = backend.write_alerts(flat, out.hook_for(flat) if out.hook_for else None)
    created = set(outcome.created)
    out.created += sum(1 for i in ids if i in created)
    out.duplicates += sum(1 for i in ids if i in set(outcome.duplicates))
    out.failed += list(outcome.failed)


def _alert_time(alert: dict[str, Any]) -> datetime:
    return parse_absolute(str(alert["@timestamp"]))
