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

_FIND = {
    "eql": candidates.eql_candidates,
    "query": candidates.query_candidates,
    "new_terms": candidates.new_terms_candidates,
}


@dataclass(frozen=True, slots=True)
class ClassicKind:
    name: str

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        return _FIND[self.name](backend, rule, window, stamp, fresh)

    def explain(
        self, rule: Rule, end: datetime, fields: FieldTypes | None = None
    ) -> list[NativeRequest]:
        return es_requests.explain(rule, end, fields)


EQL = ClassicKind("eql")
QUERY = ClassicKind("query")
NEW_TERMS = ClassicKind("new_terms")
