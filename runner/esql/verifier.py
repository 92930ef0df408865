"""Elasticsearch's column verification: a command may read only the columns before it.

Elasticsearch rejects ``ROW a = 1 | KEEP a | EVAL c = b`` with ``Unknown column [b]`` (its
Analyzer leaves ``b`` unresolved and its Verifier reports every such reference, each at its
line:column).  Here the columns of ``FROM`` are not known statically (they are the fields of
the data), so the check is conservative: a name is unknown only when it is *definitely*
absent -- removed by ``KEEP``/``DROP``/``RENAME``, or not among the exact columns after
``ROW``, ``STATS`` or a ``KEEP`` of plain names.  ``ENRICH`` and ``LOOKUP JOIN`` bring columns
of their own, so after them any name may exist again.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from runner.errors import QueryError
from runner.esql import ast
from runner.esql.patterns import GrokError, dissect_fields, grok_fields

__all__ = ["field_refs", "verify"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    offset: int
    message: str


@dataclass(kw_only=True)
class _Columns:
    """What may exist at a point of the query."""

    known: list[str] = field(default_factory=list)  # present for sure, in order
    open: bool = False  # other names may exist too (FROM's fields)
    gone: set[str] = field(default_factory=set)  # absent for sure, even when open
    keep: list[tuple[str, ...]] = field(default_factory=list)  # an open name matches one each
    drop: list[str] = field(default_factory=list)  # an open name matches none

    def has(self, name: str) -> bool:
        if name in self.known:
            return True
        if not self.open or name in self.gone:
            return False
        if any(not any(_matches(p, name) for p in patterns) for patterns in self.keep):
            return False
        return not any(_matches(p, name) for p in self.drop)

    def add(self, name: str) -> None:
        if name in self.known:
            self.known.remove(name)
        self.known.append(name)
        self.gone.discard(name)

    def remove(self, name: str) -> None:
        if name in self.known:
            self.known.remove(name)
        self.gone.add(name)


def verify(query: ast.Query) -> None:
    """Raise :class:`QueryError` at the first unknown column (Elasticsearch lists them all; the
    message names how many more there are)."""
    problems = list(problems_of(query))
    if not problems:
        return
    first, *rest = problems
    message = first.message
    if rest:
        more = "; ".join(f"line {_where(query.text, p.offset)}: {p.message}" for p in rest)
        s = "s" if len(rest) > 1 else ""
        message += f" (and {len(rest)} more problem{s}: {more})"
    line, column = _position(query.text, first.offset)
    raise QueryError(message, query=query.text, line=line, column=column)


def problems_of(query: ast.Query) -> Iterator[Problem]:
    columns = _Columns()
    source = query.source
    if isinstance(source, ast.From):
        columns.open = True
        for meta in source.metadata:
            columns.add(meta)
    else:
        for assign in source.fields:
            columns.add(assign.name)
    for command in query.commands:
        yield from _command(command, columns, query.text)


def _command(command: ast.Command, columns: _Columns, text: str) -> Iterator[Problem]:
    if isinstance(command, ast.Where):
        yield from _refs(command.condition, columns)
    elif isinstance(command, ast.Eval):
        for assign in command.fields:
            yield from _refs(assign.expr, columns)
            columns.add(assign.name)
    elif isinstance(command, ast.Keep):
        yield from _keep(command, columns)
    elif isinstance(command, ast.Drop):
        # Every pattern reads the columns before the DROP (a name may be dropped twice).
        located = list(_located(command.patterns, command.positions))
        for pattern, pos in located:
            if "*" not in pattern and not columns.has(pattern):
                yield _unknown(pattern, pos, columns)
        for pattern, _ in located:
            if "*" in pattern:
                columns.known = [c for c in columns.known if not _matches(pattern, c)]
                columns.drop.append(pattern)
            else:
                columns.remove(pattern)
    elif isinstance(command, ast.Rename):
        yield from _rename(command, columns, text)
    elif isinstance(command, ast.Stats):
        yield from _stats(command, columns)
    elif isinstance(command, ast.Sort):
        for order in command.orders:
            yield from _refs(order.expr, columns)
    elif isinstance(command, ast.MvExpand):
        if not columns.has(command.field):
            yield _unknown(command.field, command.pos, columns)
    elif isinstance(command, ast.Grok | ast.Dissect):
        yield from _refs(command.input, columns)
        try:
            if isinstance(command, ast.Grok):
                names = [n for n, _ in grok_fields(command.pattern)]
            else:
                names = list(dissect_fields(command.pattern))
        except GrokError:
            names = []  # the engine reports a broken pattern when it runs
        for name in names:
            columns.add(name)
    elif isinstance(command, ast.Completion):
        yield from _refs(command.prompt, columns)
        columns.add(command.target)
    elif isinstance(command, ast.Enrich | ast.LookupJoin):
        # Their columns come from the cluster (a policy, a lookup index): anything may exist.
        columns.open = True
        columns.gone.clear()
        columns.keep.clear()
        columns.drop.clear()


def _keep(command: ast.Keep, columns: _Columns) -> Iterator[Problem]:
    kept: list[str] = []
    wildcards: list[str] = []
    for pattern, pos in _located(command.patterns, command.positions):
        if "*" in pattern:
            wildcards.append(pattern)
            kept += [c for c in columns.known if _matches(pattern, c) and c not in kept]
            continue
        if not columns.has(pattern):
            yield _unknown(pattern, pos, columns)
        if pattern not in kept:
            kept.append(pattern)
    columns.known = kept
    if wildcards:
        columns.keep.append(tuple(wildcards))
    else:
        columns.open = False


def _rename(command: ast.Rename, columns: _Columns, text: str) -> Iterator[Problem]:
    renamed: dict[str, str] = {}
    spans = command.spans or tuple((-1, -1) for _ in command.pairs)
    for (old, new), (start, end) in zip(command.pairs, spans, strict=True):
        if not columns.has(old):
            if old in renamed:
                clause = text[start:end] if start >= 0 else f"{old} as {new}"
                yield Problem(
                    offset=start,
                    message=f"Column [{old}] renamed to [{renamed[old]}] and is no longer "
                    f"available [{clause}]",
                )
            else:
                yield _unknown(old, start, columns)
        if old == new:
            continue
        columns.remove(old)
        columns.add(new)
        renamed[old] = new


def _stats(command: ast.Stats, columns: _Columns) -> Iterator[Problem]:
    # Aggregates see the input, the groups (BY k = a + b) and, leniently, earlier outputs.
    seen = _Columns(known=list(columns.known), open=columns.open, gone=set(columns.gone),
                    keep=list(columns.keep), drop=list(columns.drop))  # fmt: skip
    for group in command.groups:
        yield from _refs(group.expr, columns)
        seen.add(group.name)
    for aggregate in command.aggregates:
        yield from _refs(aggregate.expr, seen)
        if aggregate.where is not None:
            yield from _refs(aggregate.where, seen)
        seen.add(aggregate.name)
    outputs = [a.name for a in command.aggregates] + [g.name for g in command.groups]
    if command.inline:
        for name in outputs:
            columns.add(name)
        return
    columns.known = []
    columns.open = False
    columns.gone.clear()
    columns.keep.clear()
    columns.drop.clear()
    for name in outputs:
        columns.add(name)


def _refs(expr: ast.Expr, columns: _Columns) -> Iterator[Problem]:
    for node in field_refs(expr):
        if not columns.has(node.name):
            yield _unknown(node.name, node.pos, columns)


def field_refs(node: object) -> Iterator[ast.Field]:
    """Every column reference inside a node of the tree."""
    if isinstance(node, ast.Field):
        yield node
        return
    if isinstance(node, tuple):
        for item in node:
            yield from field_refs(item)
        return
    for slot in getattr(type(node), "__slots__", ()):
        child = getattr(node, slot, None)
        if isinstance(child, tuple) or hasattr(type(child), "__slots__"):
            yield from field_refs(child)


def _unknown(name: str, offset: int, columns: _Columns) -> Problem:
    message = f"Unknown column [{name}]"
    if not columns.open:
        # Only when every column is known: Elasticsearch suggests among all of them.
        similar = find_similar(name, columns.known)
        if len(similar) == 1:
            message += f", did you mean [{similar[0]}]?"
        elif similar:
            message += f", did you mean any of [{', '.join(similar)}]?"
    return Problem(offset=offset, message=message)


def find_similar(name: str, candidates: list[str]) -> list[str]:
    """Elasticsearch's ``StringUtils.findSimilar``: Lucene's Levenshtein similarity (1 - edits /
    longer length) of at least 0.5, most similar first (ties by name here; Elasticsearch's
    order among ties follows a hash set)."""
    scored = []
    for candidate in candidates:
        longest = max(len(name), len(candidate))
        similarity = 1.0 if longest == 0 else 1 - _edits(name, candidate) / longest
        if similarity >= 0.5:
            scored.append((-similarity, candidate))
    return [c for _, c in sorted(scored)]


def _edits(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _located(patterns: tuple[str, ...], positions: tuple[int, ...]) -> Iterator[tuple[str, int]]:
    yield from zip(patterns, positions or (-1,) * len(patterns), strict=True)


def _matches(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if "*" in pattern else pattern == name


def _position(text: str, offset: int) -> tuple[int, int]:
    if offset < 0:
        return 1, 1
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _where(text: str, offset: int) -> str:
    line, column = _position(text, offset)
    return f"{line}:{column}"
