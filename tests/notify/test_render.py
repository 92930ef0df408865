"""Templates: Kibana's mustache variables, runner's jinja2 defaults, and hostile values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.notify.connectors import connector_types
from runner.notify.context import build_view
from runner.notify.render import Templates, render_params
from tests.notify.factories import NOW, alert, emond_rule

HOSTILE = {
    "template": "{{7*7}} {% raw %} {{#context.alerts}}x{{/context.alerts}} ${jndi:ldap://x}",
    "html": '<script>alert(1)</script><a href="http://evil">&</a>',
    "newlines": "line one\nline two\r\nSubject: injected\n\n<@channel>",
    "huge": "A" * 1_000_000,
}


def hostile_alert(value: str) -> dict[str, object]:
    return alert("a-1", host=value, process={"name": value, "command_line": value,
                                             "parent": {"name": "emond"}})  # fmt: skip


def params(type_: str, value: str, kind: str = "alert") -> dict[str, object]:
    view = build_view(emond_rule(), [hostile_alert(value)], now=NOW, kind=kind)
    return connector_types()[type_].default_params(Templates(), kind, view)


def test_kibana_mustache_variables() -> None:
    view = build_view(emond_rule(), [alert("a-1"), alert("a-2", host="m2")], now=NOW,
                      kind="summary")  # fmt: skip
    out = render_params(
        {"message": "{{context.rule.name}} ({{state.signals_count}}): "
                    "{{#context.alerts}}[{{host.name}} {{kibana.alert.uuid}}]{{/context.alerts}}"
                    " {{alerts.new.count}} {{rule.id}}"},
        view, "none",
    )  # fmt: skip
    assert out["message"] == (
        "Suspicious Emond Child Process (2): [mac-01 a-1][m2 a-2] 2 "
        "3e3d15c6-1509-479a-b125-21718372157e"
    )


def test_mustache_objects_render_as_json_and_json_channel_escapes() -> None:
    view = build_view(emond_rule(), [hostile_alert('say "hi"\n')], now=NOW, kind="alert")
    out = render_params({"body": '{"host": "{{alert.host.name}}", "proc": {{{alert.process}}}}'},
                        view, "json")  # fmt: skip
    body = json.loads(out["body"])
    assert body["host"] == 'say "hi"\n'
    assert body["proc"]["parent"]["name"] == "emond"


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("kind", ["alert", "summary"])
def test_webhook_json_stays_valid_and_values_inert(name: str, kind: str) -> None:
    value = HOSTILE[name]
    body = json.loads(str(params(".webhook", value, kind)["body"]))
    host = body["alert"]["host"] if kind == "alert" else body["alerts"][0]["host"]
    if name == "huge":
        assert len(host) < 5000 and host.endswith("characters truncated]")
    else:
        assert host == value  # the exact value, as data: never evaluated


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_slack_escapes_its_control_characters(name: str) -> None:
    text = str(params(".slack", HOSTILE[name])["message"])
    assert "<script>" not in text and "<@channel>" not in text and "<http" not in text
    assert "49" not in text  # {{7*7}} stays literal
    assert len(text) < 20_000
    if name == "html":
        assert "&lt;script&gt;" in text


def test_email_subject_is_one_line_and_body_is_plain_text() -> None:
    p = params(".email", HOSTILE["newlines"])
    assert "\n" not in str(p["subject"])
    from runner.notify.connectors.email import build_message
    from tests.notify.factories import connector, notification

    n = notification(".email", alerts=[hostile_alert(HOSTILE["newlines"])])
    message = build_message(connector(".email"), n)
    assert message["Subject"].count("\n") == 0
    headers = str(message).split("\n\n", 1)[0]
    assert "\nSubject: injected" not in headers
    assert message.get_content_type() == "text/plain"


def test_syslog_message_is_one_line() -> None:
    from runner.notify.connectors.syslog import format_message
    from tests.notify.factories import notification

    n = notification(".server-log", alerts=[hostile_alert(HOSTILE["newlines"])])
    line = format_message(n, facility=1, app_name="runner", hostname="h")
    assert b"\n" not in line and b"\\n" in line
    big = notification(".server-log", alerts=[hostile_alert(HOSTILE["huge"])])
    assert len(format_message(big, facility=1, app_name="runner", hostname="h")) < 9000


def test_jinja_sandbox_refuses_unsafe_attribute_access(tmp_path: Path) -> None:
    from jinja2.exceptions import SecurityError

    (tmp_path / "webhook").mkdir()
    (tmp_path / "webhook" / "alert.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    view = build_view(emond_rule(), [alert("a-1")], now=NOW, kind="alert")
    with pytest.raises(SecurityError):
        Templates(tmp_path).render(".webhook", "alert", view)


def test_user_templates_override_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "slack").mkdir()
    (tmp_path / "slack" / "alert.j2").write_text("custom: {{ alert.host.name }}")
    view = build_view(emond_rule(), [alert("a-1")], now=NOW, kind="alert")
    templates = Templates(tmp_path)
    assert templates.render(".slack", "alert", view) == "custom: mac-01"
    assert "new alert" in templates.render(".slack", "summary", view)  # shipped one
