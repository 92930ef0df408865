"""Exception items -> query DSL, clause for clause as Kibana's ``buildExceptionFilter``
(lists plugin, ``services/exception_lists/build_exception_filter.ts``).

* Each item becomes one clause (entries ANDed in ``bool.filter``); items are ORed in one
  ``bool.should``; the execution negates the whole (``must_not``) into the search's filter.
* ``os_types``: one clause per OS on ``host.os.type`` and one on ``host.os.name.caseless``.
* ``match``/``match_any``: ``match_phrase``; ``wildcard``: a ``wildcard`` query (both
  case-sensitive on keyword fields, as in Elasticsearch); ``exists``; ``nested``; ``list``:
  ``terms`` over the list's values, or for ``ip_range`` lists ``range`` clauses for
  ``a-b`` values and ``terms`` for CIDRs; ``excluded`` wraps a clause in ``must_not``.
* Items whose lists are not inlined (see :func:`inline_list`) are left to
  :mod:`runner.exceptions.postfilter`, as Kibana does.
"""

from __future__ import annotations

from typing import Any

from runner.exceptions.model import Entry, ExceptionItem
from runner.lists.model import (
    INLINE_TYPES,
    MAXIMUM_SMALL_IP_RANGE_VALUE_LIST_DASH_SIZE,
    MAXIMUM_SMALL_VALUE_LIST_SIZE,
    ValueList,
)

Dsl = dict[str, Any]


def inline_list(value_list: ValueList) -> bool:
    """Kibana inlines keyword, ip and ip_range lists of at most 65,536 values (an ip_range list
    with more than 200 ``a-b`` ranges is not inlined either)."""
    if (
        value_list.type not in INLINE_TYPES
        or len(value_list.values) > MAXIMUM_SMALL_VALUE_LIST_SIZE
    ):
        return False
    if value_list.type == "ip_range":
        dashes = sum(1 for v in value_list.values if "-" in v)
        return dashes <= MAXIMUM_SMALL_IP_RANGE_VALUE_LIST_DASH_SIZE
    return True


def exception_query(items: list[ExceptionItem], lists: dict[str, ValueList]) -> Dsl | None:
    """The ``bool.should`` of every item (None when there is none); ``lists`` holds every
    value list the items' ``list`` entries name."""
    clauses: list[Dsl] = []
    for item in items:
        clauses += item_clauses(item, lists)
    if not clauses:
        return None
    return {"bool": {"should": clauses}}


def item_clauses(item: ExceptionItem, lists: dict[str, ValueList]) -> list[Dsl]:
    if item.os_types:
        variants = [
            (Entry(field=field, type="match", value=os_type), *item.entries)
            for field in ("host.os.type", "host.os.name.caseless")
            for os_type in item.os_types
        ]
        return [{"bool": {"filter": [entry_clause(e, lists) for e in v]}} for v in variants]
    if len(item.entries) == 1:
        return [entry_clause(item.entries[0], lists)]
    return [{"bool": {"filter": [entry_clause(e, lists) for e in item.entries]}}]


def entry_clause(entry: Entry, lists: dict[str, ValueList], parent: str | None = None) -> Dsl:
    field = f"{parent}.{entry.field}" if parent else entry.field
    clause: Dsl
    if entry.type == "match":
        clause = _should_one({"match_phrase": {field: entry.value}})
    elif entry.type == "match_any":
        values = list(entry.value or ())
        if len(values) == 1:
            clause = _should_one({"match_phrase": {field: values[0]}})
        else:
            clause = {
                "bool": {
                    "minimum_should_match": 1,
                    "should": [_should_one({"match_phrase": {field: v}}) for v in values],
                }
            }
    elif entry.type == "wildcard":
        clause = {"bool": {"filter": {"wildcard": {field: entry.value}}}}
    elif entry.type == "exists":
        clause = _should_one({"exists": {"field": field}})
    elif entry.type == "list":
        return _list_clause(entry, field, lists)
    else:  # nested
        return _nested_clause(entry, lists)
    if entry.operator == "excluded":
        return {"bool": {"must_not": clause}}
    return clause


def _should_one(query: Dsl) -> Dsl:
    return {"bool": {"minimum_should_match": 1, "should": [query]}}


def _list_clause(entry: Entry, field: str, lists: dict[str, ValueList]) -> Dsl:
    assert entry.list is not None
    values = list(lists[entry.list.id].values)
    if entry.list.type == "ip_range":
        dashed = [v for v in values if "-" in v]
        slashed = [v for v in values if "-" not in v]
        ranges: list[Dsl] = []
        for value in dashed:
            low, _, high = value.partition("-")
            ranges.append({"range": {field: {"gte": low, "lte": high}}})
        if slashed:
            ranges.append({"terms": {field: slashed}})
        key = "must_not" if entry.operator == "excluded" else "should"
        return {"bool": {key: ranges, "minimum_should_match": 1}}
    key = "must_not" if entry.operator == "excluded" else "filter"
    return {"bool": {key: {"terms": {field: values}}}}


def _nested_clause(entry: Entry, lists: dict[str, ValueList]) -> Dsl:
    if len(entry.entries) == 1:
        query = entry_clause(entry.entries[0], lists, parent=entry.field)
    else:
        query = {
            "bool": {"filter": [entry_clause(e, lists, parent=entry.field) for e in entry.entries]}
        }
    return {"nested": {"path": entry.field, "query": query, "score_mode": "none"}}
