"""Physical layout of events: one column per flattened field, derived from the documents' shape.

Why this layout
---------------
Detection queries touch a handful of fields of millions of events, so each field is a real
DuckDB column (vectorised scans, zone maps, compression) instead of JSON parsed per query.
Elasticsearch's flattening rules decide the column names: nested objects and dotted keys give
the same field (``{"process": {"name": x}}`` and ``{"process.name": x}`` are both
``process.name``), and arrays are transparent (``{"a": [{"b": 1}, {"b": 2}]}`` gives
``a.b = [1, 2]``).  A field is a scalar column while every value seen is a scalar, and a LIST
column once any document holds an array there; its type is BIGINT / DOUBLE / BOOLEAN when every
value seen is of that JSON kind, VARCHAR otherwise (numbers then keep their JSON text, as a
``keyword`` field would).  A field that no document has simply has no column and reads as NULL.
``_source`` keeps the original document so hits are returned verbatim.

The loader learns the documents' *shape* (a tree of objects, arrays and scalar kinds) from a
sample, parses every line natively with ``json_transform`` against it, and verifies cheaply
that the shape covered each row (:mod:`.coverage`); rows it did not cover are walked in
Python, the shape grows, and the rows are built again.  This module turns a shape into the SQL
that computes each field's column from the parsed row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from runner.embedded.shape import Shape, join_path

__all__ = [
    "ColumnKind",
    "FieldInfo",
    "FieldSpec",
    "date_ms_sql",
    "field_specs",
    "grouped_producers",
    "lambda_var",
    "quote_ident",
    "sql_string",
]

ColumnKind = Literal["long", "double", "bool", "keyword"]

_SQL_TYPES: dict[ColumnKind, str] = {
    "long": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "keyword": "VARCHAR",
}
_CONVERT: dict[ColumnKind, str] = {
    "long": "es_long({})",
    "double": "es_double({})",
    "bool": "es_bool({})",
    "keyword": "{}",
}


def date_ms_sql(value: str, is_list: bool) -> str:
    """A field's value as an Elasticsearch date, in epoch ms: how a timestamp field compares
    (the first, i.e. smallest, value of a LIST, as a script reads it)."""
    first = f"list_min({value})" if is_list else value
    return f"es_date_ms(CAST({first} AS VARCHAR))"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldInfo:
    """One queryable field: its column, value kind, and whether the column is a LIST."""

    name: str
    column: str
    kind: ColumnKind
    is_list: bool
    # A BIGINT column holding date_ms_sql() of the field, for fields whose values looked like
    # dates when it was created (a timestamp override such as event.ingested): searches on it
    # compare integers, which DuckDB prunes by zone maps, instead of parsing text per row.
    ms_column: str | None = None

    @property
    def sql_type(self) -> str:
        base = _SQL_TYPES[self.kind]
        return f"{base}[]" if self.is_list else base


# ---------------------------------------------------------------------------------------------
# Producers: SQL expressions that yield a field's raw (text) values from the transformed row.


@dataclass(frozen=True, kw_only=True, slots=True)
class _Producer:
    field: str
    sql: str  # VARCHAR, or VARCHAR[] when is_list
    is_list: bool
    kinds: frozenset[str]


def lambda_var(depth: int) -> str:
    return f"x{depth}"


def _producers(shape: Shape, expr: str, path: str, is_list: bool, depth: int) -> list[_Producer]:
    mode = shape.mode
    if mode == "empty":
        return []
    if mode == "scalar":
        return [_Producer(field=path, sql=expr, is_list=is_list, kinds=frozenset(shape.scalars))]
    if mode == "object":
        assert shape.obj is not None
        out: list[_Producer] = []
        for key, child in shape.obj.items():
            sub = _child_access(expr, key, child, is_list, depth)
            out += _producers(
                child, sub, join_path(path, key), is_list or child.mode == "array", depth + 1
            )
        return out
    if mode == "array":
        assert shape.arr is not None
        return _producers(shape.arr, expr, path, True, depth + 1)
    return _json_producers(shape, expr, path, is_list, depth)


def _child_access(expr: str, key: str, child: Shape, is_list: bool, depth: int) -> str:
    if not is_list:
        return f"({expr}).{quote_ident(key)}"
    var = lambda_var(depth)
    picked = f"list_transform({expr}, lambda {var}: {var}.{quote_ident(key)})"
    # Arrays inside arrays of objects flatten, as Elasticsearch does.
    return f"flatten({picked})" if child.mode == "array" else picked


def _json_paths(shape: Shape, prefix: str, path: str) -> Iterable[tuple[str, str, frozenset[str]]]:
    """(field, JSON path, kinds) for every place a scalar can sit inside a mixed position."""
    if shape.scalars:
        yield path, prefix, frozenset(shape.scalars)
    if shape.obj is not None:
        for key, child in shape.obj.items():
            yield from _json_paths(child, f"{prefix}.{json.dumps(key)}", join_path(path, key))
    if shape.arr is not None:
        yield from _json_paths(shape.arr, f"{prefix}[*]", path)


def _json_producers(
    shape: Shape, expr: str, path: str, is_list: bool, depth: int
) -> list[_Producer]:
    out: list[_Producer] = []
    var = lambda_var(depth)
    for fld, jpath, kinds in _json_paths(shape, "$", path):
        if "[*]" in jpath:
            one = (
                f"list_transform(list_filter(json_extract({{v}}, {sql_string(jpath)}), "
                f"lambda e: json_type(e) NOT IN ('OBJECT', 'ARRAY')), lambda e: e->>'$')"
            )
            many = True
        else:
            one = (
                f"CASE WHEN json_type({{v}}, {sql_string(jpath)}) NOT IN ('OBJECT', 'ARRAY') "
                f"THEN json_extract_string({{v}}, {sql_string(jpath)}) END"
            )
            many = False
        if is_list:
            inner = one.format(v=var)
            if not many:
                inner = f"[{inner}]"
            sql = f"flatten(list_transform({expr}, lambda {var}: {inner}))"
            out.append(_Producer(field=fld, sql=sql, is_list=True, kinds=kinds))
        else:
            out.append(_Producer(field=fld, sql=one.format(v=expr), is_list=many, kinds=kinds))
    return out


def _column_kind(kinds: Iterable[str]) -> ColumnKind:
    seen = set(kinds)
    if seen <= {"long"}:
        return "long"
    if seen <= {"long", "double"}:
        return "double"
    if seen == {"bool"}:
        return "bool"
    return "keyword"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldSpec:
    """How one field's column is computed from the transformed row ``d``."""

    name: str
    kind: ColumnKind
    is_list: bool
    sql: str  # typed column value (NULL when the document lacks the field)
    bad_sql: str | None  # true when a value does not convert to the column type


