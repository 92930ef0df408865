"""What a rule type is to the execution core: one small interface, one module per type.

The core (windows, dedupe, cap, write, record) stays the same whatever the number of types; a
type turns a window into alert candidates through backend primitives and describes the native
requests it sends for ``runner rules show --explain``.  Kibana keeps its rule types side by
side the same way (``rule_types/eql``, ``query``, ``new_terms``, ``esql``...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from runner.backends.base import Backend
from runner.elastic.requests import NativeRequest
from runner.execution.candidates import AlertStamp, CandidateBatch, Fresh
from runner.execution.model import Window
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule


class RuleKind(Protocol):
    @property
    def name(self) -> str: ...

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        """The alert candidates of one window (``fresh`` drops those already alerted)."""
        ...

    def explain(
        self, rule: Rule, end: datetime, fields: FieldTypes | None = None
    ) -> list[NativeRequest]:
        """The native Elasticsearch requests of a window ending at ``end``."""
        ...
