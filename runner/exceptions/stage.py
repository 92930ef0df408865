"""The exceptions stage of an execution: which items apply to a rule now, the negated filter
that goes into every search of the window, and the items left for after the search.

Attachment, as in Kibana and detection-rules: a rule uses the lists its ``exceptions_list``
names (``endpoint_list`` included), plus the lists whose ``[metadata]`` names the rule in
``rule_ids`` or ``rule_names``.  Expired items (``expire_time <= now``) are left out at each
execution, so no reload is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.errors import ExceptionListError
from runner.exceptions.dsl import exception_query, inline_list
from runner.exceptions.loader import ExceptionSet
from runner.exceptions.model import ExceptionItem, ExceptionList
from runner.exceptions.postfilter import excluded_by
from runner.lists.model import ValueList, ValueListSource
from runner.rules.model import Rule, RuleFilter

EXCEPTION_FILTER_ALIAS = "exceptions"


class RuleExceptions(Protocol):
    def lists_for(self, rule: Rule) -> tuple[ExceptionList, ...]: ...


def referenced_list_ids(rule: Rule) -> tuple[str, ...]:
    """``[[rule.exceptions_list]]`` entries: ``list_id`` (or ``id``) of each."""
    refs = rule.extra.get("exceptions_list") or []
    out: list[str] = []
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, Mapping):
            list_id = ref.get("list_id") or ref.get("id")
            if isinstance(list_id, str):
                out.append(list_id)
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class ExceptionCatalog:
    """Every loaded exception list, and which of them each rule uses."""

    lists: tuple[ExceptionList, ...] = ()

    @classmethod
    def from_set(cls, exception_set: ExceptionSet) -> ExceptionCatalog:
        return cls(lists=exception_set.lists)

    def lists_for(self, rule: Rule) -> tuple[ExceptionList, ...]:
        wanted = set(referenced_list_ids(rule))
        return tuple(
            lst
            for lst in self.lists
            if lst.list_id in wanted or rule.rule_id in lst.rule_ids or rule.name in lst.rule_names
        )


@dataclass(frozen=True, kw_only=True)
class AppliedExceptions:
    """One window's exceptions: ``query`` (items ORed; the search negates it), the items
    applied after the search, and the items left out with the reason."""

    query: Mapping[str, Any] | None = None
    post_items: tuple[ExceptionItem, ...] = ()
    lists: Mapping[str, ValueList] = field(default_factory=dict)
    active: int = 0
    problems: tuple[ExceptionListError, ...] = ()
    # Items of large value lists a rule type does not apply after the search (ES|QL).
    unprocessed: tuple[ExceptionItem, ...] = ()

    def without_post_filter(self) -> AppliedExceptions:
        """For a rule type that only sends the filter (Kibana's ES|QL executor): the large
        value-list items are not applied but reported (``unprocessed_warning``)."""
        return dataclasses.replace(self, post_items=(), unprocessed=self.post_items)

    def unprocessed_warning(self) -> str | None:
        """Kibana's ``getUnprocessedExceptionsWarnings``: the items' names."""
        if not self.unprocessed:
            return None
        names = ", ".join(item.name for item in self.unprocessed)
        return f"The following exceptions won't be applied to rule execution: {names}"

    def apply(self, rule: Rule) -> Rule:
        """The rule with the exception filter negated into its filters (Kibana's
        ``meta.negate: true`` filter), so every request of every type carries it."""
        if self.query is None:
            return rule
        negated = RuleFilter(query=self.query, negate=True)
        return dataclasses.replace(rule, filters=(*rule.filters, negated))

    def excludes(self, source: Mapping[str, Any]) -> bool:
        return (
            bool(self.post_items) and excluded_by(source, self.post_items, self.lists) is not None
        )


NO_EXCEPTIONS = AppliedExceptions()


def prepare(
    lists: Sequence[ExceptionList], now: datetime, value_lists: ValueListSource | None
) -> AppliedExceptions:
    """The active items of ``lists`` at ``now``, split into inlined and post-search ones.

    An item naming a value list that does not exist is left out and reported (the others
    still apply)."""
    inline: list[ExceptionItem] = []
    post: list[ExceptionItem] = []
    found: dict[str, ValueList] = {}
    problems: list[ExceptionListError] = []
    active = 0
    for lst in lists:
        for item in lst.items:
            if not item.active(now):
                continue
            active += 1
            refs = _list_entries(item)
            missing = [
                (where, list_id)
                for where, list_id in refs
                if _lookup(list_id, value_lists, found) is None
            ]
            if missing:
                where, list_id = missing[0]
                problems.append(
                    ExceptionListError(
                        f"value list {list_id!r} does not exist (import it with `runner lists "
                        "import`); the item is not applied",
                        path=str(lst.path or lst.list_id),
                        item=item.item_id,
                        entry=where,
                    )
                )
                continue
            if all(inline_list(found[list_id]) for _, list_id in refs):
                inline.append(item)
            else:
                post.append(item)
    return AppliedExceptions(
        query=exception_query(inline, found),
        post_items=tuple(post),
        lists=found,
        active=active,
        problems=tuple(problems),
    )


def _list_entries(item: ExceptionItem) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for index, entry in enumerate(item.entries):
        for sub, inner in [(None, entry), *((i, e) for i, e in enumerate(entry.entries))]:
            if inner.list is not None:
                where = f"entries[{index}]" + (f".entries[{sub}]" if sub is not None else "")
                out.append((f"{where} ({inner.field})", inner.list.id))
    return out


def _lookup(
    list_id: str, source: ValueListSource | None, cache: dict[str, ValueList]
) -> ValueList | None:
    if list_id not in cache:
        found = source.get_list(list_id) if source is not None else None
        if found is None:
            return None
        cache[list_id] = found
    return cache[list_id]
