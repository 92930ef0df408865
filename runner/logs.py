"""structlog set-up: console lines on a TTY, JSON lines otherwise, secrets always redacted.

structlog (with asyncio behind it) costs about 15 ms to import, more than a quick command's whole
work, so it is imported and configured when the first logger is made, not before.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO

REDACTED = "***"
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|api[_-]?key|apikey|token|authorization|credential|cookie",
    re.IGNORECASE,
)
# userinfo in URLs, and credentials in Authorization-style headers inside free text.
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@\s:]*):(?P<pw>[^/@\s]*)@", re.I
)
_AUTH_HEADER = re.compile(r"\b(?P<kind>ApiKey|Basic|Bearer)\s+[A-Za-z0-9+/=._~-]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """Remove passwords from URLs and credentials from ``Authorization`` values in free text."""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return _AUTH_HEADER.sub(lambda m: f"{m['kind']} {REDACTED}", text)


def redact(value: Any, key: str = "") -> Any:
    """Recursively redact a log value: secret-looking keys lose their value entirely."""
    if key and _SECRET_KEY.search(key):
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = redact(event_dict[key], key)
    return event_dict


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
# The configuration decided but not yet applied (at most one; the newest wins).
_pending: list[Callable[[], None]] = []
_pending_lock = threading.Lock()


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """``fmt``: ``console``, ``json`` or ``auto`` (console on a TTY, JSON otherwise).

    Decided now (the level is checked, the terminal looked at); applied when the first logger is
    made, or at once when structlog is already loaded.
    """
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    colors = out.isatty()
    threshold = _LEVELS[level.lower()]

    def apply() -> None:
        import structlog

        renderer: Any = (
            structlog.dev.ConsoleRenderer(colors=colors)
            if use_console
            else structlog.processors.JSONRenderer()
        )
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                redact_processor,
                renderer,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(threshold),
            # Resolve sys.stderr when a logger is made, not now: it may be replaced (tests, pipes).
            logger_factory=(
                structlog.PrintLoggerFactory(stream)
                if stream is not None
                else lambda *_: structlog.PrintLogger(sys.stderr)
            ),
            cache_logger_on_first_use=False,
        )

    with _pending_lock:
        _pending[:] = [apply]
    if "structlog" in sys.modules:
        _apply_pending()


def _apply_pending() -> None:
    with _pending_lock:
        for apply in _pending:
            apply()
        _pending.clear()


def get_logger(name: str = "runner") -> Any:
    _apply_pending()
    import structlog

    return structlog.get_logger(name)
