"""Kibana's security alerts index, as far as the types of runner's alert fields go.

Derived by hand from Kibana's source (elastic/kibana), keeping only what checks a type:

- ``src/platform/packages/shared/kbn-alerts-as-data-utils/src/field_maps/alert_field_map.ts``
  (``alertFieldMap``: the framework's ``kibana.alert.*``, ``kibana.space_ids``,
  ``@timestamp``, ``event.kind``; its ``required`` fields are :data:`REQUIRED`);
- ``.../kbn-alerts-as-data-utils/src/field_maps/legacy_alert_field_map.ts``
  (``legacyAlertFieldMap``: risk score, rule author/description/version, suppression);
- ``x-pack/solutions/security/plugins/security_solution/common/field_maps/8.0.0/alerts.ts``
  (ancestors, depth, group, ``original_event.*``, ``original_time``, ``threshold_result``),
  ``8.4.0/alerts.ts`` (``new_terms``), ``8.0.0/rules.ts`` (``rule.threat.*``, ``max_signals``,
  ``false_positives``, ``timestamp_override``, ``building_block_type``);
- ``x-pack/platform/plugins/shared/alerting/server/alerts_service/lib/
  create_or_update_index_template.ts``: the index template maps ``dynamic: false`` (other
  fields stay in ``_source``, unindexed) with ``index.mapping.ignore_malformed: true`` (a
  value that does not parse is dropped from the index silently, so the check here is strict:
  a dropped value would be missing from Kibana's Alerts table);
- ``.../alerts_service/resource_installer_utils.ts`` (``getIndexTemplateAndPattern``): the
  concrete index ``.internal.alerts-security.alerts-default-000001`` behind the write alias
  ``.alerts-security.alerts-default``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from tests.elastic.engine.node import Node

ALIAS = ".alerts-security.alerts-default"
INDEX = ".internal.alerts-security.alerts-default-000001"

_K, _D, _L, _F, _B, _O = "keyword", "date", "long", "float", "boolean", "object"

FIELD_MAP: Mapping[str, str] = {
    # alertFieldMap
    "@timestamp": _D, "event.kind": _K, "event.action": _K, "kibana.space_ids": _K,
    "kibana.alert.instance.id": _K, "kibana.alert.last_detected": _D,
    "kibana.alert.reason": _K, "kibana.alert.rule.category": _K,
    "kibana.alert.rule.consumer": _K, "kibana.alert.rule.execution.uuid": _K,
    "kibana.alert.rule.execution.type": _K, "kibana.alert.intended_timestamp": _D,
    "kibana.alert.rule.name": _K, "kibana.alert.rule.parameters": "flattened",
    "kibana.alert.rule.producer": _K, "kibana.alert.rule.revision": _L,
    "kibana.alert.rule.tags": _K, "kibana.alert.rule.rule_type_id": _K,
    "kibana.alert.rule.uuid": _K, "kibana.alert.severity": _K, "kibana.alert.start": _D,
    "kibana.alert.status": _K, "kibana.alert.uuid": _K, "kibana.alert.workflow_status": _K,
    "kibana.alert.workflow_tags": _K, "kibana.alert.workflow_assignee_ids": _K,
    "kibana.alert.url": _K, "kibana.alert.end": _D, "kibana.alert.duration.us": _L,
    "kibana.alert.flapping": _B, "kibana.alert.case_ids": _K,
    # legacyAlertFieldMap
    "kibana.alert.risk_score": _F, "kibana.alert.rule.author": _K,
    "kibana.alert.rule.created_at": _D, "kibana.alert.rule.created_by": _K,
    "kibana.alert.rule.description": _K, "kibana.alert.rule.enabled": _K,
    "kibana.alert.rule.from": _K, "kibana.alert.rule.interval": _K,
    "kibana.alert.rule.license": _K, "kibana.alert.rule.note": _K,
    "kibana.alert.rule.references": _K, "kibana.alert.rule.rule_id": _K,
    "kibana.alert.rule.rule_name_override": _K, "kibana.alert.rule.to": _K,
    "kibana.alert.rule.type": _K, "kibana.alert.rule.updated_at": _D,
    "kibana.alert.rule.updated_by": _K, "kibana.alert.rule.version": _K,
    "kibana.alert.suppression.docs_count": _L, "kibana.alert.suppression.end": _D,
    "kibana.alert.suppression.terms.field": _K, "kibana.alert.suppression.start": _D,
    "kibana.alert.suppression.terms.value": _K, "ecs.version": _K,
    # security_solution alertsFieldMap (8.0.0, 8.4.0)
    "kibana.alert.ancestors": _O, "kibana.alert.ancestors.depth": _L,
    "kibana.alert.ancestors.id": _K, "kibana.alert.ancestors.index": _K,
    "kibana.alert.ancestors.rule": _K, "kibana.alert.ancestors.type": _K,
    "kibana.alert.building_block_type": _K, "kibana.alert.depth": _L,
    "kibana.alert.group.id": _K, "kibana.alert.group.index": "integer",
    "kibana.alert.original_event.action": _K, "kibana.alert.original_event.category": _K,
    "kibana.alert.original_event.code": _K, "kibana.alert.original_event.created": _D,
    "kibana.alert.original_event.dataset": _K, "kibana.alert.original_event.duration": _K,
    "kibana.alert.original_event.end": _D, "kibana.alert.original_event.id": _K,
    "kibana.alert.original_event.ingested": _D, "kibana.alert.original_event.kind": _K,
    "kibana.alert.original_event.module": _K, "kibana.alert.original_event.outcome": _K,
    "kibana.alert.original_event.provider": _K, "kibana.alert.original_event.risk_score": _F,
    "kibana.alert.original_event.sequence": _L, "kibana.alert.original_event.severity": _L,
    "kibana.alert.original_event.start": _D, "kibana.alert.original_event.type": _K,
    "kibana.alert.original_time": _D,
    "kibana.alert.threshold_result.cardinality": _O,
    "kibana.alert.threshold_result.cardinality.field": _K,
    "kibana.alert.threshold_result.cardinality.value": _L,
    "kibana.alert.threshold_result.count": _L, "kibana.alert.threshold_result.from": _D,
    "kibana.alert.threshold_result.terms": _O,
    "kibana.alert.threshold_result.terms.field": _K,
    "kibana.alert.threshold_result.terms.value": _K,
    "kibana.alert.new_terms": _K,
    # security_solution rulesFieldMap (8.0.0)
    "kibana.alert.rule.building_block_type": _K, "kibana.alert.rule.exceptions_list": _O,
    "kibana.alert.rule.false_positives": _K, "kibana.alert.rule.immutable": _K,
    "kibana.alert.rule.max_signals": _L, "kibana.alert.rule.threat.framework": _K,
    "kibana.alert.rule.threat.tactic.id": _K, "kibana.alert.rule.threat.tactic.name": _K,
    "kibana.alert.rule.threat.tactic.reference": _K,
    "kibana.alert.rule.threat.technique.id": _K,
    "kibana.alert.rule.threat.technique.name": _K,
    "kibana.alert.rule.threat.technique.reference": _K,
    "kibana.alert.rule.threat.technique.subtechnique.id": _K,
    "kibana.alert.rule.threat.technique.subtechnique.name": _K,
    "kibana.alert.rule.threat.technique.subtechnique.reference": _K,
    "kibana.alert.rule.timeline_id": _K, "kibana.alert.rule.timeline_title": _K,
    "kibana.alert.rule.timestamp_override": _K,
}  # fmt: skip

#: ``required: true`` in ``alertFieldMap`` (the framework's alert schema), less
#: ``kibana.alert.instance.id``: Kibana's framework sets it to the alert's id when it reports
#: the alert; runner sets it only on suppressed alerts, whose suppression stage finds its own
#: alerts by it (a mapping never requires a field, so the document still fits).
REQUIRED = (
    "@timestamp", "kibana.space_ids", "kibana.alert.uuid", "kibana.alert.status",
    "kibana.alert.rule.category", "kibana.alert.rule.consumer", "kibana.alert.rule.name",
    "kibana.alert.rule.producer", "kibana.alert.rule.rule_type_id", "kibana.alert.rule.uuid",
    "kibana.alert.rule.revision",
)  # fmt: skip

_CONTAINERS = {_O, "flattened", "nested"}


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every value, objects included (arrays are transparent)."""
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
        return
    yield path, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}" if path else str(key))


