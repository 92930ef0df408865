"""Index patterns (``logs-endpoint.events.process-*``, lists, comma-separated) as SQL on ``_index``.

As Elasticsearch's multi-target syntax: ``*`` wildcards, several patterns separated by commas,
``-pattern`` excludes what earlier patterns matched, ``*`` / ``_all`` / nothing means every
index.  Wildcards do not reach hidden indices (names starting with ``.``) unless the pattern
itself starts with ``.``.  A remote ``cluster:index`` pattern matches nothing locally.

A data stream's backing index (``.ds-<data stream>-<yyyy.MM.dd>-<generation>``, the ``_index``
of every hit a search of a data stream returns) is also selected by the patterns that match its
data stream's name, as Elasticsearch resolves a pattern to data streams and then to their
backing indices: exported hits loaded as they came are found by the rules' patterns.

Aliases: the store's alerts are documents of Kibana's concrete alerts index
(:data:`~runner.embedded.alert_index.ALERTS_INDEX`), which Kibana reaches through the aliases
``.alerts-security.alerts-default`` and ``.siem-signals-default``; a pattern matching an alias
selects its index, as Elasticsearch resolves aliases (``.alerts-security.*`` finds the alerts).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from runner.embedded.alert_index import ALIASES
from runner.embedded.fields import sql_string

__all__ = ["index_filter", "split_patterns"]


def split_patterns(patterns: Iterable[str]) -> list[str]:
    """Each comma-separated part of each pattern, trimmed, empties dropped."""
    return [p.strip() for item in patterns for p in item.split(",") if p.strip()]


# The data stream of a backing index ('' for any other index).
_DATA_STREAM = (
    "(CASE WHEN starts_with(_index, '.ds-') THEN "
    r"regexp_extract(_index, '^\.ds-(.+)-\d{4}\.\d{2}\.\d{2}-\d+$', 1) ELSE '' END)"
)


def _alias_match(pattern: str) -> str | None:
    """SQL selecting the indices of the aliases ``pattern`` names (None: none)."""
    hits = sorted(
        {
            index
            for alias, index in ALIASES.items()
            if (alias == pattern if "*" not in pattern else _glob(alias, pattern))
        }
    )
    if not hits:
        return None
    return "_index IN (" + ", ".join(sql_string(i) for i in hits) + ")"


def _glob(name: str, pattern: str) -> bool:
    # Wildcards reach hidden names (starting with `.`) only from a pattern that does too.
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def _match(pattern: str) -> str:
    sql = _concrete_match(pattern)
    alias = _alias_match(pattern)
    return sql if alias is None else f"({sql} OR {alias})"


def _concrete_match(pattern: str) -> str:
    if ":" in pattern:
        return "false"
    if "*" not in pattern:
        literal = sql_string(pattern)
        return f"(_index = {literal} OR {_DATA_STREAM} = {literal})"
    # Only `*` is a wildcard in index patterns.
    like = sql_string("".join("%" if c == "*" else "\\" + c if c in "%_\\" else c for c in pattern))
    sql = f"_index LIKE {like} ESCAPE '\\'"
    if not pattern.startswith("."):
        backing = (
            f"({_DATA_STREAM} <> '' AND NOT starts_with({_DATA_STREAM}, '.') "
            f"AND {_DATA_STREAM} LIKE {like} ESCAPE '\\')"
        )
        sql = f"(({sql} AND NOT starts_with(_index, '.')) OR {backing})"
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
            sql = _match("*")
        else:
            sql = f"({sql} OR {_match(part)})" if sql != "false" else _match(part)
    return sql.replace("_index", column) if column != "_index" else sql
