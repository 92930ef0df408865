"""Alert documents, shaped as Kibana's detection engine writes them.

Three builders, one per kind of finding:

- :func:`build_event_alert`: one event matched a query or EQL event rule;
- :func:`build_new_terms_alert`: one event brought new values of a new_terms rule's fields;
- :func:`build_sequence_alerts`: one EQL sequence (or sample) matched: a shell alert plus one
  building-block alert per event found.

Each returns plain JSON-ready dicts: the source event's fields (see
:mod:`runner.alerts.source` for how they are copied) with the ``kibana.*`` fields on top (see
:mod:`runner.alerts.enrich`); an alert's id is ``doc["kibana.alert.uuid"]`` (see
:mod:`runner.alerts.ids`).

Sequences, as Kibana's ``buildAlertGroupFromSequence`` builds them:

- Missing-event placeholders (``![...]`` stages) produce no building block; the others get
  ``kibana.alert.group.index`` 0, 1, ... in sequence order, counting only events found.
- The shell's body is what all building blocks have in common (:mod:`runner.alerts.merge`),
  then the ``kibana.*`` fields with the building blocks as its parents: so its
  ``kibana.alert.depth`` is 2 and its ``kibana.alert.ancestors`` lists, for each building
  block, the block's own ancestors (its event: ``type: "event"``, depth 0) and then the block
  itself (``type: "signal"``, depth 1, ``index: ""``, ``rule``: the rule's uuid).  Its
  ``kibana.alert.original_time`` is the first building block's ``@timestamp`` (Kibana reads
  the parent's ``@timestamp``, and a building block's is its creation time).
- ``kibana.alert.group.id`` is the shell's own id, on the shell and on every building block.
- Building blocks carry ``kibana.alert.building_block_type: "default"``.

Reason text (``kibana.alert.reason``): Kibana reads the event through the ``fields`` API where
its search asked for it (query and EQL searches do, so arrays and numeric ports show), and from
``_source`` where it did not (new_terms fetches its documents with ``top_hits``, which returns
no ``fields``, so a numeric ``source.port`` is left out there); the shell's reason is read from
the merged common fields.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from runner.alerts.enrich import (
    DEFAULT_PROCESSORS,
    Alert,
    AlertContext,
    Processor,
    rule_uuid,
    run_chain,
)
from runner.alerts.fields import fields_view
from runner.alerts.ids import (
    TermValue,
    alert_id_for_building_block,
    alert_id_for_event,
    alert_id_for_new_terms,
    alert_id_for_sequence,
)
from runner.alerts.merge import object_array_intersection
from runner.alerts.overrides import Overridden, apply_overrides
from runner.alerts.reason import render_reason, render_reason_text
from runner.alerts.source import prepare_source
from runner.rules.model import Rule
from runner.search import Hit, MissingEvent, SequenceMatch


class SequenceAlerts(NamedTuple):
    """The alerts of one sequence: only the shell counts towards ``max_signals``."""

    shell: Alert
    building_blocks: list[Alert]

    def descends_from(self, rule: Rule) -> bool:
        """:func:`descends_from_rule` for a sequence: asked of its events, i.e. of the
        building blocks (the shell always lists the rule's own building blocks)."""
        return any(descends_from_rule(block, rule) for block in self.building_blocks)


def build_event_alert(
    rule: Rule,
    hit: Hit,
    *,
    now: datetime,
    execution_uuid: str | None = None,
    intended_timestamp: datetime | None = None,
    processors: Sequence[Processor] = DEFAULT_PROCESSORS,
) -> Alert:
    """The alert for one event found by a query rule or an EQL event rule."""
    overridden = apply_overrides(rule, hit.source)
    return _alert_for_event(
        rule,
        hit,
        alert_id=alert_id_for_event(rule.rule_id, hit.index, hit.id),
        reason=_reason(overridden, fields_view(hit.source)),
        overridden=overridden,
        now=now,
        execution_uuid=execution_uuid,
        intended_timestamp=intended_timestamp,
        processors=processors,
    )


def build_esql_alert(
    rule: Rule,
    hit: Hit,
    *,
    alert_id: str,
    now: datetime,
    execution_uuid: str | None = None,
    intended_timestamp: datetime | None = None,
    processors: Sequence[Processor] = DEFAULT_PROCESSORS,
) -> Alert:
    """The alert for one ES|QL result row: ``hit`` is the row merged over its source document
    (if any); ids follow :func:`~runner.alerts.ids.alert_id_for_esql_event` / ``_row``."""
    return _alert_for_event(
        rule,
        hit,
        alert_id=alert_id,
        reason=render_reason(rule, fields_view(hit.source)),
        now=now,
        execution_uuid=execution_uuid,
        intended_timestamp=intended_timestamp,
        processors=processors,
    )


def build_new_terms_alert(
    rule: Rule,
    hit: Hit,
    terms: Sequence[TermValue],
    *,
    now: datetime,
    execution_uuid: str | None = None,
    intended_timestamp: datetime | None = None,
    processors: Sequence[Processor] = DEFAULT_PROCESSORS,
) -> Alert:
    """The alert for a new term: ``hit`` is the oldest event in the window carrying it, and
    ``terms`` its new values in the order of the rule's ``new_terms_fields``."""
    overridden = apply_overrides(rule, hit.source)
    alert = _alert_for_event(
        rule,
        hit,
        alert_id=alert_id_for_new_terms(rule.rule_id, hit.index, hit.id, terms),
        reason=_reason(overridden, hit.source),
        overridden=overridden,
        now=now,
        execution_uuid=execution_uuid,
        intended_timestamp=intended_timestamp,
        processors=processors,
    )
    alert["kibana.alert.new_terms"] = list(terms)
    return alert


def build_sequence_alerts(
    rule: Rule,
    match: SequenceMatch,
    *,
    now: datetime,
    execution_uuid: str | None = None,
    intended_timestamp: datetime | None = None,
    processors: Sequence[Processor] = DEFAULT_PROCESSORS,
) -> SequenceAlerts:
    """The shell and building-block alerts of one sequence (see the module docstring)."""
    found = [event for event in match.events if isinstance(event, Hit)]
    if not found:
        raise ValueError("a sequence match must hold at least one event that is not missing")
    shell_id = alert_id_for_sequence(rule.rule_id, [_stage_key(event) for event in match.events])

    blocks = [
        _alert_for_event(
            rule,
            event,
            alert_id=alert_id_for_building_block(
                rule.rule_id, event.index, event.id, shell_id, group_index
            ),
            reason=render_reason(rule, fields_view(event.source)),
            now=now,
            execution_uuid=execution_uuid,
            intended_timestamp=intended_timestamp,
            processors=processors,
        )
        for group_index, event in enumerate(found)
    ]

    common = object_array_intersection(blocks)
    shell_body: Alert = copy.deepcopy(dict(common)) if common else {}
    context = AlertContext(
        rule=rule,
        now=now,
        alert_id=shell_id,
        parents=[Hit(index="", id=block["kibana.alert.uuid"], source=block) for block in blocks],
        reason=render_reason(rule, common or {}),
        execution_uuid=execution_uuid,
        intended_timestamp=intended_timestamp,
    )
    shell = run_chain(shell_body, context, processors)
    shell["kibana.alert.group.id"] = shell_id

    for group_index, block in enumerate(blocks):
        block["kibana.alert.building_block_type"] = "default"
        block["kibana.alert.group.id"] = shell_id
        block["kibana.alert.group.index"] = group_index
    return SequenceAlerts(shell=shell, building_blocks=blocks)


def descends_from_rule(alert: Mapping[str, Any], rule: Rule) -> bool:
    """Whether ``alert`` was built (directly or further up) from an alert of ``rule`` itself.

    Kibana drops such alerts before writing them, so a rule that reads alert indices never
    feeds on its own output; callers should do the same (for a sequence, use
    :meth:`SequenceAlerts.descends_from`).
    """
    ancestors = alert.get("kibana.alert.ancestors")
    if not isinstance(ancestors, list):
        return False
    uuid = rule_uuid(rule)
    return any(isinstance(a, Mapping) and a.get("rule") == uuid for a in ancestors)


def _alert_for_event(
    rule: Rule,
    hit: Hit,
    *,
    alert_id: str,
    reason: str,
    now: datetime,
    execution_uuid: str | None,
    intended_timestamp: datetime | None,
    processors: Sequence[Processor],
    overridden: Overridden | None = None,
) -> Alert:
    context = AlertContext(
        rule=rule,
        now=now,
        alert_id=alert_id,
        parents=(hit,),
        reason=reason,
        execution_uuid=execution_uuid,
        intended_timestamp=intended_timestamp,
        overridden=overridden,
    )
    return run_chain(prepare_source(hit.source), context, processors)


def _reason(overridden: Overridden, fields: Mapping[str, Any]) -> str:
    # Kibana's reason names the overridden rule name and severity.
    return render_reason_text(name=overridden.name, severity=overridden.severity, fields=fields)


def _stage_key(event: Hit | MissingEvent) -> tuple[str, str] | None:
    return (event.index, event.id) if isinstance(event, Hit) else None
