"""``kibana.alert.reason``: the one-line summary Kibana writes on every alert.

Kibana builds it in ``reason_formatters.ts`` (``buildReasonMessageUtil``, the same function for
query, EQL, new_terms and sequence shells) from an ICU message.  This module computes the same
values and renders them through ``templates/reason.j2``:

``{category} event with process {process.name}, parent process {process.parent.name}, file
{file.name}, source {source.ip}:{source.port}, destination {destination.ip}:{destination.port},
by {user.name} on {host.name} created {severity} alert {rule name}.``

Kibana's details, all reproduced:

- Each field is read with lodash ``get`` (a literal dotted key, else the nested path).
- A value is left out when it is null/missing, an empty string or array, ``"-"`` or ``["-"]``,
  or anything without a ``length`` (a bare number or boolean: so a numeric ``source.port`` read
  from ``_source`` is left out, while the same port read from the ``fields`` API, ``[443]``,
  is shown).  Arrays are joined with ``", "``: ``event.category: ["process", "network"]``
  gives ``"process, network event ..."``.
- `` with`` appears only when process, parent process, file, source ip/port or destination
  ip/port is shown; user and host alone do not bring it (``"event by root on h1 created ..."``).
- ``source {ip}`` and ``:{port},`` are separate parts: an ip without a port gets no comma
  (``"source 10.0.0.1 destination ..."``), a port without an ip is written as ``":443,"``.
- Without a category the text starts with ``"event"``.
- A value that is exactly the text ``null`` is dropped (the ICU ``select`` picks its ``null``
  branch), though it still counts for `` with``.

Which document Kibana reads (``mergedDoc.fields`` when the search returned ``fields``, else
``_source``) is the caller's choice: see :mod:`runner.alerts.build`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from runner.alerts.fields import js_string, lodash_get
from runner.resources import templates_dir
from runner.rules.model import Rule

TEMPLATE_NAME = "reason.j2"

# (template variable, ECS field, whether it is a "field of interest" that brings " with")
_PARTS: tuple[tuple[str, str, bool], ...] = (
    ("event_category", "event.category", False),
    ("process_name", "process.name", True),
    ("process_parent_name", "process.parent.name", True),
    ("file_name", "file.name", True),
    ("source_address", "source.ip", True),
    ("source_port", "source.port", True),
    ("destination_address", "destination.ip", True),
    ("destination_port", "destination.port", True),
    ("user_name", "user.name", False),
    ("host_name", "host.name", False),
)


def render_reason(rule: Rule, fields: Mapping[str, Any]) -> str:
    """The reason text for an alert of ``rule`` whose document reads as ``fields``."""
    return render_reason_text(name=rule.name, severity=rule.severity, fields=fields)


def render_reason_text(*, name: str, severity: str, fields: Mapping[str, Any]) -> str:
    """:func:`render_reason` with the rule's name and severity given directly."""
    return _template().render(rule_name=name, severity=severity, **reason_values(fields))


def reason_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The template's variables: each part's text (None when left out) and
    ``has_field_of_interest``."""
    values: dict[str, Any] = {}
    has_field_of_interest = False
    for variable, field, of_interest in _PARTS:
        text = template_value(lodash_get(fields, field))
        if text is not None and of_interest:
            has_field_of_interest = True
        values[variable] = None if text == "null" else text
    values["has_field_of_interest"] = has_field_of_interest
    return values


def template_value(value: Any) -> str | None:
    """Kibana's ``getFieldTemplateValue``: the text for one field, or None to leave it out."""
    if value is None or isinstance(value, bool | int | float):
        return None  # falsy, or no `length` property
    if isinstance(value, str):
        return None if value in ("", "-") else value
    if isinstance(value, list):
        if not value or (len(value) == 1 and value[0] == "-"):
            return None
        return ", ".join(js_string(item) for item in value)
    return None  # an object has no `length` either


@cache
def _template() -> Template:
    environment = SandboxedEnvironment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=False,  # plain text, not HTML
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    return environment.get_template(TEMPLATE_NAME)
