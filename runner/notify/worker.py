"""Delivering the outbox: claim due entries, send each, record what the receiver said.

An entry is marked sent only after its connector returned an acknowledgement.  When that
record cannot be written (the cluster or store is unreachable), the worker keeps the entry in
memory and records it before anything else at its next rounds, and never sends it again
itself: a short outage between a send and its record is not a second delivery.  Entries are claimed
a batch at a time; one whose claim is about to end is left for a later round rather than sent
(another runner may claim it once the claim ends).  A retryable
failure (receiver down, timeout, 429, 5xx) puts it back with exponential backoff, without
limit: an outage delays notifications, it never drops them.  A refusal (a 4xx, a rejected
address) marks it failed, shown by ``runner status`` and ``runner notify status`` until
``runner notify retry`` requeues it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from runner.daemon.metrics import Metrics
from runner.errors import DeliveryFailed, RunnerError
from runner.logs import get_logger
from runner.notify.connectors import ConnectorType, SendOptions
from runner.notify.model import Connector, OutboxItem
from runner.notify.outbox.base import Outbox
from runner.timeutil import isoformat, utcnow


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(attempts: int, base: timedelta, ceiling: timedelta) -> timedelta:
    """Delay before attempt ``attempts + 1``: base, 2x, 4x, ... capped at ``ceiling``."""
    delay: timedelta = base * (2 ** min(attempts, 30))
    return min(delay, ceiling)


@dataclass(frozen=True, kw_only=True, slots=True)
class RoundResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0  # claims another runner took over (lease expired) before we recorded


@dataclass(kw_only=True)
class DeliveryWorker:
    outbox: Outbox
    connectors: Mapping[str, Connector]
    types: Mapping[str, ConnectorType]
    options: SendOptions = field(default_factory=SendOptions)
    owner: str = field(default_factory=default_owner)
    lease: timedelta = timedelta(seconds=120)  # far longer than one send's timeout
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(minutes=5)
    batch: int = 50
    clock: Callable[[], datetime] = utcnow
    metrics: Metrics | None = None
    # Sent and acknowledged, but the record failed: notification id -> (entry, ack detail).
    _unrecorded: dict[str, tuple[OutboxItem, str]] = field(default_factory=dict, repr=False)

    def run_once(self) -> RoundResult:
        sent = retried = failed = lost = 0
        lost += self._record_pending()
        items = self.outbox.claim(
            owner=self.owner, now=self.clock(), lease=self.lease, limit=self.batch
        )
        left = 0
        for item in items:
            if self._claim_ending(item):
                left += 1  # its claim may lapse mid-send and another runner send it too
                continue
            outcome = self._deliver(item)
            sent += outcome == "sent"
            retried += outcome == "retry"
            failed += outcome == "failed"
            lost += outcome == "lost"
        if left:
            get_logger().info("notifications_left_for_later", count=left,
                              detail="their claims end before a send is recorded")  # fmt: skip
        self._gauges()
        return RoundResult(sent=sent, retried=retried, failed=failed, lost=lost)

    def _claim_ending(self, item: OutboxItem) -> bool:
        """Whether less of the claim is left than a send and its record may take: a batch is
        claimed at once and sent one by one, and a slow receiver or cluster can outlast the
        lease; another runner may claim an entry whose lease ended."""
        if item.claimed_until is None:
            return False
        margin = min(self.lease / 2, timedelta(seconds=2 * self.options.timeout))
        return item.claimed_until - self.clock() < margin

    def _deliver(self, item: OutboxItem) -> str:
        n = item.notification
        log = get_logger().bind(notification=n.id[:16], connector=n.connector_id,
                                rule=n.rule_name, kind=n.kind)  # fmt: skip
        connector = self.connectors.get(n.connector_id)
        try:
            if connector is None:
                raise DeliveryFailed(f"connector {n.connector_id} is not configured",
                                     retryable=True)  # fmt: skip
            ack = self.types[connector.type].sender(connector, self.options).send(n)
        except DeliveryFailed as exc:
            now = self.clock()
            if exc.retryable:
                delay = backoff(item.attempts, self.retry_base, self.retry_max)
                if exc.retry_after is not None:  # the receiver knows best when to come back
                    delay = max(delay, timedelta(seconds=exc.retry_after))
                ok = self.outbox.mark_retry(item, now=now, error=exc.message,
                                            next_attempt_at=now + delay)  # fmt: skip
                log.warning("notification_retry", error=exc.message, attempt=item.attempts + 1,
                            next_attempt=isoformat(now + delay))  # fmt: skip
                self._count(n.connector_id, "retry")
                return "retry" if ok else "lost"
            ok = self.outbox.mark_failed(item, now=now, error=exc.message)
            log.error("notification_failed", error=exc.message, attempt=item.attempts + 1)
            self._count(n.connector_id, "failed")
            return "failed" if ok else "lost"
        try:
            recorded = self.outbox.mark_sent(item, now=self.clock(), detail=ack.detail)
        except RunnerError as exc:
            self._unrecorded[n.id] = (item, ack.detail)
            log.warning("notification_not_recorded", error=str(exc),
                        detail="sent; recorded as sent at the next delivery round")  # fmt: skip
            self._count(n.connector_id, "sent")
            raise
        if not recorded:
            log.warning("notification_claim_lost",
                        detail="sent, but another runner took the entry over first")  # fmt: skip
            self._count(n.connector_id, "sent")
            return "lost"
        log.info("notification_sent", attempt=item.attempts + 1, ack=ack.detail)
        self._count(n.connector_id, "sent")
        return "sent"

    def _record_pending(self) -> int:
        """Record the sends whose record failed; raises while the outbox is unreachable.
        Returns how many another runner had taken over meanwhile (lost claims)."""
        lost = 0
        for key, (item, detail) in list(self._unrecorded.items()):
            recorded = self.outbox.mark_sent(item, now=self.clock(), detail=detail)
            del self._unrecorded[key]
            if not recorded:
                lost += 1
                get_logger().warning(
                    "notification_claim_lost", notification=key[:16],
                    detail="sent, but another runner took the entry over before it was recorded",
                )  # fmt: skip
            else:
                get_logger().info("notification_recorded", notification=key[:16])
        return lost

    def _count(self, connector_id: str, result: str) -> None:
        if self.metrics is not None:
            labels = (("connector", connector_id), ("result", result))
            self.metrics.inc("runner_notifications_total", labels)

    def _gauges(self) -> None:
        if self.metrics is None:
            return
        counts = self.outbox.counts()
        self.metrics.set("runner_outbox_pending", float(counts.pending))
        self.metrics.set("runner_outbox_retrying", float(counts.retrying))
        self.metrics.set("runner_outbox_failed", float(counts.failed))
