"""Alert documents as Kibana's detection engine writes them, with deterministic ids.

- :mod:`runner.alerts.ids`: the id formulas (both backends rely on them);
- :mod:`runner.alerts.build`: event, new_terms and sequence alerts;
- :mod:`runner.alerts.enrich`: the processor chain that adds the ``kibana.*`` fields;
- :mod:`runner.alerts.source`: how the source event is copied into its alert;
- :mod:`runner.alerts.merge`: the fields a sequence's events share (its shell's body);
- :mod:`runner.alerts.reason`: ``kibana.alert.reason`` from ``templates/reason.j2``;
- :mod:`runner.alerts.fields`: field access with Kibana's (lodash / JavaScript) semantics.
"""

from runner.alerts.build import (
    SequenceAlerts,
    build_event_alert,
    build_new_terms_alert,
    build_sequence_alerts,
    descends_from_rule,
)
from runner.alerts.enrich import (
    DEFAULT_PROCESSORS,
    Alert,
    AlertContext,
    Processor,
    rule_uuid,
)
from runner.alerts.ids import (
    TermValue,
    alert_id_for_building_block,
    alert_id_for_event,
    alert_id_for_new_terms,
    alert_id_for_sequence,
)
from runner.alerts.reason import render_reason

__all__ = [
    "DEFAULT_PROCESSORS",
    "Alert",
    "AlertContext",
    "Processor",
    "SequenceAlerts",
    "TermValue",
    "alert_id_for_building_block",
    "alert_id_for_event",
    "alert_id_for_new_terms",
    "alert_id_for_sequence",
    "build_event_alert",
    "build_new_terms_alert",
    "build_sequence_alerts",
    "descends_from_rule",
    "render_reason",
    "rule_uuid",
]
