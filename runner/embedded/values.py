"""Compiled EQL expression values: SQL text plus what Elasticsearch would know of its type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

from runner.embedded.fields import sql_string
from runner.eql import ast

__all__ = ["NULL", "NUMERIC", "Kind", "Value", "as_text", "literal_value"]

Kind = TypingLiteral["keyword", "long", "double", "bool", "date", "null"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Value:
    """A compiled expression: SQL text, its kind, and whether it is a LIST of values."""

    sql: str
    kind: Kind
    multi: bool = False
    is_field: bool = False
    is_literal: bool = False

    def scalar(self) -> Value:
        """One value, as a script sees a multi-valued field (its first doc value)."""
        if not self.multi:
            return self
        return Value(sql=f"list_min({self.sql})", kind=self.kind)


NULL = Value(sql="NULL", kind="null", is_literal=True)
NUMERIC: tuple[Kind, ...] = ("long", "double")


def literal_value(value: ast.Scalar) -> Value:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return Value(sql="true" if value else "false", kind="bool", is_literal=True)
    if isinstance(value, int):
        return Value(sql=f"{value}::BIGINT", kind="long", is_literal=True)
    if isinstance(value, float):
        return Value(sql=f"{value!r}::DOUBLE", kind="double", is_literal=True)
    return Value(sql=sql_string(value), kind="keyword", is_literal=True)


def as_text(value: Value) -> str:
    """SQL for the string form of a scalar value (as Elasticsearch's ``string()`` gives it)."""
    if value.kind == "keyword":
        return value.sql
    if value.kind == "bool":
        return f"(CASE WHEN {value.sql} THEN 'true' WHEN NOT {value.sql} THEN 'false' END)"
    if value.kind == "date":
        return f"strftime(make_timestamp({value.sql} * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')"
    if value.kind == "null":
        return "NULL::VARCHAR"
    return f"CAST({value.sql} AS VARCHAR)"
