"""Load connectors and rule actions from their folders.

Two forms, both TOML, in any file of either folder:

- elastic/detection-rules' own (``detection_rules/action_connector.py`` and ``action.py``):
  ``[[action_connectors]]`` with ``attributes.actionTypeId/name/config/secrets``, and
  ``[metadata] rule_id = [...]`` with ``[[actions]]`` (``action_type_id``, ``group``, ``id``
  = the connector id, ``params``, ``frequency``, ``alerts_filter``), as Kibana exports them;
- runner's plain form: ``[[connector]]`` (``id``, ``type``, config keys, ``[connector.secrets]``)
  and ``[[action]]`` (``rules``, ``connector``, ``frequency = "per_alert" | "summary"``,
  ``throttle``, ``throttle_by``, ``filter``, ``params``).

Every problem is collected with its file and key; one broken item never stops the others.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from runner.errors import NotifyConfigError, QueryError
from runner.kql.parser import parse_kql
from runner.notify.model import CONNECTOR_TYPES, Action, AlertsFilter, Connector, Secret
from runner.timeutil import TimeParseError, parse_duration

_NOTIFY_WHEN = ("onActionGroupChange", "onActiveAlert", "onThrottleInterval")


@dataclass(frozen=True, kw_only=True)
class NotifyConfig:
    connectors: Mapping[str, Connector] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    errors: tuple[NotifyConfigError, ...] = ()

    def actions_for(self, rule_id: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.applies_to(rule_id))


def load_notify_config(folders: Iterable[Path]) -> NotifyConfig:
    """Every ``*.toml`` under the folders (missing folders are skipped)."""
    reader = _Reader()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.toml")):
            reader.read_file(path)
    errors = list(reader.errors)
    actions = []
    for action in reader.actions:
        connector = reader.connectors.get(action.connector_id)
        if connector is None:
            errors.append(NotifyConfigError(
                f"unknown connector {action.connector_id!r} (known: "
                f"{', '.join(sorted(reader.connectors)) or 'none'})",
                path=action.source, key="connector",
            ))  # fmt: skip
        elif action.action_type_id and action.action_type_id != connector.type:
            errors.append(NotifyConfigError(
                f"action_type_id {action.action_type_id} does not match connector "
                f"{connector.id} of type {connector.type}", path=action.source,
                key="action_type_id",
            ))  # fmt: skip
        else:
            actions.append(action)
    return NotifyConfig(
        connectors=dict(reader.connectors), actions=tuple(actions), errors=tuple(errors)
    )


class _Reader:
    def __init__(self) -> None:
        self.connectors: dict[str, Connector] = {}
        self.actions: list[Action] = []
        self.errors: list[NotifyConfigError] = []

    def read_file(self, path: Path) -> None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            self.errors.append(NotifyConfigError(f"cannot read: {exc}", path=str(path)))
            return
        known = {"metadata", "action_connectors", "actions", "connector", "action"}
        for key in document:
            if key not in known:
                self.errors.append(NotifyConfigError("unknown table", path=str(path), key=key))
        for i, item in enumerate(_tables(document.get("action_connectors"))):
            self._item(path, f"action_connectors[{i}]", lambda it=item: _kibana_connector(it))
        for i, item in enumerate(_tables(document.get("connector"))):
            self._item(path, f"connector[{i}]", lambda it=item: _plain_connector(it))
        raw_meta = document.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        for i, item in enumerate(_tables(document.get("actions"))):
            where = f"actions[{i}]"
            self._item(path, where, lambda it=item, w=where: _kibana_action(it, meta, path, w))
        for i, item in enumerate(_tables(document.get("action"))):
            where = f"action[{i}]"
            self._item(path, where, lambda it=item, w=where: _plain_action(it, path, w))

    def _item(self, path: Path, where: str, build: Any) -> None:
        try:
            value = build()
        except _Problem as exc:
            key = f"{where}.{exc.key}" if exc.key else where
            self.errors.append(NotifyConfigError(exc.message, path=str(path), key=key))
            return
        if isinstance(value, Connector):
            if value.id in self.connectors:
                self.errors.append(NotifyConfigError(
                    f"connector id {value.id!r} is already defined in "
                    f"{self.connectors[value.id].source}", path=str(path), key=f"{where}.id",
                ))  # fmt: skip
                return
            self.connectors[value.id] = Connector(
                id=value.id, name=value.name, type=value.type, config=value.config,
                secrets=value.secrets, source=str(path),
            )  # fmt: skip
        else:
            self.actions.append(value)


class _Problem(Exception):
    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def _tables(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return cast(list[dict[str, Any]], value)
    raise _Problem("expected an array of tables")


def _str(table: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _Problem("expected a non-empty string", key)
    return value.strip()


def _secrets(value: Any, prefix: str) -> dict[str, Secret]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Problem("expected a table of { env = ... } or { file = ... }", prefix)
    secrets = {}
    for key, where in value.items():
        if isinstance(where, dict) and set(where) == {"env"} and isinstance(where["env"], str):
            secrets[key] = Secret(env=where["env"])
        elif isinstance(where, dict) and set(where) == {"file"} and isinstance(where["file"], str):
            secrets[key] = Secret(file=where["file"])
        else:
            # Never echo the value: it may be the secret itself.
            raise _Problem(
                "a secret must come from an environment variable or a file: "
                '{ env = "VAR" } or { file = "/path" }',
                f"{prefix}.{key}",
            )
    return secrets


def _connector_type(value: str, key: str) -> str:
    if value == ".syslog":
        return ".server-log"
    if value not in CONNECTOR_TYPES:
        raise _Problem(f"unsupported connector type {value!r} (supported: "
                       f"{', '.join(CONNECTOR_TYPES)})", key)  # fmt: skip
    return value


def _kibana_connector(item: Mapping[str, Any]) -> Connector:
    attributes = item.get("attributes")
    if not isinstance(attributes, dict):
        raise _Problem("missing [attributes]", "attributes")
    config = attributes.get("config", {})
    if not isinstance(config, dict):
        raise _Problem("expected a table", "attributes.config")
    return Connector(
        id=_str(item, "id"),
        name=str(attributes.get("name") or item["id"]),
        type=_connector_type(_str(attributes, "actionTypeId"), "attributes.actionTypeId"),
        config=config,
        secrets=_secrets(attributes.get("secrets"), "attributes.secrets"),
    )


def _plain_connector(item: Mapping[str, Any]) -> Connector:
    config = {k: v for k, v in item.items() if k not in ("id", "name", "type", "secrets")}
    return Connector(
        id=_str(item, "id"),
        name=str(item.get("name") or item["id"]),
        type=_connector_type(_str(item, "type"), "type"),
        config=config,
        secrets=_secrets(item.get("secrets"), "secrets"),
    )


def _duration(value: Any, key: str) -> timedelta | None:
    if value is None:
        return None
    try:
        parsed = parse_duration(str(value))
    except TimeParseError as exc:
        raise _Problem(str(exc), key) from None
    if parsed <= timedelta(0):
        raise _Problem("must be positive", key)
    return parsed


def _kql(text: Any, key: str) -> str | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise _Problem("expected a KQL string", key)
    try:
        parse_kql(text)
    except QueryError as exc:
        raise _Problem(f"KQL {exc}", key) from None
    return text


def _alerts_filter(value: Any, key: str) -> AlertsFilter | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Problem("expected a table", key)
    query = value.get("query") or {}
    if isinstance(query, dict) and query.get("filters"):
        # Kibana's filter pills (query DSL objects): refused, never silently ignored.
        raise _Problem("filters are not supported; express them in the kql query",
                       f"{key}.query.filters")  # fmt: skip
    kql = _kql(query.get("kql") if isinstance(query, dict) else query, f"{key}.query.kql")
    frame = value.get("timeframe")
    if frame is None:
        return AlertsFilter(kql=kql)
    if not isinstance(frame, dict):
        raise _Problem("expected a table", f"{key}.timeframe")
    days = frame.get("days", [])
    if not isinstance(days, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in days):
        raise _Problem("expected ISO weekdays 1 (Monday) to 7", f"{key}.timeframe.days")
    hours = frame.get("hours") or {}
    start, end = hours.get("start"), hours.get("end")
    for name, text in (("start", start), ("end", end)):
        if text is not None and not _is_clock(text):
            raise _Problem("expected HH:MM", f"{key}.timeframe.hours.{name}")
    timezone = str(frame.get("timezone") or "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise _Problem(f"unknown time zone {timezone!r}", f"{key}.timeframe.timezone") from None
    return AlertsFilter(
        kql=kql, days=tuple(days), hours_start=start, hours_end=end, timezone=timezone
    )


def _is_clock(text: Any) -> bool:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        return False
    hh, mm = text[:2], text[3:]
    return hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60


def _rule_ids(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _Problem('expected a list of rule ids (or "*")', key)
    return tuple(value)


def _kibana_action(
    item: Mapping[str, Any], meta: Mapping[str, Any], path: Path, where: str
) -> Action:
    frequency = item.get("frequency") or {}
    if not isinstance(frequency, dict):
        raise _Problem("expected a table", "frequency")
    notify_when = frequency.get("notifyWhen", "onActiveAlert")
    if notify_when not in _NOTIFY_WHEN:
        raise _Problem(f"expected one of {', '.join(_NOTIFY_WHEN)}", "frequency.notifyWhen")
    params = item.get("params")
    if not isinstance(params, dict):
        raise _Problem("expected a table", "params")
    throttle = _duration(frequency.get("throttle"), "frequency.throttle")
    if notify_when == "onThrottleInterval" and throttle is None:
        raise _Problem("onThrottleInterval needs a throttle", "frequency.throttle")
    return Action(
        rule_ids=_rule_ids(meta.get("rule_id"), "metadata.rule_id"),
        connector_id=_str(item, "id"),
        action_type_id=_connector_type(_str(item, "action_type_id"), "action_type_id"),
        group=str(item.get("group") or "default"),
        params=params,
        summary=bool(frequency.get("summary", False)),
        notify_when=notify_when,
        throttle=throttle,
        alerts_filter=_alerts_filter(
            item.get("alerts_filter", item.get("alertsFilter")), "alerts_filter"
        ),
        uuid=str(item.get("uuid") or f"{path.name}#{where}"),
        source=str(path),
    )


def _plain_action(item: Mapping[str, Any], path: Path, where: str) -> Action:
    known = {"rules", "connector", "frequency", "throttle", "throttle_by", "filter", "params",
             "timeframe", "id"}  # fmt: skip
    for key in item:
        if key not in known:
            raise _Problem("unknown key", key)
    frequency = item.get("frequency", "per_alert")
    if frequency not in ("per_alert", "summary"):
        raise _Problem('expected "per_alert" or "summary"', "frequency")
    throttle = _duration(item.get("throttle"), "throttle")
    throttle_by = item.get("throttle_by", [])
    if not isinstance(throttle_by, list) or not all(isinstance(f, str) for f in throttle_by):
        raise _Problem("expected a list of field names", "throttle_by")
    if throttle_by and throttle is None:
        raise _Problem("throttle_by needs a throttle", "throttle_by")
    params = item.get("params")
    if params is not None and not isinstance(params, dict):
        raise _Problem("expected a table", "params")
    filter_value: dict[str, Any] = {}
    if item.get("filter") is not None:
        filter_value["query"] = {"kql": item["filter"]}
    if item.get("timeframe") is not None:
        filter_value["timeframe"] = item["timeframe"]
    return Action(
        rule_ids=_rule_ids(item.get("rules", "*"), "rules"),
        connector_id=_str(item, "connector"),
        action_type_id="",
        params=params,
        summary=frequency == "summary",
        notify_when="onThrottleInterval" if throttle else "onActiveAlert",
        throttle=throttle,
        throttle_fields=tuple(throttle_by),
        alerts_filter=_alerts_filter(filter_value or None, "filter"),
        merge_defaults=True,
        uuid=str(item.get("id") or f"{path.name}#{where}"),
        source=str(path),
    )
