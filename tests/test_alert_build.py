"""Alert documents: the Kibana shape for events, new terms and sequences."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.alerts import (
    DEFAULT_PROCESSORS,
    Alert,
    AlertContext,
    alert_id_for_building_block,
    alert_id_for_event,
    alert_id_for_new_terms,
    alert_id_for_sequence,
    build_event_alert,
    build_new_terms_alert,
    build_sequence_alerts,
    descends_from_rule,
)
from runner.alerts.merge import object_array_intersection, object_pair_intersection
from runner.eql.ast import EventQuery, Literal, Query
from runner.rules.model import NewTerms, Rule, Technique, Threat, ThreatEntry
from runner.search import Hit, MissingEvent, SequenceMatch

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
NOW_TEXT = "2024-05-01T12:00:00.123Z"

THREAT = Threat(
    framework="MITRE ATT&CK",
    tactic=ThreatEntry(id="TA0002", name="Execution", reference="https://attack.mitre.org/TA0002/"),
    techniques=(
        Technique(
            entry=ThreatEntry(
                id="T1059", name="Command", reference="https://attack.mitre.org/T1059/"
            ),
        ),
    ),
)


def make_rule(**overrides: Any) -> Rule:
    values: dict[str, Any] = {
        "path": Path("rules/suspicious_child.toml"),
        "rule_id": "6d6a1d3c-0000-4000-8000-000000000001",
        "name": "Suspicious Child",
        "description": "A shell started by a daemon.",
        "type": "eql",
        "language": "eql",
        "query": 'process where process.parent.name == "emond"',
        "parsed": Query(body=EventQuery(category=None, condition=Literal(value=True))),
        "index": ("logs-endpoint.events.*", "auditbeat-*"),
        "risk_score": 47,
        "severity": "medium",
        "from_": "now-9m",
        "interval": "5m",
        "max_signals": 100,
        "tags": ("Domain: Endpoint", "OS: macOS"),
        "references": ("https://example.org/a",),
        "threat": (THREAT,),
        "author": ("Elastic",),
        "license": "Elastic License v2",
        "false_positives": ("admins",),
        "version": 3,
    }
    values.update(overrides)
    return Rule(**values)


def event(doc_id: str, **source: Any) -> Hit:
    base: dict[str, Any] = {
        "@timestamp": "2024-05-01T11:58:30.5+00:00",
        "event": {"kind": "event", "category": ["process"], "type": ["start"], "module": "m"},
        "host": {"name": "mac-01", "os": {"family": "macos"}},
        "user": {"name": "root"},
        "process": {"name": "bash", "pid": 42, "parent": {"name": "emond"}},
    }
    base.update(source)
    return Hit(index="logs-endpoint.events.process-default", id=doc_id, source=base)


# -- single events --------------------------------------------------------------------------


def test_event_alert_has_every_listed_field() -> None:
    rule = make_rule(note="# Triage\nLook.", timestamp_override="event.ingested")
    hit = event("doc-1")
    alert = build_event_alert(rule, hit, now=NOW)

    expected_id = alert_id_for_event(rule.rule_id, hit.index, hit.id)
    assert alert["kibana.alert.uuid"] == expected_id
    assert alert["@timestamp"] == NOW_TEXT
    assert alert["event.kind"] == "signal"
    assert alert["kibana.alert.original_time"] == "2024-05-01T11:58:30.500Z"
    assert alert["kibana.alert.original_event.kind"] == "event"
    assert alert["kibana.alert.original_event.category"] == ["process"]
    assert alert["kibana.alert.original_event.type"] == ["start"]
    assert alert["kibana.alert.original_event.module"] == "m"
    assert alert["kibana.alert.ancestors"] == [
        {"id": "doc-1", "type": "event", "index": hit.index, "depth": 0}
    ]
    assert alert["kibana.alert.depth"] == 1
    assert alert["kibana.alert.status"] == "active"
    assert alert["kibana.alert.workflow_status"] == "open"
    assert alert["kibana.alert.workflow_tags"] == []
    assert alert["kibana.alert.workflow_assignee_ids"] == []
    assert alert["kibana.alert.severity"] == "medium"
    assert alert["kibana.alert.risk_score"] == 47
    assert alert["kibana.alert.reason"] == (
        "process event with process bash, parent process emond, by root on mac-01 "
        "created medium alert Suspicious Child."
    )
    assert alert["kibana.space_ids"] == ["default"]
    assert alert["kibana.alert.intended_timestamp"] == NOW_TEXT
    assert alert["kibana.alert.rule.execution.type"] == "scheduled"
    assert "kibana.alert.rule.execution.uuid" not in alert

    rule_fields = {k: v for k, v in alert.items() if k.startswith("kibana.alert.rule.")}
    assert rule_fields == {
        "kibana.alert.rule.author": ["Elastic"],
        "kibana.alert.rule.category": "Event Correlation Rule",
        "kibana.alert.rule.consumer": "siem",
        "kibana.alert.rule.description": "A shell started by a daemon.",
        "kibana.alert.rule.enabled": True,
        "kibana.alert.rule.execution.type": "scheduled",
        "kibana.alert.rule.false_positives": ["admins"],
        "kibana.alert.rule.from": "now-9m",
        "kibana.alert.rule.index": ["logs-endpoint.events.*", "auditbeat-*"],
        "kibana.alert.rule.indices": ["logs-endpoint.events.*", "auditbeat-*"],
        "kibana.alert.rule.interval": "5m",
        "kibana.alert.rule.language": "eql",
        "kibana.alert.rule.license": "Elastic License v2",
        "kibana.alert.rule.max_signals": 100,
        "kibana.alert.rule.name": "Suspicious Child",
        "kibana.alert.rule.note": "# Triage\nLook.",
        "kibana.alert.rule.parameters": {
            "author": ["Elastic"],
            "description": "A shell started by a daemon.",
            "false_positives": ["admins"],
            "from": "now-9m",
            "index": ["logs-endpoint.events.*", "auditbeat-*"],
            "language": "eql",
            "license": "Elastic License v2",
            "max_signals": 100,
            "note": "# Triage\nLook.",
            "query": 'process where process.parent.name == "emond"',
            "references": ["https://example.org/a"],
            "risk_score": 47,
            "risk_score_mapping": [],
            "rule_id": rule.rule_id,
            "severity": "medium",
            "severity_mapping": [],
            "threat": [THREAT.as_kibana()],
            "timestamp_override": "event.ingested",
            "to": "now",
            "type": "eql",
            "version": 3,
        },
        "kibana.alert.rule.producer": "siem",
        "kibana.alert.rule.query": 'process where process.parent.name == "emond"',
        "kibana.alert.rule.references": ["https://example.org/a"],
        "kibana.alert.rule.risk_score": 47,
        "kibana.alert.rule.revision": 0,
        "kibana.alert.rule.risk_score_mapping": [],
        "kibana.alert.rule.rule_id": rule.rule_id,
        "kibana.alert.rule.rule_type_id": "siem.eqlRule",
        "kibana.alert.rule.severity": "medium",
        "kibana.alert.rule.severity_mapping": [],
        "kibana.alert.rule.tags": ["Domain: Endpoint", "OS: macOS"],
        "kibana.alert.rule.threat": [THREAT.as_kibana()],
        "kibana.alert.rule.timestamp_override": "event.ingested",
        "kibana.alert.rule.to": "now",
        "kibana.alert.rule.type": "eql",
        "kibana.alert.rule.uuid": rule.rule_id,
        "kibana.alert.rule.version": 3,
    }
    assert "kibana.alert.building_block_type" not in alert
    assert "kibana.alert.group.id" not in alert

    # the source fields, nested as they came, without the event's own kind
    assert alert["event"] == {"category": ["process"], "type": ["start"], "module": "m"}
    assert alert["host"] == {"name": "mac-01", "os": {"family": "macos"}}
    assert alert["process"] == {"name": "bash", "pid": 42, "parent": {"name": "emond"}}
    # every kibana.* key is flat: no nested "kibana" object
    assert "kibana" not in alert
    json.dumps(alert)  # JSON-ready


def test_optional_rule_fields_are_omitted_when_unset() -> None:
    alert = build_event_alert(make_rule(license="", note=""), event("d"), now=NOW)
    for key in (
        "kibana.alert.rule.note",
        "kibana.alert.rule.license",
        "kibana.alert.rule.timestamp_override",
        "kibana.alert.rule.building_block_type",
        "kibana.alert.building_block_type",
    ):
        assert key not in alert


def test_building_block_rule_marks_its_alerts() -> None:
    alert = build_event_alert(make_rule(building_block_type="default"), event("d"), now=NOW)
    assert alert["kibana.alert.building_block_type"] == "default"
    assert alert["kibana.alert.rule.building_block_type"] == "default"


@pytest.mark.parametrize(
    ("rule_type", "language", "type_id", "category"),
    [
        ("eql", "eql", "siem.eqlRule", "Event Correlation Rule"),
        ("query", "kuery", "siem.queryRule", "Custom Query Rule"),
        ("new_terms", "kuery", "siem.newTermsRule", "New Terms Rule"),
    ],
)
def test_rule_type_ids(rule_type: str, language: str, type_id: str, category: str) -> None:
    rule = make_rule(type=rule_type, language=language)
    alert = build_event_alert(rule, event("d"), now=NOW)
    assert alert["kibana.alert.rule.type"] == rule_type
    assert alert["kibana.alert.rule.rule_type_id"] == type_id
    assert alert["kibana.alert.rule.category"] == category
    assert alert["kibana.alert.rule.language"] == language


def test_execution_fields() -> None:
    intended = datetime(2024, 4, 1, tzinfo=UTC)
    alert = build_event_alert(
        make_rule(), event("d"), now=NOW, execution_uuid="exec-1", intended_timestamp=intended
    )
    assert alert["kibana.alert.rule.execution.uuid"] == "exec-1"
    assert alert["kibana.alert.rule.execution.type"] == "manual"
    assert alert["kibana.alert.intended_timestamp"] == "2024-04-01T00:00:00.000Z"
    assert alert["@timestamp"] == NOW_TEXT


def test_source_copy_rules() -> None:
    hit = Hit(
        index="i",
        id="d",
        source={
            "@timestamp": 1714564800000,
            "host.name": "dotted-host",
            "event.kind": "event",
            "event.action": "exec",
            "data_stream": {"type": "logs", "dataset": "endpoint.events", "namespace": "default"},
            "kibana": {"alert": {"uuid": "forged"}},
            "kibana.alert.rule.name": "forged",
            "signal": {"rule": {"id": "old"}},
            "threshold_result": {"count": 3},
            "labels": {"empty": {}, "none": [], "kept": None, "list": [[], {}, "x"]},
            "tags": [],
        },
    )
    original = copy.deepcopy(dict(hit.source))
    alert = build_event_alert(make_rule(), hit, now=NOW)

    assert hit.source == original  # the event is not modified
    assert alert["host.name"] == "dotted-host"  # dotted keys stay dotted
    assert "host" not in alert
    assert alert["event.action"] == "exec"
    assert alert["event.kind"] == "signal"  # the event's flat kind is replaced
    assert alert["kibana.alert.original_event.kind"] == "event"
    assert alert["kibana.alert.original_event.action"] == "exec"
    assert alert["data_stream"] == {
        "type": "logs",
        "dataset": "endpoint.events",
        "namespace": "default",
    }
    assert alert["kibana.alert.original_data_stream.type"] == "logs"
    assert alert["kibana.alert.original_data_stream.dataset"] == "endpoint.events"
    assert alert["kibana.alert.original_data_stream.namespace"] == "default"
    assert "kibana" not in alert and "signal" not in alert and "threshold_result" not in alert
    assert alert["kibana.alert.rule.name"] == "Suspicious Child"
    assert alert["kibana.alert.uuid"] == alert_id_for_event(make_rule().rule_id, "i", "d")
    assert alert["labels"] == {"kept": None, "list": ["x"]}  # empty arrays/objects dropped
    assert "tags" not in alert
    assert alert["kibana.alert.original_time"] == "2024-05-01T12:00:00.000Z"  # epoch millis
    # a "signal" object marks a legacy (7.x) alert, as in Kibana: it is dropped from the copy
    # but makes the parent a "signal" ancestor
    assert alert["kibana.alert.ancestors"][0]["type"] == "signal"


def test_event_object_emptied_by_kind_removal_stays() -> None:
    alert = build_event_alert(make_rule(), event("d", event={"kind": "event"}), now=NOW)
    assert alert["event"] == {}
    assert alert["event.kind"] == "signal"


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2024-05-01T11:58:30Z", "2024-05-01T11:58:30.000Z"),
        ("2024-05-01T13:58:30.123456789+02:00", "2024-05-01T11:58:30.123Z"),
        ("1714564800000", "2024-05-01T12:00:00.000Z"),
        (["2024-05-01T11:58:30Z"], "2024-05-01T11:58:30.000Z"),
        ("yesterday", None),
        (None, None),
    ],
)
def test_original_time(timestamp: Any, expected: str | None) -> None:
    alert = build_event_alert(make_rule(), event("d", **{"@timestamp": timestamp}), now=NOW)
    assert alert.get("kibana.alert.original_time") == expected


def test_alert_on_alert_extends_ancestry() -> None:
    other_rule = "11111111-2222-3333-4444-555555555555"
    parent_alert = Hit(
        index=".internal.alerts-security.alerts-default-000001",
        id="alert-1",
        source={
            "@timestamp": "2024-05-01T11:00:00.000Z",
            "kibana.alert.uuid": "alert-1",
            "kibana.alert.depth": 1,
            "kibana.alert.rule.uuid": other_rule,
            "kibana.alert.ancestors": [{"id": "e", "type": "event", "index": "logs", "depth": 0}],
            "host": {"name": "h"},
        },
    )
    rule = make_rule()
    alert = build_event_alert(rule, parent_alert, now=NOW)
    assert alert["kibana.alert.ancestors"] == [
        {"id": "e", "type": "event", "index": "logs", "depth": 0},
        {
            "id": "alert-1",
            "type": "signal",
            "index": parent_alert.index,
            "depth": 1,
            "rule": other_rule,
        },
    ]
    assert alert["kibana.alert.depth"] == 2
    assert alert["kibana.alert.uuid"] != "alert-1"  # the parent's kibana.* is not copied
    assert not descends_from_rule(alert, rule)
    assert descends_from_rule(alert, make_rule(rule_id=other_rule))


def test_custom_processor_chain() -> None:
    def add_label(alert: Alert, ctx: AlertContext) -> Alert:
        alert["labels.runner"] = ctx.rule.name
        return alert

    alert = build_event_alert(
        make_rule(), event("d"), now=NOW, processors=(*DEFAULT_PROCESSORS, add_label)
    )
    assert alert["labels.runner"] == "Suspicious Child"
    assert alert["kibana.alert.uuid"]


def test_same_inputs_give_the_same_document() -> None:
    first = build_event_alert(make_rule(), event("d"), now=NOW)
    second = build_event_alert(make_rule(), event("d"), now=NOW)
    assert first == second
    assert json.dumps(first) == json.dumps(second)


# -- new terms ------------------------------------------------------------------------------


def test_new_terms_alert() -> None:
    rule = make_rule(
        type="new_terms",
        language="kuery",
        query="event.category:network",
        new_terms=NewTerms(fields=("host.name", "source.port"), history_window_start="now-14d"),
    )
    hit = event(
        "n1",
        event={"category": ["network"]},
        source={"ip": "10.0.0.9", "port": 4444},
        process={"name": "nc"},
    )
    alert = build_new_terms_alert(rule, hit, ("mac-01", 4444), now=NOW)
    assert alert["kibana.alert.new_terms"] == ["mac-01", 4444]
    assert alert["kibana.alert.uuid"] == alert_id_for_new_terms(
        rule.rule_id, hit.index, hit.id, ("mac-01", 4444)
    )
    assert alert["kibana.alert.uuid"] != alert_id_for_event(rule.rule_id, hit.index, hit.id)
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.newTermsRule"
    assert alert["kibana.alert.ancestors"] == [
        {"id": "n1", "type": "event", "index": hit.index, "depth": 0}
    ]
    assert alert["kibana.alert.depth"] == 1
    # new_terms documents come without `fields`, so Kibana reads _source: numeric port left out
    assert alert["kibana.alert.reason"] == (
        "network event with process nc, source 10.0.0.9 by root on mac-01 "
        "created medium alert Suspicious Child."
    )


# -- sequences ------------------------------------------------------------------------------


def two_events() -> tuple[Hit, Hit]:
    first = event(
        "e1",
        **{"@timestamp": "2024-05-01T11:58:00Z"},
        event={"kind": "event", "category": ["process"], "type": ["start"], "module": "m"},
        process={"name": "bash", "pid": 42, "args": ["-c", "id"], "parent": {"name": "emond"}},
        **{"source.ip": "10.0.0.1"},
    )
    second = event(
        "e2",
        **{"@timestamp": "2024-05-01T11:59:00Z"},
        event={"kind": "event", "category": ["process", "file"], "type": ["end"], "module": "m"},
        process={"name": "curl", "pid": 42, "args": ["-c", "-o", "x"], "parent": {"name": "emond"}},
        **{"source.ip": "10.0.0.1"},
    )
    return first, second


def test_two_event_sequence() -> None:
    rule = make_rule()
    first, second = two_events()
    shell, blocks = build_sequence_alerts(
        rule, SequenceMatch(join_keys=("mac-01",), events=(first, second)), now=NOW
    )

    shell_id = alert_id_for_sequence(
        rule.rule_id, [(first.index, first.id), (second.index, second.id)]
    )
    block_ids = [
        alert_id_for_building_block(rule.rule_id, first.index, first.id, shell_id, 0),
        alert_id_for_building_block(rule.rule_id, second.index, second.id, shell_id, 1),
    ]
    assert shell["kibana.alert.uuid"] == shell_id
    assert shell["kibana.alert.group.id"] == shell_id
    assert "kibana.alert.group.index" not in shell
    assert "kibana.alert.building_block_type" not in shell
    assert [b["kibana.alert.uuid"] for b in blocks] == block_ids
    assert [b["kibana.alert.group.id"] for b in blocks] == [shell_id, shell_id]
    assert [b["kibana.alert.group.index"] for b in blocks] == [0, 1]
    assert [b["kibana.alert.building_block_type"] for b in blocks] == ["default", "default"]

    # building blocks: a full event alert each, with its own event as ancestor
    for block, hit in zip(blocks, (first, second), strict=True):
        assert block["kibana.alert.ancestors"] == [
            {"id": hit.id, "type": "event", "index": hit.index, "depth": 0}
        ]
        assert block["kibana.alert.depth"] == 1
        assert block["process"]["name"] == hit.source["process"]["name"]
        assert block["kibana.alert.original_time"] == hit.source["@timestamp"].replace(
            ":00Z", ":00.000Z"
        )
    assert blocks[1]["kibana.alert.reason"] == (
        "process, file event with process curl, parent process emond, source 10.0.0.1 "
        "by root on mac-01 created medium alert Suspicious Child."
    )

    # shell: only what both events share
    assert shell["host"] == {"name": "mac-01", "os": {"family": "macos"}}
    assert shell["user"] == {"name": "root"}
    assert shell["process"] == {"pid": 42, "args": ["-c"], "parent": {"name": "emond"}}
    assert shell["event"] == {"category": ["process"], "type": [], "module": "m"}
    assert shell["source.ip"] == "10.0.0.1"  # dotted in both events: stays dotted
    assert shell["event.kind"] == "signal"
    assert shell["kibana.alert.original_event.module"] == "m"
    assert shell["kibana.alert.original_event.category"] == ["process"]
    assert shell["@timestamp"] == NOW_TEXT
    # the shell's parents are its building blocks
    assert shell["kibana.alert.depth"] == 2
    assert shell["kibana.alert.ancestors"] == [
        {"id": "e1", "type": "event", "index": first.index, "depth": 0},
        {"id": block_ids[0], "type": "signal", "index": "", "depth": 1, "rule": rule.rule_id},
        {"id": "e2", "type": "event", "index": second.index, "depth": 0},
        {"id": block_ids[1], "type": "signal", "index": "", "depth": 1, "rule": rule.rule_id},
    ]
    assert shell["kibana.alert.original_time"] == NOW_TEXT  # the first block's @timestamp
    assert shell["kibana.alert.reason"] == (
        "process event with parent process emond, source 10.0.0.1 by root on mac-01 "
        "created medium alert Suspicious Child."
    )
    assert shell["kibana.alert.rule.name"] == "Suspicious Child"
    assert shell["kibana.alert.severity"] == "medium"
    assert shell["kibana.alert.status"] == "active"
    assert "kibana" not in shell
    json.dumps([shell, *blocks])


def test_sequence_with_missing_stage() -> None:
    rule = make_rule()
    first, second = two_events()
    match = SequenceMatch(join_keys=("mac-01",), events=(first, MissingEvent(), second))
    shell, blocks = build_sequence_alerts(rule, match, now=NOW)

    shell_id = alert_id_for_sequence(
        rule.rule_id, [(first.index, first.id), None, (second.index, second.id)]
    )
    assert shell["kibana.alert.uuid"] == shell_id
    assert shell_id != alert_id_for_sequence(
        rule.rule_id, [(first.index, first.id), (second.index, second.id)]
    )
    assert len(blocks) == 2  # no building block for the missing event
    assert [b["kibana.alert.group.index"] for b in blocks] == [0, 1]  # counting found events
    assert [b["kibana.alert.group.id"] for b in blocks] == [shell_id, shell_id]
    assert [a["id"] for a in shell["kibana.alert.ancestors"] if a["type"] == "event"] == [
        "e1",
        "e2",
    ]
    assert blocks[1]["kibana.alert.uuid"] == alert_id_for_building_block(
        rule.rule_id, second.index, second.id, shell_id, 1
    )


def test_sequence_with_one_found_event_copies_it_whole() -> None:
    first, _ = two_events()
    match = SequenceMatch(join_keys=(), events=(MissingEvent(), first))
    shell, blocks = build_sequence_alerts(make_rule(), match, now=NOW)
    assert len(blocks) == 1
    assert shell["process"] == blocks[0]["process"]
    assert shell["process"] is not blocks[0]["process"]  # no shared structure
    assert shell["kibana.alert.uuid"] != blocks[0]["kibana.alert.uuid"]
    assert "kibana.alert.group.index" not in shell


def test_sequence_without_events_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        build_sequence_alerts(
            make_rule(), SequenceMatch(join_keys=(), events=(MissingEvent(),)), now=NOW
        )


def test_sequence_descends_from_its_events_not_its_own_blocks() -> None:
    rule = make_rule()
    first, second = two_events()
    alerts = build_sequence_alerts(
        rule, SequenceMatch(join_keys=(), events=(first, second)), now=NOW
    )
    assert descends_from_rule(alerts.shell, rule)  # its blocks are the rule's own alerts
    assert not alerts.descends_from(rule)
    own_alert = replace(
        second,
        source={**second.source, "kibana.alert.uuid": "x", "kibana.alert.rule.uuid": rule.rule_id},
    )
    fed_back = build_sequence_alerts(
        rule, SequenceMatch(join_keys=(), events=(first, own_alert)), now=NOW
    )
    assert fed_back.descends_from(rule)


# -- the merge of common fields -------------------------------------------------------------


def test_intersection_treats_dotted_and_nested_alike() -> None:
    a = {"user.name": "a", "host": {"name": "h"}, "x.y": 1}
    b = {"user": {"name": "a"}, "host.name": "h", "x.y": 1}
    assert object_pair_intersection(a, b) == {
        "user": {"name": "a"},
        "host": {"name": "h"},
        "x.y": 1,  # dotted in both
    }


def test_intersection_values() -> None:
    a = {"n": 1, "f": 1.0, "b": True, "s": "x", "none": None, "arr": ["a", "b", "a"], "o": {}}
    b = {"n": 1.0, "f": 1, "b": 1, "s": "y", "none": None, "arr": ["b", "a"], "o": {}}
    assert object_pair_intersection(a, b) == {"n": 1, "f": 1.0, "none": None, "arr": ["a", "b"]}
    assert object_pair_intersection({"a": "x"}, {"a": ["x", "y"]}) == {"a": ["x"]}
    assert object_pair_intersection({"a": [{"k": 1}]}, {"a": [{"k": 1}]}) == {"a": []}
    assert object_pair_intersection({"a": 1}, {"b": 1}) is None
    assert object_pair_intersection({"a": {"b": 1}}, {"a": {"b": 2}}) is None


def test_array_intersection_over_three_documents() -> None:
    docs = [
        {"ip": ["127.0.0.1", "127.0.0.2"], "agent": {"name": "a0", "type": "auditbeat"}},
        {"ip": ["127.0.0.1", "127.0.0.3"], "agent": {"name": "a1", "type": "auditbeat"}},
        {"ip": "127.0.0.1", "agent": {"name": "a2", "type": "auditbeat"}},
    ]
    assert object_array_intersection(docs) == {
        "ip": ["127.0.0.1"],
        "agent": {"type": "auditbeat"},
    }
    assert object_array_intersection([]) is None
