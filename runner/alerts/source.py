"""The source event's fields as they are copied into an alert.

Mirrors Kibana's ``traverseAndMutateDoc`` (what ``transformHitToAlert`` does to ``_source``
before adding the ``kibana.alert.*`` fields):

- The copy keeps the source's own shape: nested objects stay nested, and a key written with
  dots in ``_source`` (``{"host.name": "h1"}``) stays one dotted key; nothing is flattened or
  expanded.  The source mapping is never modified (the result is a deep copy).
- Top-level keys whose first dotted segment is ``kibana``, ``signal`` or ``threshold_result``
  are dropped (an alert's own namespaces must not be forged by an event).
- Empty arrays and empty objects are dropped, at any depth (also once emptied themselves).
- Every ``event.*`` field is also copied to ``kibana.alert.original_event.*`` and every
  ``data_stream.*`` field to ``kibana.alert.original_data_stream.*``, as flat dotted keys
  (``{"event": {"action": "x"}}`` -> ``"kibana.alert.original_event.action": "x"``).
- Then the event's own ``event.kind`` is removed (the alert writes ``"event.kind": "signal"``
  as a flat key); an ``event`` object left empty by that stays as ``{}``, as in Kibana.

Not reproduced: Kibana also drops fields whose value conflicts with the ECS mapping (say a
string in ``process.pid``); that needs ECS's field map, which the runner does not ship.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.alerts.fields import is_plain_object, lodash_get

BANNED_TOP_LEVEL = frozenset({"kibana", "signal", "threshold_result"})
COPIED_NAMESPACES: Mapping[str, str] = {
    "event": "kibana.alert.original_event",
    "data_stream": "kibana.alert.original_data_stream",
}


class _Dropped:
    """Marker for a value that cleaning removed."""


_DROPPED = _Dropped()


def prepare_source(source: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: the event's fields ready to become the body of its alert."""
    doc: dict[str, Any] = {}
    copies: list[tuple[str, Any]] = []
    for key, value in source.items():
        top = key.split(".")[0]
        if top in BANNED_TOP_LEVEL:
            continue
        cleaned = _clean(value)
        if isinstance(cleaned, _Dropped):
            continue
        doc[key] = cleaned
        if top in COPIED_NAMESPACES:
            destination = COPIED_NAMESPACES[top] + key[len(top) :]
            # A second, separate copy: the alert must not share lists between the two places.
            copies.extend(flatten_with_prefix(destination, _clean(value)).items())
    for key, value in copies:
        doc[key] = value
    remove_event_kind(doc)
    return doc


def flatten_with_prefix(prefix: str, value: Any) -> dict[str, Any]:
    """``@kbn/securitysolution-rules`` ``flattenWithPrefix``: objects become dotted keys under
    ``prefix``; arrays and scalars are leaves."""
    if not is_plain_object(value):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, child in value.items():
        out.update(flatten_with_prefix(f"{prefix}.{key}", child))
    return out


def remove_event_kind(doc: dict[str, Any]) -> None:
    """Kibana's ``robustSet(event.kind, undefined)``, done only when the event has a kind."""
    if lodash_get(doc, "event.kind") is None and _nested_kind(doc) is None:
        return
    event = doc.get("event")
    if isinstance(event, dict):
        event.pop("kind", None)
    else:
        doc.pop("event.kind", None)


def _nested_kind(doc: Mapping[str, Any]) -> Any:
    event = doc.get("event")
    return event.get("kind") if isinstance(event, Mapping) else None


def _clean(value: Any) -> Any:
    """A deep copy of ``value`` without empty arrays/objects; ``_DROPPED`` if it is empty."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, child in value.items():
            cleaned = _clean(child)
            if not isinstance(cleaned, _Dropped):
                out[key] = cleaned
        return out if out else _DROPPED
    if isinstance(value, list):
        items = [_clean(item) for item in value]
        kept = [item for item in items if not isinstance(item, _Dropped)]
        return kept if kept else _DROPPED
    return value
