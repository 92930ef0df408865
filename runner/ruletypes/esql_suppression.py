"""Alert suppression fields of an ES|QL alert, as Kibana's ``wrapSuppressedEsqlAlerts`` sets
them when it wraps the result rows (before the shared in-memory suppression stage).

- The terms, the time and the missing-field check read the row merged over its source
  document (Kibana's ``{...fields, ..._source}`` of the synthetic hit): a ``STATS`` row has
  only its own columns, a non-aggregating row also the fields of the document it came from.
- ``suppression.start`` = ``end`` = the row's ``timestamp_override`` value, else its
  ``@timestamp``, else the alert's own ``@timestamp`` (its creation time).  So rows that keep
  a time column (or the source document's time) are placed at that time, and an aggregating
  row without one at the moment it was found.
- ``kibana.alert.instance.id`` = a hash of the terms and the rule, as for every type.
- With ``missing_fields_strategy = "doNotSuppress"``, a row lacking one of the ``group_by``
  paths is left unwrapped: the stage creates a plain alert for it.  A path that exists with
  ``null`` counts as present (lodash ``pick``), and gets a ``null`` term.

The alert id stays the ES|QL one (:mod:`runner.ruletypes.esql`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.alerts.ids import suppression_instance_id
from runner.rules.model import Rule
from runner.suppression.terms import (
    event_time,
    has_every_path,
    suppression_fields,
    suppression_terms,
)
from runner.timeutil import parse_absolute


def wrap_suppressed(rule: Rule, alert: dict[str, Any], merged: Mapping[str, Any]) -> bool:
    """Add the suppression fields to ``alert``; False (and unchanged) when the row is not
    suppressible."""
    spec = rule.alert_suppression
    assert spec is not None
    if spec.missing_fields_strategy == "doNotSuppress" and not has_every_path(
        merged, spec.group_by
    ):
        return False
    terms = suppression_terms(merged, spec.group_by)
    primary = rule.timestamp_override or rule.timestamp_field
    secondary = "@timestamp" if rule.timestamp_override else None
    when = event_time(merged, primary, secondary, parse_absolute(str(alert["@timestamp"])))
    instance = suppression_instance_id(rule.rule_id, terms)
    alert.update(suppression_fields(instance, terms, when, when, 0))
    return True
