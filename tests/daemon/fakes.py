"""An in-memory backend for the daemon's unit tests.

Events are ``Hit`` values with an ``@timestamp``; the EQL search returns those inside the
request's time range (it ignores the query: these tests are about scheduling, not matching).
``block`` makes searches wait on an event, to play a hanging rule.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import Any

from runner.execution.model import ExecutionRecord, Gap, RuleState, WriteOutcome
from runner.search import (
    EqlRequest,
    EqlResult,
    FirstSeenRequest,
    Hit,
    HitPage,
    KqlRequest,
    TermDocumentsRequest,
    TermKey,
    TermsPage,
    TermsPageRequest,
)
from runner.timeutil import parse_absolute


class MemoryBackend:
    name = "memory"

    def __init__(self, events: Sequence[Hit] = ()) -> None:
        self.lock = threading.Lock()
        self.events = list(events)
        self.alerts: dict[str, dict[str, Any]] = {}
        self.states: dict[str, RuleState] = {}
        self.executions: list[ExecutionRecord] = []
        self.gaps: dict[tuple[str, datetime], Gap] = {}
        self.searches = 0
        self.block: threading.Event | None = None  # searches wait for it when set
        self.fail_search: Exception | None = None

    # -- events --------------------------------------------------------------------------
    def search_eql(self, request: EqlRequest) -> EqlResult:
        with self.lock:
            self.searches += 1
        if self.block is not None:
            self.block.wait(30)
        if self.fail_search is not None:
            raise self.fail_search
        time_range = request.time_range
        found = []
        for hit in self.events:
            when = parse_absolute(str(hit.source["@timestamp"]))
            if time_range is None or (
                (time_range.start is None or when >= time_range.start)
                and (time_range.end is None or when <= time_range.end)
            ):
                found.append(hit)
        return EqlResult(events=tuple(found[: request.size]))

    def search_kql(self, request: KqlRequest) -> tuple[Hit, ...]:
        return ()

    def query_pages(self, request: KqlRequest) -> Generator[HitPage, None, None]:
        yield from ()

    def terms_page(self, request: TermsPageRequest) -> TermsPage:
        return TermsPage(keys=(), after=None)

    def first_seen(self, request: FirstSeenRequest) -> Mapping[TermKey, datetime]:
        return {}

    def term_documents(self, request: TermDocumentsRequest) -> Mapping[TermKey, Hit]:
        return {}

    # -- alerts and state ----------------------------------------------------------------
    def existing_alert_ids(self, ids: Sequence[str]) -> set[str]:
        with self.lock:
            return {i for i in ids if i in self.alerts}

    def write_alerts(self, alerts: Sequence[Mapping[str, Any]], notify: Any = None) -> WriteOutcome:
        created, duplicates = [], []
        with self.lock:
            for alert in alerts:
                alert_id = str(alert["kibana.alert.uuid"])
                if alert_id in self.alerts:
                    duplicates.append(alert_id)
                else:
                    self.alerts[alert_id] = dict(alert)
                    created.append(alert_id)
        return WriteOutcome(created=tuple(created), duplicates=tuple(duplicates))

    def load_state(self, rule_id: str) -> RuleState | None:
        with self.lock:
            return self.states.get(rule_id)

    def save_state(self, state: RuleState) -> None:
        with self.lock:
            self.states[state.rule_id] = state

    def record_execution(self, record: ExecutionRecord) -> None:
        with self.lock:
            self.executions.append(record)

    def record_executions(self, records: Sequence[ExecutionRecord]) -> None:
        with self.lock:
            self.executions.extend(records)

    def record_gap(self, gap: Gap) -> None:
        with self.lock:
            self.gaps[(gap.rule_id, gap.start)] = gap

    def open_gaps(self, rule_id: str | None = None) -> list[Gap]:
        with self.lock:
            gaps = [g for g in self.gaps.values() if rule_id is None or g.rule_id == rule_id]
        return sorted(gaps, key=lambda g: g.start)

    def close_gap(self, gap: Gap, covered_to: datetime) -> None:
        with self.lock:
            del self.gaps[(gap.rule_id, gap.start)]
            if covered_to < gap.end:
                rest = Gap(rule_id=gap.rule_id, start=covered_to, end=gap.end)
                self.gaps[(gap.rule_id, covered_to)] = rest

    def list_alerts(
        self,
        *,
        rule_ids: Sequence[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        with self.lock:
            found = [
                a
                for a in self.alerts.values()
                if (not rule_ids or a["kibana.alert.rule.rule_id"] in rule_ids)
                and (since is None or parse_absolute(str(a["@timestamp"])) >= since)
            ]
        return found[:limit] if limit is not None else found

    def list_executions(
        self, *, rule_ids: Sequence[str] = (), limit: int | None = None
    ) -> list[ExecutionRecord]:
        with self.lock:
            found = [r for r in self.executions if not rule_ids or r.rule_id in rule_ids]
        found.sort(key=lambda r: (r.started_at, r.ended_at), reverse=True)
        return found[:limit] if limit is not None else found

    # -- helpers for assertions ----------------------------------------------------------
    def records(self, rule_id: str) -> list[ExecutionRecord]:
        with self.lock:
            return [r for r in self.executions if r.rule_id == rule_id]


def event(index: str, event_id: str, when: datetime, **fields: Any) -> Hit:
    source = {
        "@timestamp": when.isoformat().replace("+00:00", "Z"),
        "event": {"category": ["process"], "type": ["start"]},
        "host": {"name": "mac-01", "os": {"type": "macos"}},
        "process": {"name": "bash", "parent": {"name": "emond"}},
        **fields,
    }
    return Hit(index=index, id=event_id, source=source)
