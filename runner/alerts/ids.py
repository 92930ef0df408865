"""Deterministic alert ids.

An alert's id is a pure function of what it was built from, so the same event found twice (by
overlapping windows, a catch-up run, another machine, or the other backend) yields the same id
and the alerts store rejects the duplicate.  Both backends call these functions; nothing else
may compute alert ids.

The formula
-----------
``id = sha256(utf8(json(parts))).hexdigest()`` (64 lowercase hex digits), where ``json`` is
the compact JSON array encoding ``json.dumps(parts, ensure_ascii=False, separators=(",", ":"))``
(byte-for-byte what JavaScript's ``JSON.stringify`` produces for these values), and ``parts``
is, by alert kind:

==================  ==========================================================================
single event        ``["event", rule_id, index, id]``
new_terms           ``["new_terms", rule_id, index, id, [term_1, ..., term_n]]``
                    (the new values in the order of the rule's ``new_terms_fields``, each as
                    its JSON type: ``"1"`` and ``1`` are different terms)
sequence shell      ``["sequence", rule_id, [[index_1, id_1], ..., [index_n, id_n]]]``
                    (every stage in sequence order; a missing-event stage ``![...]`` is
                    ``null`` in its position)
building block      ``["building_block", rule_id, shell_id, group_index, index, id]``
                    (``group_index``: the event's ``kibana.alert.group.index``, an integer)
threshold           ``["threshold", rule_id, index, bucket_id]`` (``index``: the rule's
                    patterns joined by ``,``; ``bucket_id``: Kibana's threshold signal UUID)
==================  ==========================================================================

``rule_id`` is the rule's ``rule_id`` (the UUID in its TOML file), ``index``/``id`` the source
document's ``_index``/``_id``.  The leading tag keeps the kinds apart, and JSON keeps the
fields apart (``("a", "bc")`` and ``("ab", "c")`` encode differently).

Example: ``alert_id_for_event("r1", "logs", "abc")`` is
``sha256(b'["event","r1","logs","abc"]').hexdigest()``.

Kibana itself hashes the ancestors' ``_id``/``_index`` (plus ``_version`` and its saved-object
rule id), which a runner without Kibana's saved objects cannot reproduce; what matters is that
this runner is stable with itself across runs, machines and backends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

#: A term value of a new_terms alert, as the backend read it from the document.
TermValue = str | int | float | bool | None


def _digest(parts: Sequence[Any]) -> str:
    encoded = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def alert_id_for_event(rule_id: str, index: str, id: str) -> str:
    """The id of the alert built from one event by a query or EQL event rule."""
    return _digest(["event", rule_id, index, id])


def alert_id_for_new_terms(
    rule_id: str,
    index: str,
    id: str,
    terms: Sequence[TermValue],
) -> str:
    """The id of a new_terms alert: the event plus its new values, in field order."""
    return _digest(["new_terms", rule_id, index, id, list(terms)])


def alert_id_for_sequence(rule_id: str, events: Sequence[tuple[str, str] | None]) -> str:
    """The id of a sequence's shell alert (also its ``kibana.alert.group.id``).

    ``events`` holds ``(index, id)`` for each stage in order, None for a missing-event stage.
    """
    stages = [None if event is None else [event[0], event[1]] for event in events]
    return _digest(["sequence", rule_id, stages])


def alert_id_for_building_block(
    rule_id: str,
    index: str,
    id: str,
    shell_id: str,
    group_index: int,
) -> str:
    """The id of the building-block alert for one event of a sequence."""
    return _digest(["building_block", rule_id, shell_id, group_index, index, id])


def alert_id_for_esql_event(rule_id: str, index: str, id: str, expanded: Sequence[Any] = ()) -> str:
    """An ES|QL alert for a source document (``METADATA _id``, not aggregating): stable across
    windows, as Kibana's id from ``_id``/``_index``; with ``MV_EXPAND`` the expanded fields'
    values tell the rows of one document apart."""
    return _digest(["esql", rule_id, index, id, list(expanded)])


def alert_id_for_esql_row(rule_id: str, window: str, query: str, position: int) -> str:
    """An ES|QL alert for a row that is no source document (aggregating, or no ``_id``):
    Kibana hashes the window (``from`` + ``to``), the query and the row's position."""
    return _digest(["esql_row", rule_id, window, query, position])


def alert_id_for_bucket(rule_id: str, index: str, id: str, terms: Any, start: str, end: str) -> str:
    """The id of a query rule's suppression-group alert: its first event plus the group's
    terms and time span (as Kibana's wrapSuppressedAlerts hashes them), so two groups that
    share a first event (an array field) get two alerts."""
    return _digest(["bucket", rule_id, index, id, terms, start, end])


def suppression_instance_id(rule_id: str, terms: Any) -> str:
    """``kibana.alert.instance.id`` of a suppressed alert: the same for every alert of one
    rule with the same suppression terms (Kibana: objectHash([terms, ruleId, spaceId]))."""
    return _digest(["suppression", rule_id, terms])


def alert_id_for_threshold(rule_id: str, index: str, bucket_id: str) -> str:
    """A threshold alert: ``bucket_id`` is Kibana's ``calculateThresholdSignalUuid`` (a UUID v5
    of the rule, the execution start, the fields and the group's values), so each execution's
    alert for a group is new; the signal history keeps groups from alerting twice."""
    return _digest(["threshold", rule_id, index, bucket_id])
