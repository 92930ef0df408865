"""Threshold alerts, as Kibana's ``transformBucketIntoHit`` + ``wrapHits`` build them.

Each group over the threshold becomes a synthetic event: ``_index`` the rule's index patterns
joined by ``,``, ``_id`` Kibana's ``calculateThresholdSignalUuid`` (UUID v5 of the rule id, the
execution start, the fields and the group's sorted values), ``_source`` the newest event time
as ``@timestamp`` plus the group's values under their (dotted) field names.  Its alert carries
``kibana.alert.threshold_result``: ``terms`` (``[{field, value}]``), ``count``, ``from`` (the
oldest event time, else the window start) and, with a cardinality condition, ``cardinality``
(``[{field, value}]``).  ``kibana.alert.original_time`` is the newest event time: later
executions read it back as the group's last signal time (the signal history).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from runner.alerts.enrich import DEFAULT_PROCESSORS, Alert, AlertContext, Processor, run_chain
from runner.alerts.fields import js_string
from runner.alerts.ids import alert_id_for_threshold
from runner.alerts.overrides import apply_overrides
from runner.alerts.reason import render_reason_text
from runner.alerts.source import prepare_source
from runner.rules.model import Rule
from runner.search import Hit, ThresholdBucket
from runner.timeutil import isoformat

THRESHOLD_NAMESPACE = uuid.UUID("0684ec03-7201-4ee0-8ee0-3a3f6b2479b2")  # Kibana's

__all__ = ["build_threshold_alert", "threshold_signal_uuid"]


def threshold_signal_uuid(
    rule_id: str, started: datetime, fields: Sequence[str], values: Sequence[Any]
) -> str:
    """Kibana's ``calculateThresholdSignalUuid``; the values are sorted as JavaScript's
    default ``sort()`` does (as strings, by UTF-16 code units) and joined by ``,``."""
    texts = sorted((js_string(v) for v in values), key=lambda t: t.encode("utf-16-be"))
    base = f"{rule_id}{isoformat(started)}{','.join(fields)}{','.join(texts)}"
    return str(uuid.uuid5(THRESHOLD_NAMESPACE, base))


def build_threshold_alert(
    rule: Rule,
    bucket: ThresholdBucket,
    *,
    window_start: datetime,
    now: datetime,
    execution_uuid: str | None = None,
    intended_timestamp: datetime | None = None,
    processors: Sequence[Processor] = DEFAULT_PROCESSORS,
) -> Alert:
    assert rule.threshold is not None
    threshold = rule.threshold
    source: dict[str, Any] = {}
    if bucket.max_time is not None:
        source["@timestamp"] = isoformat(bucket.max_time)
    source.update(zip(threshold.fields, bucket.key, strict=True))
    index = ",".join(rule.index)
    parent = Hit(
        index=index,
        id=threshold_signal_uuid(rule.rule_id, now, threshold.fields, bucket.key),
        source=source,
    )
    overridden = apply_overrides(rule, source)
    context = AlertContext(
        rule=rule,
        now=now,
        alert_id=alert_id_for_threshold(rule.rule_id, index, parent.id),
        parents=(parent,),
        reason=render_reason_text(
            name=overridden.name, severity=overridden.severity, fields=source
        ),
        execution_uuid=execution_uuid,
        intended_timestamp=intended_timestamp,
        overridden=overridden,
    )
    alert = run_chain(prepare_source(source), context, processors)
    result: dict[str, Any] = {}
    if threshold.cardinality:
        result["cardinality"] = [
            {"field": threshold.cardinality[0].field, "value": bucket.cardinality}
        ]
    result["count"] = bucket.count
    result["from"] = isoformat(bucket.min_time or window_start)
    result["terms"] = [
        {"field": f, "value": v} for f, v in zip(threshold.fields, bucket.key, strict=True)
    ]
    alert["kibana.alert.threshold_result"] = result
    return alert
