"""The official client, built from settings, plus our retries and error mapping.

The client's own retries are off: :class:`ElasticClient` retries 429, 502, 503, 504,
connection errors and timeouts with exponential backoff, at most ``max_retries`` times and
within a time budget per call, then raises :class:`~runner.errors.BackendUnavailable`.
Nothing connects before the first request.  Works with the 8.x (>= 8.13) and 9.x clients:
only ``perform_request`` and ``options`` are used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from elasticsearch import (
    ApiError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    SerializationError,
    SSLError,
    TransportError,
    UnsupportedProductError,
)

from runner.config import ElasticsearchSettings
from runner.elastic.errors import RETRY_STATUSES, api_error, transport_error
from runner.elastic.requests import NativeRequest
from runner.errors import BackendError, BackendUnavailable, RunnerError
from runner.logs import get_logger, redact_text

JSON = "application/json"
NDJSON = "application/x-ndjson"


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**(attempt-1)`` seconds, at most ``cap``; a call gives up
    after ``max_retries`` retries or when the next wait would pass ``budget`` seconds."""

    max_retries: int = 3
    budget: float = 120.0
    base: float = 0.5
    cap: float = 10.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.cap, self.base * float(2 ** (attempt - 1)))
        return max(wait, min(retry_after, self.cap)) if retry_after else wait


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    status: int
    body: Any


def api_key_value(api_key: str) -> str | tuple[str, str]:
    """``id:key`` becomes the client's ``(id, key)`` pair; an encoded key is passed as is."""
    if ":" in api_key:
        key_id, key = api_key.split(":", 1)
        return key_id, key
    return api_key


def build_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """The client for ``settings`` (its own retries off: :class:`ElasticClient` retries)."""
    options: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        "retry_on_status": (),
        "verify_certs": settings.verify_certs,
    }
    if settings.cloud_id:
        options["cloud_id"] = settings.cloud_id
    else:
        options["hosts"] = list(settings.hosts)
    if settings.api_key:
        options["api_key"] = api_key_value(settings.api_key)
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password or "")
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if settings.ssl_assert_fingerprint:
        options["ssl_assert_fingerprint"] = settings.ssl_assert_fingerprint
    if not settings.verify_certs:
        options["ssl_show_warn"] = False  # we log our own warning once
        get_logger().warning(
            "elasticsearch_tls_unverified",
            message="elasticsearch.verify_certs is false: the cluster's TLS certificate is "
            "not checked, so the connection can be intercepted",
        )
    try:
        return Elasticsearch(**options)
    except ValueError as exc:
        raise BackendError(redact_text(f"invalid Elasticsearch settings: {exc}")) from None


class ElasticClient:
    """Sends requests with retries; maps every failure onto a runner error."""

    def __init__(
        self,
        settings: ElasticsearchSettings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        factory: Callable[[ElasticsearchSettings], Elasticsearch] = build_client,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy(max_retries=settings.max_retries)
        self.sleep = sleep
        self.clock = clock
        self._factory = factory
        self._client: Elasticsearch | None = None
        self._lock = threading.Lock()  # daemon workers share one backend

    @property
    def where(self) -> str:
        """The cluster for messages (credentials in URLs redacted)."""
        if self.settings.cloud_id:
            return "Elastic Cloud (cloud_id)"
        return redact_text(", ".join(self.settings.hosts)) or "(no hosts configured)"

    @property
    def client(self) -> Elasticsearch:
        with self._lock:
            if self._client is None:
                self._client = self._factory(self.settings)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def send(self, request: NativeRequest, *, allow: Collection[int] = ()) -> Response:
        return self.request(request.method, request.path, request.body, allow=allow)

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        *,
        allow: Collection[int] = (),
    ) -> Response:
        """One API call; a list body is sent as NDJSON.  Statuses in ``allow`` (e.g. 404 for
        a document that may not exist) are returned instead of raised."""
        headers = {"accept": JSON}
        if body is not None:
            headers["content-type"] = NDJSON if isinstance(body, list) else JSON
        target = f"{method} {path.split('?', 1)[0]}"
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            remaining = self.retry.budget - (self.clock() - started)
            try:
                response = self._client_within(remaining).perform_request(
                    method, path, headers=headers, body=body
                )
                return Response(status=response.meta.status, body=response.body)
            except UnsupportedProductError:
                raise BackendError(
                    f"the server at {self.where} is not Elasticsearch (its answers lack the "
                    "X-Elastic-Product: Elasticsearch header)"
                ) from None
            except ApiError as exc:
                status = exc.meta.status
                if status in allow:
                    return Response(status=status, body=exc.body)
                error: RunnerError = api_error(status, exc.body, target=target)
                if status not in RETRY_STATUSES:
                    raise error from None
                retry_after = _retry_after(exc.meta.headers.get("retry-after"))
            except SSLError as exc:
                raise transport_error(
                    exc, where=self.where, timeout=self.settings.request_timeout
                ) from None
            except SerializationError as exc:
                raise BackendError(
                    redact_text(f"unreadable answer from Elasticsearch to {target}: {exc}")
                ) from None
            except (ConnectionError, ConnectionTimeout, TransportError) as exc:
                timeout = min(self.settings.request_timeout, remaining)
                error = transport_error(exc, where=self.where, timeout=timeout)
            delay = self.retry.delay(attempt, retry_after)
            elapsed = self.clock() - started
            if attempt > self.retry.max_retries or elapsed + delay >= self.retry.budget:
                raise BackendUnavailable(
                    f"{error} (gave up after {attempt} attempt(s) in {elapsed:.1f}s)"
                ) from None
            get_logger().warning(
                "elasticsearch_retry",
                target=target,
                attempt=attempt,
                wait_s=delay,
                error=str(error),
            )
            self.sleep(delay)

    def _client_within(self, remaining: float) -> Elasticsearch:
        """The client, with a shorter timeout when less than one is left of the budget."""
        if remaining < self.settings.request_timeout:
            return self.client.options(request_timeout=max(remaining, 0.1))
        return self.client


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
