"""kibana.alert.reason reads exactly like Kibana's buildReasonMessageUtil."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from runner.alerts.fields import fields_view
from runner.alerts.reason import render_reason_text, template_value

FULL: dict[str, Any] = {
    "event": {"category": ["network"]},
    "process": {"name": "curl", "parent": {"name": "bash"}},
    "file": {"name": "payload.bin"},
    "source": {"ip": "10.0.0.5", "port": 51000},
    "destination": {"ip": "192.0.2.7", "port": 443},
    "user": {"name": "alice"},
    "host": {"name": "web-1"},
}


def reason(fields: Mapping[str, Any], name: str = "R", severity: str = "high") -> str:
    return render_reason_text(name=name, severity=severity, fields=fields)


def without(*paths: str) -> dict[str, list[Any]]:
    view = fields_view(FULL)
    for path in paths:
        del view[path]
    return view


def test_semantics_example() -> None:
    source = {
        "event": {"category": ["process"]},
        "process": {"name": "bash", "parent": {"name": "emond"}},
        "user": {"name": "root"},
        "host": {"name": "mac-01"},
    }
    assert reason(fields_view(source), "Suspicious Emond Child Process", "medium") == (
        "process event with process bash, parent process emond, by root on mac-01 "
        "created medium alert Suspicious Emond Child Process."
    )


def test_every_part() -> None:
    assert reason(fields_view(FULL)) == (
        "network event with process curl, parent process bash, file payload.bin, "
        "source 10.0.0.5:51000, destination 192.0.2.7:443, by alice on web-1 "
        "created high alert R."
    )


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        (
            ("event.category",),
            "event with process curl, parent process bash, file payload.bin, source "
            "10.0.0.5:51000, destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("process.name",),
            "network event with parent process bash, file payload.bin, source "
            "10.0.0.5:51000, destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("process.parent.name",),
            "network event with process curl, file payload.bin, source 10.0.0.5:51000, "
            "destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("file.name",),
            "network event with process curl, parent process bash, source 10.0.0.5:51000, "
            "destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("source.port",),  # no port: no colon, and no comma either
            "network event with process curl, parent process bash, file payload.bin, source "
            "10.0.0.5 destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("source.ip",),  # a port without an ip is still written
            "network event with process curl, parent process bash, file payload.bin,:51000, "
            "destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("source.ip", "source.port"),
            "network event with process curl, parent process bash, file payload.bin, "
            "destination 192.0.2.7:443, by alice on web-1 created high alert R.",
        ),
        (
            ("destination.port",),
            "network event with process curl, parent process bash, file payload.bin, source "
            "10.0.0.5:51000, destination 192.0.2.7 by alice on web-1 created high alert R.",
        ),
        (
            ("destination.ip", "destination.port"),
            "network event with process curl, parent process bash, file payload.bin, source "
            "10.0.0.5:51000, by alice on web-1 created high alert R.",
        ),
        (
            ("user.name",),
            "network event with process curl, parent process bash, file payload.bin, source "
            "10.0.0.5:51000, destination 192.0.2.7:443, on web-1 created high alert R.",
        ),
        (
            ("host.name",),
            "network event with process curl, parent process bash, file payload.bin, source "
            "10.0.0.5:51000, destination 192.0.2.7:443, by alice created high alert R.",
        ),
    ],
)
def test_each_part_missing(missing: tuple[str, ...], expected: str) -> None:
    assert reason(without(*missing)) == expected


def test_all_missing() -> None:
    assert reason({}) == "event created high alert R."


def test_user_and_host_alone_do_not_bring_with() -> None:
    assert reason({"user.name": ["root"], "host.name": ["h1"]}) == (
        "event by root on h1 created high alert R."
    )
    assert reason({"event.category": ["iam"], "user.name": ["root"]}) == (
        "iam event by root created high alert R."
    )


def test_only_a_field_of_interest_brings_with() -> None:
    assert reason({"file.name": ["a.txt"]}) == "event with file a.txt, created high alert R."


def test_array_category_lists_every_value() -> None:
    fields = {"event": {"category": ["process", "network"]}, "host": {"name": "h"}}
    assert reason(fields_view(fields)) == "process, network event on h created high alert R."


def test_array_values_are_joined_with_comma_space() -> None:
    fields = {"process.name": ["a", "b"], "source.port": [1, 2.5]}
    assert reason(fields) == "event with process a, b,:1, 2.5, created high alert R."


@pytest.mark.parametrize("value", [None, "", "-", ["-"], [], 0, 443, 1.5, True, {"a": 1}])
def test_values_left_out(value: Any) -> None:
    assert template_value(value) is None


def test_numeric_port_from_source_is_left_out_but_shown_from_fields() -> None:
    source = {"source": {"ip": "10.0.0.5", "port": 51000}}
    assert reason(source) == "event with source 10.0.0.5 created high alert R."
    assert reason(fields_view(source)) == "event with source 10.0.0.5:51000, created high alert R."


def test_string_values_from_source_and_dotted_keys() -> None:
    source = {"process.name": "cmd.exe", "host": {"name": "w1"}}
    assert reason(source) == "event with process cmd.exe, on w1 created high alert R."


def test_dash_inside_a_longer_array_is_kept() -> None:
    assert template_value(["-", "x"]) == "-, x"
    assert template_value([None, True, 3.0]) == ", true, 3"


def test_literal_null_text_is_dropped_but_still_brings_with() -> None:
    assert reason({"process.name": ["null"]}) == "event with created high alert R."


def test_template_injection_is_rendered_literally() -> None:
    fields = {
        "process.name": ["{{ 7*7 }}"],
        "user.name": ["{% for x in range(3) %}x{% endfor %}"],
        "host.name": ["{{ ''.__class__.__mro__ }}"],
    }
    assert reason(fields, name="{{ config }}", severity="low") == (
        "event with process {{ 7*7 }}, by {% for x in range(3) %}x{% endfor %} "
        "on {{ ''.__class__.__mro__ }} created low alert {{ config }}."
    )


def test_html_is_not_escaped() -> None:
    assert (
        reason({"file.name": ["<a&b>.txt"]}) == "event with file <a&b>.txt, created high alert R."
    )


def test_non_ascii_values() -> None:
    fields = {
        "event.category": ["процесс"],
        "process.name": ["计算器.exe"],
        "user.name": ["José"],
        "host.name": ["hôte-📦"],
    }
    assert reason(fields, name="Règle ünïcode") == (
        "процесс event with process 计算器.exe, by José on hôte-📦 created high alert "
        "Règle ünïcode."
    )


def test_no_trailing_newline_or_double_spaces() -> None:
    text = reason(fields_view(FULL))
    assert "\n" not in text
    assert "  " not in text
