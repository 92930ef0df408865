"""The outbox interface: queued notifications and their delivery state.

One implementation per backend (:mod:`.embedded`: a table in the DuckDB store;
:mod:`.elastic`: a runner index on the cluster); one contract suite runs against both.

Claims are leases taken with optimistic concurrency, so two runners sharing a store never
hold the same entry at once: a claim only succeeds on the version the claimer read, and every
later change (sent, retry, failed) only on the version the claim produced.  A runner that
dies holding a lease loses it when the lease expires, and another delivers the entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from runner.notify.model import Notification, OutboxCounts, OutboxItem, OutboxStatus


class Outbox(Protocol):
    def enqueue(self, notifications: Sequence[Notification]) -> int:
        """Insert-if-absent by id; returns how many were new."""
        ...

    def claim(self, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        """Pending entries due at ``now``, oldest first, now leased to ``owner``."""
        ...

    def mark_sent(self, item: OutboxItem, *, now: datetime, detail: str) -> bool:
        """False when ``item``'s claim was lost (another runner holds the entry now)."""
        ...

    def mark_retry(
        self, item: OutboxItem, *, now: datetime, error: str, next_attempt_at: datetime
    ) -> bool: ...

    def mark_failed(self, item: OutboxItem, *, now: datetime, error: str) -> bool: ...

    def requeue_failed(self, *, now: datetime, connector_id: str | None = None) -> int:
        """Failed entries back to pending (after fixing a connector)."""
        ...

    def last_queued(self, throttle_key: str) -> datetime | None: ...

    def counts(self) -> OutboxCounts: ...

    def items(self, *, status: OutboxStatus | None = None, limit: int = 50) -> list[OutboxItem]: ...
