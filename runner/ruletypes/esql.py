"""ES|QL rules (``type = "esql"``), as Kibana's ``esqlExecutor`` runs them.

- The query goes to ``POST /_query`` unchanged plus ``| LIMIT size``; the rule window (on
  ``timestamp_override`` with the ``@timestamp`` fallback) and rule filters are the request's
  DSL ``filter``.  ES|QL has no paging: ``size`` starts at ``max_signals`` and grows by
  ``max_signals`` while full pages come back and the cap is not passed, up to three times
  ``max_signals`` (Kibana's circuit breaker); each round reads only the rows it had not seen.
- A query is *aggregating* when it has a ``STATS`` command (``INLINE STATS`` keeps rows).
  Rows of a non-aggregating query that keeps ``METADATA _id`` are merged over their source
  documents (fetched by id) and get ids from the document, so the same document found by
  overlapping windows is one alert.  Other rows get ids from the window, the query and their
  position: re-running the same window finds the same alerts, a new window makes new ones.
- With ``MV_EXPAND`` the expanded fields' values join the id, so each expanded row is its own
  alert.
- With ``[rule.alert_suppression]`` each alert is wrapped with its suppression fields
  (:mod:`runner.ruletypes.esql_suppression`) and the shared in-memory stage suppresses them;
  ES|QL has no paging, so the rows read stop at ``max_signals`` candidates (Kibana's
  ``maxNumberOfAlertsMultiplier: 1``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runner.alerts.build import build_esql_alert
from runner.alerts.fields import lodash_get
from runner.alerts.ids import alert_id_for_esql_event, alert_id_for_esql_row
from runner.backends.base import Backend
from runner.elastic.esql import esql_native_request
from runner.elastic.requests import NativeRequest
from runner.esql import ast
from runner.execution.candidates import AlertStamp, Candidate, CandidateBatch, Fresh
from runner.execution.model import Window
from runner.execution.rule_requests import rule_filters, rule_range
from runner.kql.fields import FieldTypes
from runner.rules.model import Rule
from runner.ruletypes.esql_suppression import wrap_suppressed
from runner.search import EsqlRequest, Hit
from runner.timeutil import isoformat, parse_datemath

PAGE_ROUNDS = 3  # Kibana's ESQL_PAGE_SIZE_CIRCUIT_BREAKER = maxSignals * 3
_METADATA = ("_id", "_index", "_version")


def esql_request(rule: Rule, start: datetime, end: datetime, size: int) -> EsqlRequest:
    return EsqlRequest(
        query=rule.esql,
        time_range=rule_range(rule, start, end),
        filters=rule_filters(rule),
        size=size,
    )


def expanded_fields(query: ast.Query) -> tuple[str, ...]:
    return tuple(c.field for c in query.commands if isinstance(c, ast.MvExpand))


def merge_row(source: Mapping[str, Any] | None, row: Mapping[str, Any]) -> dict[str, Any]:
    """Kibana's ``mergeEsqlResultInSource``: each result column replaces the source's value at
    that path and is written as one (dotted) key."""
    document = copy.deepcopy(dict(source or {}))
    for name, value in row.items():
        _unset(document, name)
        document[name] = value
    return document


def _unset(document: dict[str, Any], path: str) -> None:
    if path in document:
        del document[path]
        return
    head, _, rest = path.partition(".")
    while rest:
        child = document.get(head)
        if isinstance(child, dict):
            _unset(child, rest)
            return
        more, _, rest = rest.partition(".")
        head = f"{head}.{more}"


class EsqlKind:
    name = "esql"
    # Kibana's esqlExecutor sends only the exception filter: items of large value lists are
    # not applied after the search but named in a warning before each request.
    post_filters_value_lists = False

    def candidates(
        self, backend: Backend, rule: Rule, window: Window, stamp: AlertStamp, fresh: Fresh
    ) -> CandidateBatch:
        query = rule.esql
        aggregating = query.aggregates
        expanded = () if aggregating else expanded_fields(query)
        window_key = isoformat(window.start) + isoformat(window.end)
        sources = query.source.sources if isinstance(query.source, ast.From) else ()
        kept: list[Candidate] = []
        seen: set[str] = set()
        size = rule.max_signals
        suppressing = rule.alert_suppression is not None
        requests = 0
        while size <= rule.max_signals * PAGE_ROUNDS:
            requests += 1
            result = backend.search_esql(esql_request(rule, window.start, window.end, size))
            rows = result.documents()
            first = size - rule.max_signals
            page = rows[first:]
            ids = [str(r["_id"]) for r in page if r.get("_id")]
            found = backend.documents_by_id(sources, ids) if ids and not aggregating else {}
            batch: list[Candidate] = []
            for position, row in enumerate(page, start=first):
                hit = _synthetic_hit(row, found)
                if not aggregating and hit.id:
                    values = [lodash_get(hit.source, f) for f in expanded]
                    alert_id = alert_id_for_esql_event(
                        rule.rule_id, hit.index, hit.id, [v for v in values if v]
                    )
                else:
                    alert_id = alert_id_for_esql_row(rule.rule_id, window_key, rule.query, position)
                if alert_id in seen:
                    continue  # Kibana's uniqBy over one answer
                seen.add(alert_id)
                alert = build_esql_alert(rule, hit, alert_id=alert_id, **stamp.kwargs())
                if suppressing:
                    wrap_suppressed(rule, alert, hit.source)
                batch.append(Candidate(id=alert_id, documents=(alert,)))
            kept += fresh(batch)
            # Suppression stops where created plus suppressed alerts reach max_signals.
            enough = len(kept) >= rule.max_signals if suppressing else len(kept) > rule.max_signals
            if enough or len(rows) < size:
                break
            size += rule.max_signals
        return CandidateBatch(candidates=tuple(kept), requests=requests)

    def explain(
        self, rule: Rule, end: datetime, fields: FieldTypes | None = None
    ) -> list[NativeRequest]:
        start = parse_datemath(rule.from_, end)
        return [esql_native_request(esql_request(rule, start, end, rule.max_signals))]


def _synthetic_hit(row: Mapping[str, Any], found: Mapping[str, Hit]) -> Hit:
    result = {k: v for k, v in row.items() if k not in _METADATA}
    doc_id = str(row.get("_id") or "")
    source = found.get(doc_id)
    index = str(row.get("_index") or (source.index if source else ""))
    return Hit(
        index=index,
        id=doc_id,
        source=merge_row(source.source if source else None, result),
    )


ESQL = EsqlKind()
