"""KQL syntax tree to Elasticsearch query DSL, shaped exactly as Kibana builds it.

Mirrors ``toElasticsearchQuery`` of ``@kbn/es-query`` (``src/kuery/functions/*.ts``) called with
no field mappings, which is what the detection engine does for rules (its data view has an empty
field list, so every field is "unmapped" and sent through by name).  Sending the same request
Kibana sends keeps alert results identical, including Kibana's quirks:

* every field clause is wrapped in ``bool.should`` with ``minimum_should_match: 1`` (Kibana
  builds one clause per matching mapped field; with none mapped there is exactly one);
* ``and`` goes to filter context (``filtersInMustClause`` is off for rules);
* an unquoted ``true``/``false``/``null`` is a JSON literal, not a string;
* wildcard values go through ``query_string`` with query_string metacharacters escaped.
"""

from __future__ import annotations

import re
from typing import Any

from runner.kql.ast import (
    And,
    Exists,
    FieldMatch,
    Nested,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    Range,
    Term,
    Value,
    ValueAnd,
    ValueNot,
    ValueOr,
    Wildcard,
)

__all__ = ["to_dsl"]

Dsl = dict[str, Any]

# Kibana's or/is/range clauses all carry this.
_MSM: Dsl = {"minimum_should_match": 1}

_RANGE_KEYS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

# Kibana's parser turns these unquoted words into JavaScript literals.
_JS_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}

# Kibana's escapeQueryString (node_types/wildcard.ts): query_string's reserved characters.
_QUERY_STRING_RESERVED = re.compile(r"""[+\-=&|><!(){}\[\]^"~*?:\\/]""")


def to_dsl(query: Query) -> Dsl:
    """The Elasticsearch query Kibana would send for ``query`` (``match_all`` when empty)."""
    if query.node is None:
        return {"match_all": {}}
    return _node(query.node, None)


def _node(node: Node, nested_path: str | None) -> Dsl:
    match node:
        case And(terms=terms):
            return {"bool": {"filter": [_node(t, nested_path) for t in terms]}}
        case Or(terms=terms):
            return {"bool": {"should": [_node(t, nested_path) for t in terms], **_MSM}}
        case Not(node=child):
            return {"bool": {"must_not": _node(child, nested_path)}}
        case Nested(path=path, query=child):
            full_path = _full_name(path, nested_path)
            return {
                "nested": {
                    "path": full_path,
                    "query": _node(child, full_path),
                    "score_mode": "none",
                }
            }
        case Exists(field=field):
            return _is(field, Wildcard(segments=("", "")), nested_path)
        case Range(field=field, op=op, value=bound):
            name = _full_name(field, nested_path)
            return _should({"range": {name: {_RANGE_KEYS[op]: bound}}})
        case FieldMatch(field=field, value=value):
            return _value(field, value, nested_path)
    raise TypeError(f"not a KQL node: {node!r}")  # pragma: no cover - exhaustive match


def _value(field: str | None, value: Value, nested_path: str | None) -> Dsl:
    # field:(a or b) is compiled as or(is(field, a), is(field, b)), and so on.
    match value:
        case ValueOr(terms=terms):
            return {"bool": {"should": [_value(field, t, nested_path) for t in terms], **_MSM}}
        case ValueAnd(terms=terms):
            return {"bool": {"filter": [_value(field, t, nested_path) for t in terms]}}
        case ValueNot(value=child):
            return {"bool": {"must_not": _value(field, child, nested_path)}}
        case Term() | Phrase() | Wildcard():
            return _is(field, value, nested_path)
    raise TypeError(f"not a KQL value: {value!r}")  # pragma: no cover - exhaustive match


def _is(field: str | None, value: Term | Phrase | Wildcard, nested_path: str | None) -> Dsl:
    """Kibana's ``is`` function: one field (or none) against one value."""
    lone_wildcard = isinstance(value, Wildcard) and value.segments == ("", "")
    if lone_wildcard and field == "*":
        return {"match_all": {}}
    if field is None and nested_path is None:
        # No field: search every field.
        if isinstance(value, Wildcard):
            return {"query_string": {"query": _query_string(value)}}
        return {
            "multi_match": {
                "type": "phrase" if isinstance(value, Phrase) else "best_fields",
                "query": _match_value(value),
                "lenient": True,
            }
        }
    # Inside nested, Kibana prefixes even a missing (null) field: the name becomes "path.null".
    name = _full_name("null" if field is None else field, nested_path)
    if lone_wildcard:
        return _should({"exists": {"field": name}})
    if isinstance(value, Wildcard):
        return _should({"query_string": {"fields": [name], "query": _query_string(value)}})
    if isinstance(value, Phrase):
        return _should({"match_phrase": {name: value.text}})
    return _should({"match": {name: _match_value(value)}})


def _should(query: Dsl) -> Dsl:
    return {"bool": {"should": [query], **_MSM}}


def _full_name(name: str, nested_path: str | None) -> str:
    return f"{nested_path}.{name}" if nested_path else name


def _match_value(value: Term | Phrase) -> str | bool | None:
    if isinstance(value, Term) and value.text in _JS_LITERALS:
        return _JS_LITERALS[value.text]
    return value.text


def _query_string(value: Wildcard) -> str:
    return "*".join(_QUERY_STRING_RESERVED.sub(r"\\\g<0>", s) for s in value.segments)
