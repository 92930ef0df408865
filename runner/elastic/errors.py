"""Elasticsearch and transport errors mapped onto the runner's exception classes.

One clear line each, never a secret: every message goes through
:func:`runner.logs.redact_text`.
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch import ConnectionTimeout, SSLError, TransportError

from runner.elastic.responses import error_cause, error_types, one_line
from runner.errors import (
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    IndexNotFound,
    PermissionDenied,
    QueryRejected,
    RunnerError,
)
from runner.logs import redact_text

RETRY_STATUSES = frozenset({429, 502, 503, 504})
TOO_MANY_CLAUSES = frozenset({"too_many_clauses", "too_many_nested_clauses"})
VERSION_MISMATCH = (
    "the cluster does not accept this client's REST API version: the elasticsearch Python "
    "client's major version must match the cluster's (for an 8.x cluster: "
    "pip install 'elasticsearch>=8.13,<9')"
)
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*")


def _clean(message: str) -> str:
    return redact_text(one_line(message))


def api_error(status: int, body: Any, *, target: str) -> RunnerError:
    """The runner error for an HTTP error answer to ``target`` (``"POST /idx/_search"``)."""
    kind, reason = error_cause(body)
    types = error_types(body)
    detail = f"{kind}: {reason}" if kind else (reason or "no error body")
    if "media_type_header_exception" in types:
        return BackendError(_clean(f"{VERSION_MISMATCH}; Elasticsearch said: {detail}"))
    if status == 401:
        return AuthenticationFailed(
            _clean(
                f"Elasticsearch rejected the credentials (HTTP 401: {detail}); check "
                "elasticsearch.api_key or elasticsearch.username/password"
            )
        )
    if status == 403:
        return PermissionDenied(
            _clean(f"the credentials lack a privilege for {target} (HTTP 403: {detail})")
        )
    if status == 404 and "index_not_found_exception" in types:
        return IndexNotFound(_clean(f"index not found for {target} (HTTP 404: {detail})"))
    if status in RETRY_STATUSES:
        return BackendUnavailable(_clean(f"Elasticsearch is overloaded or unavailable "
                                         f"(HTTP {status} to {target}: {detail})"))  # fmt: skip
    if status == 400:
        return QueryRejected(_clean(f"Elasticsearch rejected {target} (HTTP 400: {detail})"))
    return BackendError(_clean(f"Elasticsearch answered HTTP {status} to {target}: {detail}"))


def is_too_many_clauses(body: Any) -> bool:
    """A query with more boolean clauses than ``indices.query.bool.max_clause_count``."""
    if error_types(body) & TOO_MANY_CLAUSES:
        return True
    text = str(body)
    return "too many clauses" in text.lower() or "maxClauseCount" in text


def transport_error(exc: TransportError, *, where: str, timeout: float) -> BackendUnavailable:
    """Unreachable cluster, TLS failure or no answer in time."""
    text = _OBJECT_REPR.sub("", str(exc.message or exc)) or type(exc).__name__
    if isinstance(exc, ConnectionTimeout):
        what = f"no answer within {timeout:g}s (elasticsearch.request_timeout)"
    elif isinstance(exc, SSLError):
        what = (
            f"TLS failure ({text}); check elasticsearch.ca_certs, ssl_assert_fingerprint, "
            "verify_certs"
        )
    else:
        what = text
    return BackendUnavailable(_clean(f"cannot reach Elasticsearch at {where}: {what}"))
