"""The three original rule types (eql, query, new_terms) behind :class:`RuleKind`.

Their logic stays where it was (:mod:`runner.execution.candidates`,
:mod:`runner.elastic.requests`); these adapters only give them the common interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runner.backends.base import Backend
from runner.elastic import requests as es_requests
from runner.elastic.requests import NativeRequest
from runner.execution import candidates
from runner.execution.candidates import AlertStamp, CandidateBatch, Fresh
from runner.execution.model import Window
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule
from runner.suppression.model import MAX_SIGNALS_SUPPRESSION_MULTIPLIER

# A suppressing query rule groups every match, in memory, up to this many hits.
_QUERY_SUPPRESSION_HITS = 10_000


@dataclass(frozen=True, slots=True)
class ClassicKind:
    name: str

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        if self.name == "eql":
            return candidates.eql_candidates(backend, rule, window, stamp, fresh)
        # Suppression counts created plus suppressed alerts up to 5 x max_signals (Kibana), and
        # a query rule groups every match.
        suppressing = rule.alert_suppression is not None
        if self.name == "new_terms":
            cap = MAX_SIGNALS_SUPPRESSION_MULTIPLIER * rule.max_signals if suppressing else None
            return candidates.new_terms_candidates(backend, rule, window, stamp, fresh, cap)
        cap = _QUERY_SUPPRESSION_HITS if suppressing else None
        return candidates.query_candidates(backend, rule, window, stamp, fresh, cap)

    def explain(
        self, rule: Rule, end: datetime, fields: FieldTypes | None = None
    ) -> list[NativeRequest]:
        return es_requests.explain(rule, end, fields)


EQL = ClassicKind("eql")
QUERY = ClassicKind("query")
NEW_TERMS = ClassicKind("new_terms")