def grouped_producers(shape: Shape, row: str) -> dict[str, list[_Producer]]:
    grouped: dict[str, list[_Producer]] = {}
    for producer in _producers(shape, row, "", False, 0):
        grouped.setdefault(producer.field, []).append(producer)
    return grouped


def field_specs(shape: Shape, row: str = "d") -> dict[str, FieldSpec]:
    """Column expressions for every field of ``shape``, reading the transformed row ``row``."""
    grouped = grouped_producers(shape, row)
    specs: dict[str, FieldSpec] = {}
    for name, producers in grouped.items():
        kinds = frozenset().union(*(p.kinds for p in producers))
        if not kinds:
            continue
        kind = _column_kind(kinds)
        convert = _CONVERT[kind]
        is_list = name in shape.multi or any(p.is_list for p in producers)
        if not is_list:
            raw = (
                producers[0].sql
                if len(producers) == 1
                else f"coalesce({', '.join(p.sql for p in producers)})"
            )
            sql = convert.format(raw)
            bad = None if kind == "keyword" else f"({raw} IS NOT NULL AND {sql} IS NULL)"
        else:
            parts = [p.sql if p.is_list else f"[{p.sql}]" for p in producers]
            raw = parts[0] if len(parts) == 1 else f"list_concat({', '.join(parts)})"
            typed = (
                raw
                if kind == "keyword"
                else f"list_transform({raw}, lambda v: {convert.format('v')})"
            )
            sql = f"es_list({typed})"
            failed = f"v IS NOT NULL AND {convert.format('v')} IS NULL"
            bad = (
                None if kind == "keyword" else f"(len(list_filter({raw}, lambda v: {failed})) > 0)"
            )
        specs[name] = FieldSpec(name=name, kind=kind, is_list=is_list, sql=sql, bad_sql=bad)
    return specs
