"""The variables a notification template sees, named as Kibana names them.

Kibana's security rule actions offer ``context.rule.*``, ``context.alerts`` (the alert
documents), ``context.results_link``, ``state.signals_count`` and the alerting framework's
``alerts.new.count``, ``alerts.all.count``, ``rule.id``, ``rule.name``, ``date``.  Alert
documents are expanded (``kibana.alert.rule.name`` becomes nested objects) so mustache's dotted
names reach them, and every string is capped (:func:`runner.notify.render.cap`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from runner.notify.render import cap
from runner.rules.model import Rule, Threat
from runner.timeutil import isoformat


def expand(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested objects, merged with objects already nested."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"": child}
                node[part] = child
            node = child
        leaf = parts[-1]
        item = expand(value) if isinstance(value, Mapping) else value
        if isinstance(node.get(leaf), dict) and isinstance(item, dict):
            node[leaf] = {**node[leaf], **item}
        else:
            node[leaf] = item
    return out


def rule_view(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.rule_id,
        "rule_id": rule.rule_id,
        "name": rule.name,
        "description": rule.description,
        "severity": rule.severity,
        "risk_score": rule.risk_score,
        "type": rule.type,
        "index": list(rule.index),
        "query": rule.query,
        "from": rule.from_,
        "interval": rule.interval,
        "tags": list(rule.tags),
        "references": list(rule.references),
        "false_positives": list(rule.false_positives),
        "threat": [_threat(t) for t in rule.threat],
    }


def _threat(threat: Threat) -> dict[str, Any]:
    return {
        "tactic": {"id": threat.tactic.id, "name": threat.tactic.name},
        "technique": [{"id": t.entry.id, "name": t.entry.name} for t in threat.techniques],
    }


def build_view(
    rule: Rule, alerts: Sequence[Mapping[str, Any]], *, now: datetime, kind: str
) -> dict[str, Any]:
    docs = [cap(expand(a)) for a in alerts]
    view: dict[str, Any] = {
        "context": {
            "rule": cap(rule_view(rule)),
            "alerts": docs,
            "results_link": "",
        },
        "state": {"signals_count": len(docs)},
        "alerts": {
            "new": {"count": len(docs), "data": docs},
            "all": {"count": len(docs), "data": docs},
            "ongoing": {"count": 0, "data": []},
            "recovered": {"count": 0, "data": []},
        },
        "rule": {"id": rule.rule_id, "name": cap(rule.name), "tags": list(rule.tags)},
        "date": isoformat(now),
        "kind": kind,
        "raw_alerts": [dict(a) for a in alerts],  # uncapped, for the .index connector
    }
    if kind == "alert" and docs:
        view["alert"] = {"id": alerts[0].get("kibana.alert.uuid"), **docs[0]}
    return view
