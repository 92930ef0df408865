"""The daemon's execution log, written in batches as Kibana writes its event log.

Every execution ends with a record (window, status, counts).  Written one by one they cost a
request per execution against Elasticsearch (and one more open of the embedded store's file).
Kibana's event log, where rule executions are recorded, instead buffers its documents and
indexes them with one ``_bulk`` every second or every 100 documents, and flushes what is left
at shutdown (``event_log/server/es/cluster_client_adapter.ts``: ``EVENT_BUFFER_TIME``,
``EVENT_BUFFER_LENGTH``).  :class:`BufferedLog` does the same for the daemon's records.

Run state is still saved by the execution itself, at once: it is what the next execution
reads, and what settles an execution as completed (see :mod:`runner.daemon.budget`).  A record
may reach the store up to a second after its execution; records still buffered when the
process is killed (not stopped) are lost, as in Kibana, while the rule's state, alerts and
gaps are not.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

from runner.backends.base import Backend
from runner.errors import RunnerError
from runner.execution.model import ExecutionRecord
from runner.logs import get_logger

FLUSH_SECONDS = 1.0  # Kibana's EVENT_BUFFER_TIME
FLUSH_RECORDS = 100  # Kibana's EVENT_BUFFER_LENGTH
# While the store refuses the records they are kept for the next flush, up to this many.
MAX_PENDING = 10_000


class BufferedLog:
    """A :class:`Backend` whose execution records are written in batches by a thread of its
    own; every other primitive passes straight through."""

    def __init__(
        self,
        backend: Backend,
        *,
        every: float = FLUSH_SECONDS,
        batch: int = FLUSH_RECORDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._backend = backend
        self.name = backend.name
        self._every = every
        self._batch = batch
        self._max_pending = max_pending
        self._pending: list[ExecutionRecord] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one batch in flight at a time, in order
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="execution-log", daemon=True)

    def start(self) -> BufferedLog:
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and write what is left (errors are logged, not raised)."""
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.flush()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> None:
        """Write the buffered records in one request; kept for the next flush on failure."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._backend.record_executions(batch)
            except RunnerError as error:
                with self._lock:
                    self._pending[:0] = batch
                    dropped = max(len(self._pending) - self._max_pending, 0)
                    del self._pending[:dropped]
                get_logger().error(
                    "execution_records_not_written", records=len(batch), dropped=dropped,
                    error=str(error),
                )  # fmt: skip

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._every)
            self._wake.clear()
            self.flush()

    # -- the execution log ---------------------------------------------------------------
    def record_execution(self, record: ExecutionRecord) -> None:
        with self._lock:
            self._pending.append(record)
            full = len(self._pending) >= self._batch
        if full:
            self._wake.set()

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        for record in records:
            self.record_execution(record)

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        self.flush()  # a reader sees every record made so far
        return self._backend.list_executions(rule_ids=rule_ids, limit=limit)

    # -- everything else passes through --------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only the execution log is buffered; the Backend protocol grows with each rule type
        # and feature, so the rest is delegated rather than listed.
        return getattr(self._backend, name)

    def as_backend(self) -> Backend:
        """This log seen as the backend it wraps (its other primitives are delegated)."""
        return cast(Backend, self)
