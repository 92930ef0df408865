"""Connector and action files: detection-rules' format, runner's plain form, and errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runner.notify.loader import load_notify_config
from runner.notify.model import Secret

KIBANA_CONNECTOR = """\
[metadata]
creation_date = "2024/05/01"
action_connector_name = "Action Connector soc-hook"
rule_ids = ["3e3d15c6-1509-479a-b125-21718372157e"]
rule_names = ["Suspicious Emond Child Process"]
updated_date = "2024/05/01"

[[action_connectors]]
id = "soc-hook"
type = "action"
managed = false
references = []

[action_connectors.attributes]
actionTypeId = ".webhook"
name = "SOC webhook"
isMissingSecrets = false

[action_connectors.attributes.config]
method = "post"
url = "http://127.0.0.1:9/hook"
hasAuth = true

[action_connectors.attributes.secrets]
user = { env = "HOOK_USER" }
password = { file = "/run/secrets/hook" }
"""

KIBANA_ACTIONS = """\
[metadata]
creation_date = "2024/05/01"
rule_id = ["3e3d15c6-1509-479a-b125-21718372157e"]
rule_name = "Suspicious Emond Child Process"
updated_date = "2024/05/01"

[[actions]]
action_type_id = ".webhook"
group = "default"
id = "soc-hook"

[actions.params]
body = "{\\"rule\\": \\"{{context.rule.name}}\\"}"

[actions.frequency]
summary = true
notifyWhen = "onThrottleInterval"
throttle = "1h"

[actions.alerts_filter.query]
kql = "host.os.type: macos"
filters = []
"""

PLAIN = """\
[[connector]]
id = "ops-mail"
type = ".email"
host = "127.0.0.1"
port = 2525
from = "runner@example.org"

[[action]]
rules = ["*"]
connector = "ops-mail"
frequency = "per_alert"
throttle = "30m"
throttle_by = ["host.name"]
filter = "kibana.alert.severity: (high or critical)"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_detection_rules_format(tmp_path: Path) -> None:
    write(tmp_path / "action_connectors", "hook.toml", KIBANA_CONNECTOR)
    write(tmp_path / "actions", "emond.toml", KIBANA_ACTIONS)
    config = load_notify_config([tmp_path / "action_connectors", tmp_path / "actions"])
    assert config.errors == ()
    connector = config.connectors["soc-hook"]
    assert connector.type == ".webhook" and connector.name == "SOC webhook"
    assert connector.config["url"] == "http://127.0.0.1:9/hook"
    assert connector.secrets == {"user": Secret(env="HOOK_USER"),
                                 "password": Secret(file="/run/secrets/hook")}  # fmt: skip
    [action] = config.actions
    assert action.rule_ids == ("3e3d15c6-1509-479a-b125-21718372157e",)
    assert action.summary and action.on_interval and action.throttle == timedelta(hours=1)
    assert action.alerts_filter is not None and action.alerts_filter.kql == "host.os.type: macos"
    assert config.actions_for("3e3d15c6-1509-479a-b125-21718372157e") == (action,)
    assert config.actions_for("other") == ()


def test_plain_form(tmp_path: Path) -> None:
    write(tmp_path / "actions", "ops.toml", PLAIN)
    config = load_notify_config([tmp_path / "actions"])
    assert config.errors == ()
    [action] = config.actions
    assert action.rule_ids == ("*",) and action.applies_to("anything")
    assert action.throttle_fields == ("host.name",)
    assert config.connectors["ops-mail"].config["port"] == 2525


def test_errors_name_file_and_key_and_spare_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "actions"
    write(folder, "a_good.toml", PLAIN)
    literal_text = (
        '[[connector]]\nid = "x"\ntype = ".slack"\n'
        '[connector.secrets]\nwebhookUrl = "https://hooks.slack.com/T/B/SECRETVALUE"\n'
    )
    literal = write(folder, "b_literal_secret.toml", literal_text)
    bad_kql_text = '[[action]]\nconnector = "ops-mail"\nfilter = "host.name: (a or"\n'
    bad_kql = write(folder, "c_bad_kql.toml", bad_kql_text)
    unknown = write(folder, "d_unknown.toml", '[[action]]\nconnector = "nope"\n')
    bad_type = write(folder, "e_type.toml", '[[connector]]\nid = "y"\ntype = ".jira"\n')
    broken = write(folder, "f_broken.toml", "[[action]\n")
    config = load_notify_config([folder])
    messages = [str(e) for e in config.errors]
    assert len(messages) == 5, messages
    assert any(m.startswith(f"{literal}: connector[0].secrets.webhookUrl: a secret must come")
               for m in messages)  # fmt: skip
    assert all("SECRETVALUE" not in m for m in messages)
    assert any(m.startswith(f"{bad_kql}: action[0].filter.query.kql: KQL") for m in messages)
    assert any(m.startswith(f"{unknown}: connector: unknown connector 'nope'") for m in messages)
    assert any(m.startswith(f"{bad_type}: connector[0].type: unsupported") for m in messages)
    assert any(m.startswith(f"{broken}: cannot read") for m in messages)
    assert [a.connector_id for a in config.actions] == ["ops-mail"]  # the good one survives


def test_throttle_and_notify_when_checks(tmp_path: Path) -> None:
    folder = tmp_path / "actions"
    write(folder, "c.toml", '[[connector]]\nid = "f"\ntype = ".file"\n')
    write(folder, "a.toml", '[metadata]\nrule_id = ["*"]\n[[actions]]\naction_type_id = ".file"\n'
                            'id = "f"\n[actions.params]\nmessage = "x"\n'
                            '[actions.frequency]\nnotifyWhen = "onThrottleInterval"\n')  # fmt: skip
    write(folder, "b.toml", '[[action]]\nconnector = "f"\nthrottle_by = ["host.name"]\n')
    messages = [str(e) for e in load_notify_config([folder]).errors]
    assert any("frequency.throttle: onThrottleInterval needs a throttle" in m for m in messages)
    assert any("throttle_by: throttle_by needs a throttle" in m for m in messages)


def test_kibana_filter_pills_are_refused_not_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "actions"
    write(folder, "c.toml", '[[connector]]\nid = "f"\ntype = ".file"\n')
    write(folder, "a.toml", '[metadata]\nrule_id = ["*"]\n[[actions]]\naction_type_id = ".file"\n'
                            'id = "f"\n[actions.params]\nmessage = "x"\n'
                            '[actions.alerts_filter.query]\nkql = ""\n'
                            'filters = [{ query = { match_all = {} } }]\n')  # fmt: skip
    config = load_notify_config([folder])
    assert config.actions == ()
    assert "actions[0].alerts_filter.query.filters: filters are not supported" in str(
        config.errors[0]
    )
