"""Raw exception items and containers (TOML tables or Kibana's JSON) -> typed values.

Every problem names the file, the item and the entry.  A bad item is left out and reported;
the other items and lists still load.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from runner.errors import ExceptionListError
from runner.exceptions.model import (
    ENTRY_TYPES,
    LIST_TYPES,
    OPERATORS,
    OS_TYPES,
    Comment,
    Entry,
    EntryType,
    ExceptionItem,
    ListRef,
    Operator,
)
from runner.timeutil import TimeParseError, parse_absolute

# Kibana allows only these inside a nested entry.
_NESTED_CHILD_TYPES = ("match", "match_any", "exists")


class ItemReader:
    """Reads items of one source (a file), collecting every problem."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[ExceptionListError] = []

    def problem(self, message: str, *, item: str | None = None, entry: str | None = None) -> None:
        self.errors.append(ExceptionListError(message, path=self.path, item=item, entry=entry))

    def item(self, raw: Any, *, where: str, list_id: str | None) -> ExceptionItem | None:
        """One item; None (with its problems recorded) when it cannot be used."""
        if not isinstance(raw, Mapping):
            self.problem("expected a table", item=where)
            return None
        before = len(self.errors)
        item_id = raw.get("item_id")
        if item_id is not None and not isinstance(item_id, str):
            self.problem("item_id: expected a string", item=where)
        name = raw.get("name")
        label = item_id if isinstance(item_id, str) else (name if isinstance(name, str) else where)
        if not isinstance(name, str) or not name:
            self.problem("name: required string", item=label)
        entries_raw = raw.get("entries")
        entries: list[Entry] = []
        if not isinstance(entries_raw, list) or not entries_raw:
            self.problem("entries: required, at least one entry", item=label)
        else:
            for index, entry in enumerate(entries_raw):
                parsed = self.entry(entry, item=label, where=f"entries[{index}]")
                if parsed is not None:
                    entries.append(parsed)
        own_list = raw.get("list_id", list_id)
        if not isinstance(own_list, str) or not own_list:
            self.problem("list_id: required string", item=label)
        os_types = self._strings(raw.get("os_types", []), "os_types", label)
        for os_type in os_types:
            if os_type not in OS_TYPES:
                self.problem(
                    f"os_types: unknown {os_type!r} (expected {', '.join(OS_TYPES)})", item=label
                )
        expire_time = self._expire_time(raw.get("expire_time"), label)
        comments = self._comments(raw.get("comments"), label)
        tags = self._strings(raw.get("tags") or [], "tags", label)
        description = raw.get("description", "")
        if len(self.errors) > before:
            return None
        meta = raw.get("meta")
        return ExceptionItem(
            item_id=item_id if isinstance(item_id, str) else str(uuid.uuid4()),
            list_id=cast(str, own_list),
            name=cast(str, name),
            entries=tuple(entries),
            description=description if isinstance(description, str) else "",
            type=str(raw.get("type") or "simple"),
            namespace_type=str(raw.get("namespace_type") or "single"),
            os_types=tuple(os_types),
            expire_time=expire_time,
            comments=comments,
            tags=tuple(tags),
            meta=dict(meta) if isinstance(meta, Mapping) else None,
        )

    def entry(self, raw: Any, *, item: str, where: str, nested: bool = False) -> Entry | None:
        if not isinstance(raw, Mapping):
            self.problem("expected a table", item=item, entry=where)
            return None
        field = raw.get("field")
        if not isinstance(field, str) or not field:
            self.problem("field: required string", item=item, entry=where)
            return None
        where = f"{where} ({field})"
        kind = raw.get("type")
        allowed = _NESTED_CHILD_TYPES if nested else ENTRY_TYPES
        if kind not in allowed:
            self.problem(
                f"type: unknown entry type {kind!r} (expected {', '.join(allowed)})",
                item=item,
                entry=where,
            )
            return None
        entry_type = cast(EntryType, kind)
        if entry_type == "nested":
            children = raw.get("entries")
            if not isinstance(children, list) or not children:
                self.problem("entries: a nested entry needs entries", item=item, entry=where)
                return None
            parsed = [
                self.entry(c, item=item, where=f"{where}.entries[{i}]", nested=True)
                for i, c in enumerate(children)
            ]
            if any(p is None for p in parsed):
                return None
            return Entry(field=field, type="nested", entries=tuple(p for p in parsed if p))
        operator = raw.get("operator", "included")
        if operator not in OPERATORS:
            self.problem(
                f"operator: expected included or excluded, got {operator!r}",
                item=item,
                entry=where,
            )
            return None
        value = raw.get("value")
        op = cast(Operator, operator)
        if entry_type in ("match", "wildcard"):
            if not isinstance(value, str):
                self.problem(f"value: a {entry_type} entry needs a string", item=item, entry=where)
                return None
            return Entry(field=field, type=entry_type, operator=op, value=value)
        if entry_type == "match_any":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) for v in value)
            ):
                self.problem(
                    "value: a match_any entry needs a non-empty list of strings",
                    item=item,
                    entry=where,
                )
                return None
            return Entry(field=field, type=entry_type, operator=op, value=tuple(value))
        if value not in (None, "", []):
            self.problem(f"value: a {entry_type} entry takes no value", item=item, entry=where)
            return None
        if entry_type == "exists":
            return Entry(field=field, type="exists", operator=op)
        ref = raw.get("list")
        if not isinstance(ref, Mapping) or not isinstance(ref.get("id"), str):
            self.problem("list: a list entry needs list.id and list.type", item=item, entry=where)
            return None
        list_type = ref.get("type")
        if list_type not in LIST_TYPES:
            self.problem(
                f"list.type: unknown field type {list_type!r} (expected one of "
                f"{', '.join(LIST_TYPES)})",
                item=item,
                entry=where,
            )
            return None
        return Entry(
            field=field, type="list", operator=op, list=ListRef(id=ref["id"], type=list_type)
        )

    def _strings(self, value: Any, key: str, item: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{key}: expected a list of strings", item=item)
            return []
        return list(value)

    def _expire_time(self, value: Any, item: str) -> datetime | None:
        if value in (None, ""):
            return None
        if isinstance(value, datetime):  # TOML datetimes arrive parsed
            return parse_absolute(value.isoformat())
        if not isinstance(value, str):
            self.problem("expire_time: expected an ISO 8601 time", item=item)
            return None
        try:
            return parse_absolute(value)
        except TimeParseError:
            self.problem(
                f"expire_time: {value!r} is not an ISO 8601 time (2024-05-01T12:00:00Z)",
                item=item,
            )
            return None

    def _comments(self, value: Any, item: str) -> tuple[Comment, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem("comments: expected a list of {comment = ...} tables", item=item)
            return ()
        out: list[Comment] = []
        for raw in value:
            if isinstance(raw, str):
                out.append(Comment(comment=raw))
            elif isinstance(raw, Mapping) and isinstance(raw.get("comment"), str):
                created_at, created_by = raw.get("created_at"), raw.get("created_by")
                out.append(
                    Comment(
                        comment=raw["comment"],
                        created_at=created_at if isinstance(created_at, str) else None,
                        created_by=created_by if isinstance(created_by, str) else None,
                    )
                )
            elif raw:  # detection-rules writes empty comment tables for missing ones
                self.problem("comments: each comment needs a comment string", item=item)
        return tuple(out)
