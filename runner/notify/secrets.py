"""Secrets of connectors: from environment variables or files, read at send time only.

A connector file names where a secret lives (``{ env = "VAR" }`` or ``{ file = "PATH" }``);
a secret it does not name is looked up in ``RUNNER_SECRET_<CONNECTOR ID>_<KEY>``.  Values are
never part of a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from runner.errors import DeliveryFailed
from runner.notify.model import Connector, Secret


def default_env(connector_id: str, key: str) -> str:
    """``RUNNER_SECRET_OPS_WEBHOOK_PASSWORD`` for connector ``ops-webhook``, key ``password``."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", f"{connector_id}_{_snake(key)}").strip("_")
    return f"RUNNER_SECRET_{name.upper()}"


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key)


def secret(
    connector: Connector, key: str, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The secret's value, or None when it is not set anywhere."""
    environ = os.environ if environ is None else environ
    where = connector.secrets.get(key) or Secret(env=default_env(connector.id, key))
    if where.env:
        value = environ.get(where.env)
        return value if value else None
    assert where.file is not None
    try:
        return Path(where.file).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise DeliveryFailed(
            f"connector {connector.id}: cannot read secret {key!r} from {where.file}: "
            f"{exc.strerror or type(exc).__name__}",
            retryable=True,
        ) from None


def required_secret(
    connector: Connector, key: str, *, environ: Mapping[str, str] | None = None
) -> str:
    value = secret(connector, key, environ=environ)
    if value is None:
        where = connector.secrets.get(key) or Secret(env=default_env(connector.id, key))
        # Retryable: an operator can set it without losing what is queued.
        raise DeliveryFailed(
            f"connector {connector.id}: secret {key!r} is not set ({where.describe()})",
            retryable=True,
        )
    return value
