"""Wiring notifications together for a backend: config, templates, outbox, planner, worker.

The CLI calls :func:`build_notifications` once; the daemon gives the planner to every
execution and runs the worker on its own thread.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pystache

from runner.backends.base import Backend
from runner.config import Settings
from runner.daemon.metrics import Metrics
from runner.errors import DeliveryFailed, NotifyConfigError, RunnerError
from runner.logs import get_logger
from runner.notify.connectors import ConnectorType, IndexWriter, SendOptions, connector_types
from runner.notify.loader import NotifyConfig, load_notify_config
from runner.notify.model import Notification
from runner.notify.outbox.base import Outbox
from runner.notify.planner import Planner
from runner.notify.render import Templates
from runner.notify.worker import DeliveryWorker


@dataclass(kw_only=True)
class Notifications:
    config: NotifyConfig
    outbox: Outbox
    planner: Planner
    worker: DeliveryWorker
    types: Mapping[str, ConnectorType]
    errors: tuple[NotifyConfigError, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.config.actions)

    def replace_config(self, config: NotifyConfig) -> None:
        """New connectors and actions (a daemon reload); queued entries keep their params."""
        self.config = config
        self.errors = config.errors
        self.planner.config = config
        self.worker.connectors = config.connectors


def folders(settings: Settings, rules_dir: Path) -> tuple[Path, Path]:
    """(connectors folder, actions folder): configured, else beside the rules directory."""
    base = rules_dir.resolve().parent
    return (
        settings.notify.connectors or base / "action_connectors",
        settings.notify.actions or base / "actions",
    )


@dataclass(frozen=True)
class _History:
    outbox: Outbox
    backend: Backend

    def last_queued(self, throttle_key: str) -> datetime | None:
        return self.outbox.last_queued(throttle_key)

    def alerts_since(self, rule_id: str, since: datetime) -> list[dict[str, Any]]:
        return self.backend.list_alerts(rule_ids=[rule_id], since=since)

    def enqueue(self, notifications: Sequence[Notification]) -> int:
        return self.outbox.enqueue(notifications)


def outbox_for(backend: Backend) -> Outbox:
    from runner.backends.embedded import EmbeddedBackend

    if isinstance(backend, EmbeddedBackend):
        from runner.notify.outbox.embedded import EmbeddedOutbox

        return EmbeddedOutbox(backend.store.connect)
    from runner.backends.elasticsearch import ElasticsearchBackend

    if isinstance(backend, ElasticsearchBackend):
        from runner.notify.outbox.elastic import ElasticOutbox

        return ElasticOutbox(backend.client, backend.indices.outbox)
    raise RunnerError(f"no outbox for the {backend.name} backend")


def index_writer(backend: Backend) -> IndexWriter:
    """How the ``.index`` connector writes: a ``_bulk`` create, or an embedded event load."""
    from runner.backends.embedded import EmbeddedBackend

    def write(index: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        try:
            if isinstance(backend, EmbeddedBackend):
                from runner.embedded.ingest import load_events

                lines = "".join(
                    json.dumps({"_index": index, "_id": i, "_source": d}, default=str) + "\n"
                    for i, d in items
                )
                summary = load_events(backend.store, [io.BytesIO(lines.encode())])
                if summary.problems:
                    raise DeliveryFailed(f"index {index}: {summary.problems[0]}", retryable=False)
                return len(items)
            from runner.backends.elasticsearch import ElasticsearchBackend
            from runner.elastic.bulk import Create, bulk_create

            assert isinstance(backend, ElasticsearchBackend)
            outcome = bulk_create(backend.client, [Create(index=index, id=i, doc=d)
                                                   for i, d in items])  # fmt: skip
            if outcome.failed:
                raise DeliveryFailed(f"index {index}: {outcome.failed[0][1]}", retryable=True)
            return len(outcome.created) + len(outcome.duplicates)
        except DeliveryFailed:
            raise
        except RunnerError as exc:
            raise DeliveryFailed(f"index {index}: {exc}", retryable=True) from None

    return write


def validate(config: NotifyConfig, types: Mapping[str, ConnectorType]) -> NotifyConfig:
    """``config`` without the connectors whose settings their type rejects and the actions
    whose mustache params do not parse (or whose connector was dropped); errors added."""
    errors = list(config.errors)
    connectors = {}
    for connector in config.connectors.values():
        problems = types[connector.type].check(connector)
        for key, message in problems:
            errors.append(NotifyConfigError(message, path=connector.source,
                                            key=f"connector {connector.id}: {key}"))  # fmt: skip
        if not problems:
            connectors[connector.id] = connector
    actions = []
    for action in config.actions:
        ok = action.connector_id in connectors
        for key, text in _strings(action.params or {}, "params"):
            try:
                pystache.parse(text)
            except Exception as exc:  # noqa: BLE001  # pystache raises bare exception types
                errors.append(NotifyConfigError(f"mustache: {exc}", path=action.source, key=key))
                ok = False
        if ok:
            actions.append(action)
    return NotifyConfig(connectors=connectors, actions=tuple(actions), errors=tuple(errors))


def _strings(value: Any, key: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(key, value)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _strings(v, f"{key}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{key}[{i}]")]
    return []


def load_config(
    settings: Settings, rules_dir: Path, types: Mapping[str, ConnectorType]
) -> NotifyConfig:
    """Connectors and actions; a broken one is logged and left out, the rest keeps working."""
    config = validate(load_notify_config(folders(settings, rules_dir)), types)
    for error in config.errors:
        get_logger().warning("notify_config_error", error=error.message)
    return config


def build_notifications(
    settings: Settings, rules_dir: Path, backend: Backend, *, metrics: Metrics | None = None
) -> Notifications:
    types = connector_types(index_writer(backend))
    config = load_config(settings, rules_dir, types)
    outbox = outbox_for(backend)
    templates = Templates(settings.notify.templates)
    planner = Planner(
        config=config, templates=templates, types=types, history=_History(outbox, backend)
    )
    worker = DeliveryWorker(
        outbox=outbox,
        connectors=config.connectors,
        types=types,
        options=SendOptions(timeout=settings.notify.timeout),
        # Far longer than one send can take, so a lease only expires on a dead runner (the
        # worker leaves an entry with less than two sends' time of claim left for later).
        lease=timedelta(seconds=max(settings.notify.timeout * 6, 3.0)),
        retry_base=settings.notify.retry_base,
        retry_max=settings.notify.retry_max,
        metrics=metrics,
    )
    return Notifications(config=config, outbox=outbox, planner=planner, worker=worker,
                         types=types, errors=config.errors)  # fmt: skip
