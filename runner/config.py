"""Configuration: TOML file < ``RUNNER_*`` environment variables < command-line flags.

Every setting is declared once in :data:`SETTINGS` (key, environment variable, parser), so
validation reports every problem with its key and where the bad value came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from runner.errors import ConfigError, ConfigProblem
from runner.logs import redact_text
from runner.timeutil import TimeParseError, parse_duration

DEFAULT_CONFIG_FILE = Path("runner.toml")
DEFAULT_STORE = Path(".runner/runner.duckdb")
DEFAULT_RULES_DIR = Path("rules")
DEFAULT_ALERTS_INDEX = "runner-alerts-default"


@dataclass(frozen=True, kw_only=True)
class ElasticsearchSettings:
    hosts: tuple[str, ...] = ()
    cloud_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: Path | None = None
    # SHA-256 of the cluster's certificate (hex, colons allowed): pins it instead of a CA chain.
    ssl_assert_fingerprint: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    max_retries: int = 3
    index_prefix: str = "runner"  # runner-state, runner-executions, runner-gaps

    @property
    def configured(self) -> bool:
        return bool(self.hosts or self.cloud_id)


@dataclass(frozen=True, kw_only=True)
class NotifySettings:
    """Where connectors, actions and template overrides live; how delivery retries."""

    actions: Path | None = None  # None: ``actions/`` beside the rules directory
    connectors: Path | None = None  # None: ``action_connectors/`` beside the rules directory
    templates: Path | None = None  # user overrides of templates/notify/<type>/<kind>.j2
    interval: timedelta = timedelta(seconds=5)  # daemon: how often the outbox is delivered
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=5)
    timeout: float = 10.0  # one send attempt


@dataclass(frozen=True, kw_only=True)
class Settings:
    rules: Path | None = None  # None: ./rules if present, else the packaged seed rules
    exceptions: Path | None = None  # None: the exceptions/ folder beside the rules folder
    store: Path = DEFAULT_STORE
    log_level: str | None = None  # None: the command decides (info for the daemon)
    log_format: str = "auto"
    alerts_index: str = DEFAULT_ALERTS_INDEX
    workers: int = 2
    grace: timedelta = timedelta(seconds=30)
    metrics_port: int | None = None
    daemon_name: str | None = None  # None: hostname-pid (leases, metrics, logs)
    lease_ttl: timedelta = timedelta(seconds=30)  # a lease lapses this long after renewal
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _path(value: object) -> Path:
    return Path(_text(value)).expanduser()


def _choice(*options: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = _text(value).lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return text

    return parse


def _int(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        try:
            number = int(value) if isinstance(value, int | str) else None
        except ValueError:
            number = None
        if number is None:
            raise ValueError(f"expected an integer, got {value!r}")
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    return parse


def _positive_float(value: object) -> float:
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        number = None
    if number is None or isinstance(value, bool) or number <= 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _duration(value: object) -> timedelta:
    try:
        return parse_duration(_text(value))
    except TimeParseError as exc:
        raise ValueError(str(exc)) from None


def _hosts(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("expected a URL or a list of URLs")
    hosts = tuple(_text(item) for item in items)
    for host in hosts:
        if not host.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {redact_text(host)!r}")
    return hosts


def _fingerprint(value: object) -> str:
    text = _text(value).replace(":", "").lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError("expected the certificate's SHA-256 fingerprint: 64 hex digits")
    return text


@dataclass(frozen=True, kw_only=True)
class Setting:
    key: str  # dotted: "store", "elasticsearch.hosts"
    env: str
    parse: Callable[[object], Any]
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(key="rules", env="RUNNER_RULES", parse=_path),
    Setting(key="exceptions", env="RUNNER_EXCEPTIONS", parse=_path),
    Setting(key="store", env="RUNNER_STORE", parse=_path),
    Setting(key="log_level", env="RUNNER_LOG_LEVEL",
            parse=_choice("debug", "info", "warning", "error")),
    Setting(key="log_format", env="RUNNER_LOG_FORMAT", parse=_choice("auto", "console", "json")),
    Setting(key="alerts.index", env="RUNNER_ALERTS_INDEX", parse=_text),
    Setting(key="daemon.workers", env="RUNNER_DAEMON_WORKERS", parse=_int(1, 64)),
    Setting(key="daemon.grace", env="RUNNER_DAEMON_GRACE", parse=_duration),
    Setting(key="daemon.metrics_port", env="RUNNER_DAEMON_METRICS_PORT", parse=_int(1, 65535)),
    Setting(key="daemon.name", env="RUNNER_DAEMON_NAME", parse=_text),
    Setting(key="daemon.lease_ttl", env="RUNNER_DAEMON_LEASE_TTL", parse=_duration),
    Setting(key="elasticsearch.hosts", env="RUNNER_ES_URL", parse=_hosts),
    Setting(key="elasticsearch.cloud_id", env="RUNNER_ES_CLOUD_ID", parse=_text),
    Setting(key="elasticsearch.api_key", env="RUNNER_ES_API_KEY", parse=_text, secret=True),
    Setting(key="elasticsearch.username", env="RUNNER_ES_USERNAME", parse=_text),
    Setting(key="elasticsearch.password", env="RUNNER_ES_PASSWORD", parse=_text, secret=True),
    Setting(key="elasticsearch.ca_certs", env="RUNNER_ES_CA_CERTS", parse=_path),
    Setting(key="elasticsearch.ssl_assert_fingerprint", env="RUNNER_ES_SSL_ASSERT_FINGERPRINT",
            parse=_fingerprint),
    Setting(key="elasticsearch.verify_certs", env="RUNNER_ES_VERIFY_CERTS", parse=_bool),
    Setting(key="elasticsearch.request_timeout", env="RUNNER_ES_REQUEST_TIMEOUT",
            parse=_positive_float),
    Setting(key="elasticsearch.max_retries", env="RUNNER_ES_MAX_RETRIES", parse=_int(0, 100)),
    Setting(key="elasticsearch.index_prefix", env="RUNNER_ES_INDEX_PREFIX", parse=_text),
    Setting(key="notify.actions", env="RUNNER_NOTIFY_ACTIONS", parse=_path),
    Setting(key="notify.connectors", env="RUNNER_NOTIFY_CONNECTORS", parse=_path),
    Setting(key="notify.templates", env="RUNNER_NOTIFY_TEMPLATES", parse=_path),
    Setting(key="notify.interval", env="RUNNER_NOTIFY_INTERVAL", parse=_duration),
    Setting(key="notify.retry_base", env="RUNNER_NOTIFY_RETRY_BASE", parse=_duration),
    Setting(key="notify.retry_max", env="RUNNER_NOTIFY_RETRY_MAX", parse=_duration),
    Setting(key="notify.timeout", env="RUNNER_NOTIFY_TIMEOUT", parse=_positive_float),
)  # fmt: skip
_BY_KEY = {setting.key: setting for setting in SETTINGS}


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Merge file < environment < ``overrides`` (flags, keyed like :data:`SETTINGS`).

    ``config_file`` None means ``./runner.toml`` when it exists.  Raises :class:`ConfigError`
    listing every problem.
    """
    environ = os.environ if environ is None else environ
    problems: list[ConfigProblem] = []
    values: dict[str, Any] = {}
    set_by: dict[str, str] = {}  # key -> the layer that gave its value
    file_values, file_name = _read_file(config_file, problems)

    layers: list[tuple[str, Mapping[str, object]]] = [(file_name, file_values)]
    env_values = {s.key: environ[s.env] for s in SETTINGS if environ.get(s.env, "").strip()}
    layers.append(("environment", {k: v for k, v in env_values.items()}))
    layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
    for source, layer in layers:
        for key, raw in layer.items():
            setting = _BY_KEY.get(key)
            if setting is None:
                problems.append(ConfigProblem(key=key, message="unknown setting", source=source))
                continue
            try:
                values[key] = setting.parse(raw)
                set_by[key] = source
            except ValueError as exc:
                label = f"{setting.env}" if source == "environment" else key
                problems.append(ConfigProblem(key=label, message=str(exc), source=source))
    if values.get("elasticsearch.password") and not values.get("elasticsearch.username"):
        problems.append(
            ConfigProblem(
                key="elasticsearch.username",
                message="password given without username",
                source=set_by.get("elasticsearch.password", ""),
            )
        )
    if problems:
        raise ConfigError(problems)
    es = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("elasticsearch.")}
    notify = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("notify.")}
    return Settings(
        rules=values.get("rules"),
        exceptions=values.get("exceptions"),
        store=values.get("store", DEFAULT_STORE),
        log_level=values.get("log_level"),
        log_format=values.get("log_format", "auto"),
        alerts_index=values.get("alerts.index", DEFAULT_ALERTS_INDEX),
        workers=values.get("daemon.workers", 2),
        grace=values.get("daemon.grace", timedelta(seconds=30)),
        metrics_port=values.get("daemon.metrics_port"),
        daemon_name=values.get("daemon.name"),
        lease_ttl=values.get("daemon.lease_ttl", timedelta(seconds=30)),
        elasticsearch=ElasticsearchSettings(**es),
        notify=NotifySettings(**notify),
    )


def _read_file(path: Path | None, problems: list[ConfigProblem]) -> tuple[dict[str, object], str]:
    explicit = path is not None
    path = path or DEFAULT_CONFIG_FILE
    if not path.exists():
        if explicit:
            problems.append(ConfigProblem(key="--config", message=f"file not found: {path}"))
        return {}, str(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(
            ConfigProblem(key="(file)", message=f"cannot read: {exc}", source=str(path))
        )
        return {}, str(path)
    flat: dict[str, object] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"{key}.{sub}"] = inner
        else:
            flat[key] = value
    return flat, str(path)
