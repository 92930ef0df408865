"""Index patterns (``logs-endpoint.events.process-*``, lists, comma-separated) as SQL on ``_index``.

As Elasticsearch's multi-target syntax: ``*`` wildcards, several patterns separated by commas,
``-pattern`` excludes what earlier patterns matched, ``*`` / ``_all`` / nothing means every
index.  Wildcards do not reach hidden indices (names starting with ``.``) unless the pattern
itself starts with ``.``.  A remote ``cluster:index`` pattern matches nothing locally.
"""

from __future__ import annotations

from collections.abc import Iterable

from runner.embedded.fields import sql_string

__all__ = ["index_filter", "split_patterns"]


def split_patterns(patterns: Iterable[str]) -> list[str]:
    """Each comma-separated part of each pattern, trimmed, empties dropped."""
    return [p.strip() for item in patterns for p in item.split(",") if p.strip()]


def _match(pattern: str) -> str:
    if ":" in pattern:
        return "false"
    if "*" not in pattern:
        return f"_index = {sql_string(pattern)}"
    # Only `*` is a wildcard in index patterns.
    like = sql_string("".join("%" if c == "*" else "\\" + c if c in "%_\\" else c for c in pattern))
    sql = f"_index LIKE {like} ESCAPE '\\'"
    if not pattern.startswith("."):
        sql = f"({sql} AND NOT starts_with(_index, '.'))"
    return sql


def index_filter(patterns: Iterable[str], column: str = "_index") -> str:
    """SQL true for events whose index the patterns select."""
    parts = split_patterns(patterns)
    if not parts or parts == ["_all"]:
        return "true"
    sql = "false"
    for part in parts:
        if part.startswith("-") and sql != "false":
            sql = f"({sql} AND NOT {_match(part[1:])})"
        elif part in ("*", "_all"):
            sql = "(NOT starts_with(_index, '.'))"
        else:
            sql = f"({sql} OR {_match(part)})" if sql != "false" else _match(part)
    return sql.replace("_index", column) if column != "_index" else sql
