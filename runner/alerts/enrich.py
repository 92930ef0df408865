"""The ``kibana.*`` fields of an alert, added by a chain of small processors.

Each processor takes the alert document being built and an :class:`AlertContext`, sets the
fields it owns, and returns the document (structlog's processor style).
:data:`DEFAULT_PROCESSORS` is the chain that yields Kibana's ``buildAlertFields``; a caller may
pass a different chain (say, to add its own enrichment) to the builders in
:mod:`runner.alerts.build`.

All ``kibana.*`` fields are written as flat dotted keys at the top level of the document, as
Kibana stores them (``doc["kibana.alert.rule.name"]``), and so is ``"event.kind": "signal"``.
Kibana omits a field whose value is undefined; so do we (``note``, ``license``,
``timestamp_override``, ``building_block_type`` appear only when the rule sets them).

``kibana.alert.rule.uuid`` is Kibana's saved-object id of the rule; this runner has no saved
objects, so it is the rule's ``rule_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.alerts.fields import lodash_get
from runner.alerts.overrides import Overridden
from runner.alerts.parameters import rule_parameters
from runner.rules.model import Rule
from runner.search import Hit
from runner.timeutil import TimeParseError, isoformat, parse_absolute

Alert = dict[str, Any]

SPACE_ID = "default"
SERVER_APP_ID = "siem"  # Kibana's consumer and producer of security rules

#: ``kibana.alert.rule.rule_type_id`` and ``kibana.alert.rule.category`` (the alerting
#: framework's rule type id and name) per rule type.
RULE_TYPE_IDS: Mapping[str, str] = {
    "eql": "siem.eqlRule",
    "query": "siem.queryRule",
    "new_terms": "siem.newTermsRule",
    "esql": "siem.esqlRule",
    "threshold": "siem.thresholdRule",
    "threat_match": "siem.indicatorRule",
    "machine_learning": "siem.mlRule",
}
RULE_TYPE_NAMES: Mapping[str, str] = {
    "eql": "Event Correlation Rule",
    "query": "Custom Query Rule",
    "new_terms": "New Terms Rule",
    "esql": "ES|QL Rule",
    "threshold": "Threshold Rule",
    "threat_match": "Indicator Match Rule",
    "machine_learning": "Machine Learning Rule",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertContext:
    """Everything the processors need besides the document itself.

    ``parents`` are the documents the alert is built from: the source event for an event
    alert, the building-block alerts (as hits with ``index=""``) for a sequence shell.
    """

    rule: Rule
    now: datetime
    alert_id: str
    parents: Sequence[Hit]
    reason: str
    execution_uuid: str | None = None
    intended_timestamp: datetime | None = None
    space_id: str = SPACE_ID
    # The rule's name/severity/risk score after its overrides (None: the rule's own).
    overridden: Overridden | None = None


Processor = Callable[[Alert, AlertContext], Alert]


def rule_uuid(rule: Rule) -> str:
    """What ``kibana.alert.rule.uuid`` (and an ancestor's ``rule``) holds for ``rule``."""
    return rule.rule_id


def add_timestamp(alert: Alert, ctx: AlertContext) -> Alert:
    """``@timestamp``: when the alert was created (replaces the event's)."""
    alert["@timestamp"] = isoformat(ctx.now)
    return alert


def add_event_kind(alert: Alert, ctx: AlertContext) -> Alert:
    alert["event.kind"] = "signal"
    return alert


def add_space(alert: Alert, ctx: AlertContext) -> Alert:
    alert["kibana.space_ids"] = [ctx.space_id]
    return alert


def add_original_time(alert: Alert, ctx: AlertContext) -> Alert:
    """``kibana.alert.original_time``: the first parent's ``@timestamp``, normalised."""
    original = original_time(ctx.parents[0].source) if ctx.parents else None
    if original is not None:
        alert["kibana.alert.original_time"] = original
    return alert


def add_ancestry(alert: Alert, ctx: AlertContext) -> Alert:
    """``kibana.alert.ancestors`` (each parent's own ancestors, then the parent) and
    ``kibana.alert.depth`` (one more than the deepest parent)."""
    ancestors: list[dict[str, Any]] = []
    depth = 0
    for parent in ctx.parents:
        entry = parent_entry(parent)
        depth = max(depth, int(entry["depth"]))
        ancestors.extend(_existing_ancestors(parent))
        ancestors.append(entry)
    alert["kibana.alert.ancestors"] = ancestors
    alert["kibana.alert.depth"] = depth + 1
    return alert


def add_status(alert: Alert, ctx: AlertContext) -> Alert:
    alert["kibana.alert.status"] = "active"
    alert["kibana.alert.workflow_status"] = "open"
    alert["kibana.alert.workflow_tags"] = []
    alert["kibana.alert.workflow_assignee_ids"] = []
    return alert


def add_reason(alert: Alert, ctx: AlertContext) -> Alert:
    alert["kibana.alert.reason"] = ctx.reason
    return alert


def add_severity(alert: Alert, ctx: AlertContext) -> Alert:
    """``kibana.alert.severity``/``risk_score`` and, for building-block rules,
    ``kibana.alert.building_block_type``."""
    rule, overridden = ctx.rule, ctx.overridden
    alert["kibana.alert.severity"] = overridden.severity if overridden else rule.severity
    alert["kibana.alert.risk_score"] = overridden.risk_score if overridden else rule.risk_score
    if rule.building_block_type is not None:
        alert["kibana.alert.building_block_type"] = rule.building_block_type
    return alert


def add_rule(alert: Alert, ctx: AlertContext) -> Alert:
    """``kibana.alert.rule.*``: the rule as Kibana describes it on every alert."""
    rule = ctx.rule
    fields: dict[str, Any] = {
        "kibana.alert.rule.author": list(rule.author),
        "kibana.alert.rule.category": RULE_TYPE_NAMES[rule.type],
        "kibana.alert.rule.consumer": SERVER_APP_ID,
        "kibana.alert.rule.description": rule.description,
        "kibana.alert.rule.enabled": rule.enabled,
        "kibana.alert.rule.false_positives": list(rule.false_positives),
        "kibana.alert.rule.from": rule.from_,
        "kibana.alert.rule.index": list(rule.index),
        "kibana.alert.rule.indices": list(rule.index),
        "kibana.alert.rule.interval": rule.interval,
        "kibana.alert.rule.language": rule.language,
        "kibana.alert.rule.max_signals": rule.max_signals,
        "kibana.alert.rule.name": ctx.overridden.name if ctx.overridden else rule.name,
        "kibana.alert.rule.parameters": rule_parameters(rule),
        "kibana.alert.rule.producer": SERVER_APP_ID,
        "kibana.alert.rule.query": rule.query,
        "kibana.alert.rule.references": list(rule.references),
        "kibana.alert.rule.risk_score": rule.risk_score,
        # The saved object's revision in Kibana (0 until edited); a rule file has none.
        "kibana.alert.rule.revision": 0,
        "kibana.alert.rule.risk_score_mapping": [
            m.as_kibana() for m in rule.overrides.risk_score_mapping
        ],
        "kibana.alert.rule.rule_id": rule.rule_id,
        "kibana.alert.rule.rule_type_id": RULE_TYPE_IDS[rule.type],
        "kibana.alert.rule.severity": rule.severity,
        "kibana.alert.rule.severity_mapping": [
            m.as_kibana() for m in rule.overrides.severity_mapping
        ],
        "kibana.alert.rule.tags": list(rule.tags),
        "kibana.alert.rule.threat": [threat.as_kibana() for threat in rule.threat],
        "kibana.alert.rule.to": "now",
        "kibana.alert.rule.type": rule.type,
        "kibana.alert.rule.uuid": rule_uuid(rule),
        "kibana.alert.rule.version": rule.version,
    }
    optional = {
        "kibana.alert.rule.building_block_type": rule.building_block_type,
        "kibana.alert.rule.license": rule.license or None,
        "kibana.alert.rule.note": rule.note or None,
        "kibana.alert.rule.rule_name_override": rule.overrides.rule_name_override,
        "kibana.alert.rule.timestamp_override": rule.timestamp_override,
    }
    fields.update({key: value for key, value in optional.items() if value is not None})
    alert.update(dict(sorted(fields.items())))
    return alert


def add_execution(alert: Alert, ctx: AlertContext) -> Alert:
    """``kibana.alert.intended_timestamp``, ``kibana.alert.rule.execution.type`` (``manual``
    for a backfill, which gives the time it stands in for) and, when known,
    ``kibana.alert.rule.execution.uuid``."""
    intended = ctx.intended_timestamp
    alert["kibana.alert.intended_timestamp"] = isoformat(intended or ctx.now)
    alert["kibana.alert.rule.execution.type"] = "manual" if intended else "scheduled"
    if ctx.execution_uuid is not None:
        alert["kibana.alert.rule.execution.uuid"] = ctx.execution_uuid
    return alert


def add_uuid(alert: Alert, ctx: AlertContext) -> Alert:
    alert["kibana.alert.uuid"] = ctx.alert_id
    return alert


DEFAULT_PROCESSORS: tuple[Processor, ...] = (
    add_timestamp,
    add_space,
    add_event_kind,
    add_original_time,
    add_ancestry,
    add_status,
    add_reason,
    add_severity,
    add_rule,
    add_execution,
    add_uuid,
)


def run_chain(alert: Alert, ctx: AlertContext, processors: Sequence[Processor]) -> Alert:
    for processor in processors:
        alert = processor(alert, ctx)
    return alert


# -- ancestry ------------------------------------------------------------------------------


def is_alert_document(source: Mapping[str, Any]) -> bool:
    """Whether a parent is itself an alert (Kibana: ``kibana.alert.uuid`` or legacy
    ``signal`` present), which makes the new alert an alert on an alert."""
    return source.get("kibana.alert.uuid") is not None or source.get("signal") is not None


def parent_entry(parent: Hit) -> dict[str, Any]:
    """Kibana's ``buildParent``: the ancestor entry that stands for ``parent``."""
    if not is_alert_document(parent.source):
        return {"id": parent.id, "type": "event", "index": parent.index, "depth": 0}
    depth = _alert_field(parent.source, "kibana.alert.depth", "signal.depth")
    entry: dict[str, Any] = {
        "id": parent.id,
        "type": "signal",
        "index": parent.index,
        "depth": depth if isinstance(depth, int) and not isinstance(depth, bool) else 1,
    }
    rule = _alert_field(parent.source, "kibana.alert.rule.uuid", "signal.rule.id")
    if rule is not None:
        entry["rule"] = rule
    return entry


def _existing_ancestors(parent: Hit) -> list[dict[str, Any]]:
    found = _alert_field(parent.source, "kibana.alert.ancestors", "signal.ancestors")
    if not isinstance(found, list):
        return []
    return [dict(item) for item in found if isinstance(item, Mapping)]


def _alert_field(source: Mapping[str, Any], name: str, legacy: str) -> Any:
    value = lodash_get(source, name)
    return value if value is not None else lodash_get(source, legacy)


def original_time(source: Mapping[str, Any]) -> str | None:
    """The document's ``@timestamp`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (Kibana's
    ``getValidDateFromDoc`` + ``toISOString``): ISO 8601 or epoch milliseconds (number or
    digit string); anything unreadable gives None."""
    value = source.get("@timestamp")
    if isinstance(value, list):  # the fields API form; Kibana takes the first value
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            return isoformat(datetime.fromtimestamp(value / 1000, tz=UTC))
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return isoformat(datetime.fromtimestamp(int(text) / 1000, tz=UTC))
            return isoformat(parse_absolute(text))
    except (TimeParseError, ValueError, OverflowError, OSError):
        return None
    return None
