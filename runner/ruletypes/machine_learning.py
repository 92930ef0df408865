"""Machine learning rules (``type = "machine_learning"``), as Kibana's ``mlExecutor``.

The rule's jobs run on the cluster; the rule only reads their results: anomaly records in
``.ml-anomalies-*`` of its ``machine_learning_job_id``(s) with ``record_score`` at least
``anomaly_threshold`` in the window, best first, ``max_signals`` of them (more qualifying
records give the cap warning).  Each record becomes an alert after Kibana's
``transformAnomalyFieldsToEcs``: the influencers' fields (and the ``by`` field) are set as
nested ECS fields holding their values (their dotted top-level copies removed), and
``@timestamp`` is the record's ``timestamp``.  Alert ids come from the record's index and id, so
overlapping windows never alert a record twice.

Before the search, as Kibana, the jobs' state is read: a job that is missing or whose job or
datafeed is not started makes the execution a partial failure with Kibana's "ML jobs are not
started" warning (the anomalies found are still alerted).

The embedded store has no machine learning jobs: there the window fails with that reason
(``rules validate`` lists these rules as cluster only).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from runner.alerts import build_event_alert
from runner.backends.base import Backend
from runner.elastic.anomalies import anomaly_search
from runner.elastic.requests import NativeRequest
from runner.errors import PermissionDenied
from runner.execution.candidates import AlertStamp, Candidate, CandidateBatch, Fresh
from runner.execution.model import Window
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule
from runner.search import AnomalyRequest, Hit
from runner.timeutil import isoformat, parse_datemath

__all__ = ["MACHINE_LEARNING", "anomaly_request", "ecs_anomaly"]


def anomaly_request(rule: Rule, start: datetime, end: datetime) -> AnomalyRequest:
    ml = rule.machine_learning
    assert ml is not None
    return AnomalyRequest(
        job_ids=ml.job_ids,
        threshold=ml.anomaly_threshold,
        start=start,
        end=end,
        size=rule.max_signals,
    )


def ecs_anomaly(record: Mapping[str, Any]) -> dict[str, Any]:
    """Kibana's ``transformAnomalyFieldsToEcs``."""
    doc = copy.deepcopy(dict(record))
    fields: list[tuple[str, Any]] = []
    for influencer in doc.get("influencers") or []:
        if isinstance(influencer, Mapping) and isinstance(
            influencer.get("influencer_field_name"), str
        ):
            fields.append(
                (influencer["influencer_field_name"], influencer.get("influencer_field_values"))
            )
    by_name, by_value = doc.get("by_field_name"), doc.get("by_field_value")
    if by_name and by_value:
        fields.append((str(by_name), [by_value]))
    for name, _ in fields:
        doc.pop(name, None)
    for name, value in fields:
        _set(doc, name, value)
    timestamp = doc.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        doc["@timestamp"] = isoformat(datetime.fromtimestamp(timestamp / 1000, UTC))
    return doc


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """lodash ``set``: walk (creating objects) the dotted path and set the leaf."""
    parts = path.split(".")
    current = doc
    for part in parts[:-1]:
        child = current.get(part)
        if not isinstance(child, dict):
            child = {}
            current[part] = child
        current = child
    current[parts[-1]] = value


def job_warnings(backend: Backend, rule: Rule) -> tuple[str, ...]:
    """Kibana's warning when a job of the rule is missing or not started (job and datafeed
    both ``started``/``opened``); the anomalies are still read.  A cluster that refuses the ML
    APIs to this user (403) gives a warning, not a failure."""
    ml = rule.machine_learning
    assert ml is not None
    try:
        jobs = [j for j in backend.ml_jobs(ml.job_ids) if j.job_id in ml.job_ids]
    except PermissionDenied as exc:
        return (f"The state of the ML jobs could not be read: {exc}",)
    if jobs and all(j.started for j in jobs):
        return ()
    lines = ["ML jobs are not started"] + [
        f'Job ID: "{j.job_id}". Job name: "{j.name}". Job status: "{j.job_state}". '
        f'Datafeed status: "{j.datafeed_state}"'
        for j in jobs
    ]
    return ("\n".join(lines),)


class MachineLearningKind:
    name = "machine_learning"

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        warnings = job_warnings(backend, rule)
        result = backend.search_anomalies(anomaly_request(rule, window.start, window.end))
        found = []
        for record in result.hits:
            hit = Hit(index=record.index, id=record.id, source=ecs_anomaly(record.source))
            alert = build_event_alert(rule, hit, **stamp.kwargs())
            found.append(Candidate(id=alert["kibana.alert.uuid"], documents=(alert,)))
        return CandidateBatch(
            candidates=tuple(fresh(found)),
            more=result.total > rule.max_signals,
            warnings=warnings,
        )

    def explain(
        self, rule: Rule, end: datetime, fields: FieldTypes | None = None
    ) -> list[NativeRequest]:
        start = parse_datemath(rule.from_, end)
        return [anomaly_search(anomaly_request(rule, start, end))]


MACHINE_LEARNING = MachineLearningKind()