def _fits(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind in _CONTAINERS:
        return kind == "flattened" or isinstance(value, Mapping)
    if isinstance(value, Mapping):
        return False
    if kind == _K:
        return isinstance(value, str | int | float | bool)
    if kind in (_L, "integer"):
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        return isinstance(value, str) and value.lstrip("-").isdigit()
    if kind == _F:
        if isinstance(value, bool):
            return False
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True
    if kind == _D:
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        if not isinstance(value, str):
            return False
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if kind == _B:
        return isinstance(value, bool) or value in ("true", "false")
    raise AssertionError(f"no check for type {kind}")


def problems(alert: Mapping[str, Any]) -> list[str]:
    """Where ``alert`` does not fit Kibana's alerts index mapping (empty: it fits)."""
    found: list[str] = []
    for path, value in _leaves(dict(alert), ""):
        kind = FIELD_MAP.get(path)
        parts = path.split(".")
        for i in range(1, len(parts)):
            parent = FIELD_MAP.get(".".join(parts[:i]))
            if parent is not None and parent not in _CONTAINERS:
                found.append(f"{path}: under {'.'.join(parts[:i])}, a {parent} field")
        if kind is not None and not _fits(kind, value):
            found.append(f"{path}: {value!r} is not a {kind}")
    for name in REQUIRED:
        if name not in alert:
            found.append(f"{name}: required, missing")
    return sorted(set(found))


def mappings(extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The index's mappings: the field map (plus ``extra`` fields, say the ECS ones a test
    needs) as properties, ``dynamic: false``."""
    root: dict[str, Any] = {}
    for dotted, kind in sorted({**FIELD_MAP, **(extra or {})}.items()):
        node = root
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {}).setdefault("properties", {})
        entry = node.setdefault(leaf, {})
        if kind != _O:
            entry["type"] = kind
    return {"dynamic": False, "properties": root}


def install(node: Node, extra: Mapping[str, str] | None = None) -> None:
    """Create Kibana's concrete alerts index and its write alias on the stand-in, as Kibana
    does at start-up."""
    body = {"settings": {"index.mapping.ignore_malformed": True}, "mappings": mappings(extra)}
    node.create_index(INDEX, body)
    node.aliases[ALIAS] = INDEX
