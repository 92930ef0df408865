"""KQL syntax tree to Elasticsearch query DSL, shaped exactly as Kibana builds it.

Mirrors ``toElasticsearchQuery`` of ``@kbn/es-query`` (``src/kuery/functions/*.ts``).  With
``fields`` (the data view Kibana's detection engine loads for the rule's index patterns,
:class:`~runner.kql.fields.FieldTypes`) each field clause depends on the field's type, as in
``is.ts`` and ``range.ts``:

* a field name with ``*`` expands to every mapped field it matches (none: the name as is);
* ``field: *`` is ``exists`` per field;
* a wildcard value is a ``wildcard`` query on a pure ``keyword`` field, else ``query_string``
  on that one field;
* on a ``date`` field a value is ``range`` ``gte``/``lte`` the value, with the rules'
  ``time_zone`` (``Zulu``) unless the value is epoch digits; ranges on dates carry it too;
* a pure ``keyword`` field takes ``term``; other fields ``match`` (``match_phrase`` quoted);
* a field inside a ``nested`` object, reached through a wildcard name, is wrapped in
  ``nested``.

Without ``fields`` every field is unknown and sent through by name (Kibana with an empty data
view).  Kibana's quirks are kept either way:

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
from runner.kql.fields import FieldType, FieldTypes

__all__ = ["to_dsl"]

# getQueryFilterLoadFields compiles rules with dateFormatTZ "Zulu".
RULE_TIME_ZONE = "Zulu"
_EPOCH = re.compile(r"^\d+$")

Dsl = dict[str, Any]

# Kibana's or/is/range clauses all carry this.
_MSM: Dsl = {"minimum_should_match": 1}

_RANGE_KEYS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

# Kibana's parser turns these unquoted words into JavaScript literals.
_JS_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}

# Kibana's escapeQueryString (node_types/wildcard.ts): query_string's reserved characters.
_QUERY_STRING_RESERVED = re.compile(r"""[+\-=&|><!(){}\[\]^"~*?:\\/]""")


def to_dsl(query: Query, fields: FieldTypes | None = None) -> Dsl:
    """The Elasticsearch query Kibana would send for ``query`` (``match_all`` when empty),
    with the field types of ``fields`` when given."""
    if query.node is None:
        return {"match_all": {}}
    return _Compiler(fields).node(query.node, None)


class _Compiler:
    def __init__(self, fields: FieldTypes | None) -> None:
        self.fields = fields

    def node(self, node: Node, nested_path: str | None) -> Dsl:
        return _node(node, nested_path, self)

    def resolve(self, name: str, wildcard_name: bool) -> list[FieldType | None]:
        """Kibana's ``getFields``: the data view fields ``name`` refers to; ``[None]`` (the
        name sent as is) when there are none."""
        if self.fields is None:
            return [None]
        found = self.fields.matching(name) if wildcard_name else [self.fields.get(name)]
        found = [f for f in found if f is not None]
        return list(found) or [None]


def _node(node: Node, nested_path: str | None, c: _Compiler) -> Dsl:
    match node:
        case And(terms=terms):
            return {"bool": {"filter": [_node(t, nested_path, c) for t in terms]}}
        case Or(terms=terms):
            return {"bool": {"should": [_node(t, nested_path, c) for t in terms], **_MSM}}
        case Not(node=child):
            return {"bool": {"must_not": _node(child, nested_path, c)}}
        case Nested(path=path, query=child):
            full_path = _full_name(path, nested_path)
            return {
                "nested": {
                    "path": full_path,
                    "query": _node(child, full_path, c),
                    "score_mode": "none",
                }
            }
        case Exists(field=field):
            return _is(field, Wildcard(segments=("", "")), nested_path, c)
        case Range(field=field, op=op, value=bound):
            return _range(_full_name(field, nested_path), _RANGE_KEYS[op], bound, nested_path, c)
        case FieldMatch(field=field, value=value):
            return _value(field, value, nested_path, c)
    raise TypeError(f"not a KQL node: {node!r}")  # pragma: no cover - exhaustive match


def _value(field: str | None, value: Value, nested_path: str | None, c: _Compiler) -> Dsl:
    # field:(a or b) is compiled as or(is(field, a), is(field, b)), and so on.
    match value:
        case ValueOr(terms=terms):
            return {"bool": {"should": [_value(field, t, nested_path, c) for t in terms], **_MSM}}
        case ValueAnd(terms=terms):
            return {"bool": {"filter": [_value(field, t, nested_path, c) for t in terms]}}
        case ValueNot(value=child):
            return {"bool": {"must_not": _value(field, child, nested_path, c)}}
        case Term() | Phrase() | Wildcard():
            return _is(field, value, nested_path, c)
    raise TypeError(f"not a KQL value: {value!r}")  # pragma: no cover - exhaustive match


def _is(
    field: str | None, value: Term | Phrase | Wildcard, nested_path: str | None, c: _Compiler
) -> Dsl:
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
    wildcard_name = field is not None and "*" in field
    queries = []
    for typed in c.resolve(name, wildcard_name):
        target = typed.name if typed else name
        keyword = typed is not None and typed.is_keyword
        query: Dsl
        if lone_wildcard:
            query = {"exists": {"field": target}}
        elif isinstance(value, Wildcard):
            pattern = _query_string(value)
            query = (
                {"wildcard": {target: {"value": pattern}}}
                if keyword
                else {"query_string": {"fields": [target], "query": pattern}}
            )
        elif typed is not None and typed.type == "date":
            text = _match_value(value)
            query = {"range": {target: {"gte": text, "lte": text, **_zone(text)}}}
        elif keyword:
            query = {"term": {target: {"value": _match_value(value)}}}
        elif isinstance(value, Phrase):
            query = {"match_phrase": {target: value.text}}
        else:
            query = {"match": {target: _match_value(value)}}
        queries.append(_wrap_nested(query, typed, wildcard_name, nested_path))
    return {"bool": {"should": queries, **_MSM}}


def _range(name: str, op: str, bound: str, nested_path: str | None, c: _Compiler) -> Dsl:
    """Kibana's ``range`` function, one clause per field ``name`` refers to."""
    wildcard_name = "*" in name
    queries = []
    for typed in c.resolve(name, wildcard_name):
        target = typed.name if typed else name
        params: Dsl = {op: bound}
        if typed is not None and typed.type == "date":
            params.update(_zone(bound))
        queries.append(_wrap_nested({"range": {target: params}}, typed, wildcard_name, nested_path))
    return {"bool": {"should": queries, **_MSM}}


def _zone(value: object) -> Dsl:
    """The rules' time zone, except for epoch values (absolute already)."""
    if isinstance(value, str) and not _EPOCH.match(value):
        return {"time_zone": RULE_TIME_ZONE}
    return {}


def _wrap_nested(
    query: Dsl, typed: FieldType | None, wildcard_name: bool, nested_path: str | None
) -> Dsl:
    # A wildcard name can reach into nested objects: Kibana adds the nested query itself.
    if typed is None or typed.nested_path is None or not wildcard_name or nested_path:
        return query
    return {"nested": {"path": typed.nested_path, "query": query, "score_mode": "none"}}


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
