"""One HTTP POST for the HTTP connectors, with the failure classes the outbox acts on.

2xx is an acknowledgement; 408, 429 and 5xx, refused connections and timeouts are retried;
any other status is a refusal.  Messages name the connector, never the URL (Slack and Teams
webhook URLs are secrets).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping

from runner.errors import DeliveryFailed
from runner.notify.model import Ack

_RETRY_STATUS = {408, 425, 429}


def _seconds(value: str | None) -> float | None:
    """Retry-After in delta-seconds (the HTTP-date form is ignored: backoff applies)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def post(
    connector_id: str,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float,
    method: str = "POST",
    throttled: Callable[[bytes], bool] | None = None,
) -> Ack:
    """``throttled`` recognises a 2xx answer that is really a rate-limit refusal (Teams)."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryFailed(f"connector {connector_id}: URL must be http(s)", retryable=False)
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # scheme checked above
            status = response.status
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        status = exc.code
        retryable = status in _RETRY_STATUS or status >= 500
        reason = exc.reason if isinstance(exc.reason, str) else ""
        raise DeliveryFailed(
            f"connector {connector_id}: HTTP {status} {reason}".rstrip(),
            retryable=retryable,
            retry_after=_seconds(exc.headers.get("Retry-After") if exc.headers else None),
        ) from None
    except TimeoutError:
        raise DeliveryFailed(
            f"connector {connector_id}: no answer within {timeout:g}s", retryable=True
        ) from None
    except urllib.error.URLError as exc:
        why = exc.reason.strerror if isinstance(exc.reason, OSError) else str(exc.reason)
        if isinstance(exc.reason, TimeoutError | socket.timeout):
            why = f"no answer within {timeout:g}s"
        raise DeliveryFailed(f"connector {connector_id}: {why}", retryable=True) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(
            f"connector {connector_id}: {type(exc).__name__}", retryable=True
        ) from None
    if throttled is not None and throttled(answer):
        raise DeliveryFailed(f"connector {connector_id}: throttled by the receiver",
                             retryable=True)  # fmt: skip
    return Ack(detail=f"HTTP {status}")
