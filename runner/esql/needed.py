"""Which source fields a query can read at all, so the documents are flattened only that far.

A ``STATS`` (not ``INLINE``) or a ``KEEP`` of plain names fixes the columns: nothing after it
sees another source field, so the fields the commands before it name are all that matter.  A
wildcard ``KEEP``/``DROP`` before that point, or a query whose output keeps ``FROM``'s
columns, needs every field.  Reading fewer fields changes no answer (the columns a ``KEEP`` of
plain names gives do not depend on which fields exist), only the time spent building rows.
"""

from __future__ import annotations

from runner.esql import ast
from runner.esql.verifier import field_refs

__all__ = ["needed_fields"]


def needed_fields(query: ast.Query) -> frozenset[str] | None:
    """The source fields the query may read, or None for every field."""
    names: set[str] = set()
    for command in query.commands:
        if isinstance(command, ast.Keep | ast.Drop):
            if any("*" in p for p in command.patterns):
                return None
            names.update(command.patterns)
            if isinstance(command, ast.Keep):
                return frozenset(names)
        elif isinstance(command, ast.Rename):
            names.update(old for old, _ in command.pairs)
        elif isinstance(command, ast.MvExpand):
            names.add(command.field)
        elif isinstance(command, ast.Completion | ast.Enrich | ast.LookupJoin):
            return None
        else:
            names.update(f.name for f in field_refs(command))
            if isinstance(command, ast.Stats) and not command.inline:
                return frozenset(names)
    return None
