"""Rendering notification text: Kibana's mustache params and runner's jinja2 defaults.

Values are data, never template source: neither engine re-reads a rendered value, so
``{{`` inside an alert field stays literal.  Each channel escapes values its own way (as
Kibana's mustache renderer does: ``json`` for webhook bodies, ``slack`` for Slack,
``markdown`` for e-mail and Teams), and every string in the view is capped so a 1 MB field
cannot make a 1 MB chat message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import pystache
from jinja2.sandbox import SandboxedEnvironment

from runner.resources import templates_dir

Escape = Literal["json", "slack", "markdown", "none"]
MAX_VALUE = 4096  # characters of one field value in a message

ESCAPE_OF: dict[str, Escape] = {
    ".webhook": "json",
    ".slack": "slack",
    ".teams": "markdown",
    ".email": "none",  # sent as text/plain: HTML in a value is inert
    ".pagerduty": "none",
    ".server-log": "none",
    ".index": "none",  # documents are objects, not JSON text
    ".file": "none",
}


def cap(value: Any, limit: int = MAX_VALUE) -> Any:
    """Every string in ``value`` cut to ``limit`` characters, saying how much was cut."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return value[:limit] + f"... [{len(value) - limit} characters truncated]"
    if isinstance(value, Mapping):
        return {k: cap(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [cap(v, limit) for v in value]
    return value


def _as_text(value: Any) -> str:
    """Kibana renders objects and arrays of objects as JSON, other arrays comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(value, default=str)
    if isinstance(value, list | tuple):
        if any(isinstance(v, Mapping | list | tuple) for v in value):
            return json.dumps(list(value), default=str)
        return ",".join(_as_text(v) for v in value)
    return str(value)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]#|<>~])")


def escape(kind: Escape) -> Callable[[str], str]:
    if kind == "json":
        return lambda text: json.dumps(text)[1:-1]
    if kind == "slack":
        # Slack's control characters, and backticks so a value cannot close a code span.
        return lambda text: (
            text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
        )
    if kind == "markdown":
        return lambda text: _MARKDOWN.sub(r"\\\1", text)
    return lambda text: text


def _finalizer(kind: Escape) -> Callable[[Any], str]:
    esc = escape(kind)
    return lambda value: esc(_as_text(value))


class _Renderer(pystache.Renderer):  # type: ignore[misc]  # pystache is untyped
    def str_coerce(self, val: Any) -> str:
        return _as_text(val)


@lru_cache(maxsize=8)
def _mustache(kind: Escape) -> _Renderer:
    return _Renderer(escape=escape(kind), missing_tags="ignore")


def render_mustache(template: str, view: Mapping[str, Any], kind: Escape) -> str:
    text: str = _mustache(kind).render(template, view)
    return text


def render_params(params: Any, view: Mapping[str, Any], kind: Escape) -> Any:
    """Every string inside Kibana action ``params`` rendered as mustache."""
    if isinstance(params, str):
        return render_mustache(params, view, kind)
    if isinstance(params, Mapping):
        return {k: render_params(v, view, kind) for k, v in params.items()}
    if isinstance(params, list):
        return [render_params(v, view, kind) for v in params]
    return params


class Templates:
    """runner's default messages: ``templates/notify/<type>/<alert|summary>.j2``.

    A file of the same relative name in the user's folder overrides the shipped one.
    Rendered in jinja2's sandbox; every ``{{ expression }}`` is escaped for its channel.
    """

    def __init__(self, user_dir: Path | None = None) -> None:
        folders = [str(user_dir)] if user_dir is not None else []
        folders.append(str(templates_dir() / "notify"))
        self._loader = jinja2.FileSystemLoader(folders)
        self._envs: dict[Escape, SandboxedEnvironment] = {}

    def _env(self, kind: Escape) -> SandboxedEnvironment:
        if kind not in self._envs:
            env = SandboxedEnvironment(
                loader=self._loader,
                autoescape=False,
                undefined=jinja2.ChainableUndefined,
                finalize=_finalizer(kind),
                keep_trailing_newline=False,
            )
            self._envs[kind] = env
        return self._envs[kind]

    def render(self, connector_type: str, kind: str, view: Mapping[str, Any]) -> str:
        name = f"{connector_type.lstrip('.')}/{kind}.j2"
        channel = ESCAPE_OF.get(connector_type, "none")
        return self._env(channel).get_template(name).render(**view)

    def names(self) -> list[str]:
        return sorted(self._loader.list_templates())
