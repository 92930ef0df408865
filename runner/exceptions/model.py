"""Rule exceptions as typed, immutable values (Kibana's exception list and item schemas).

One :class:`ExceptionList` is what one file of the ``exceptions/`` folder says (the
detection-rules TOML format: ``[metadata]`` plus ``[[exceptions]]`` with a ``container`` and
``items``), or one list of a Kibana export.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

EntryType = Literal["match", "match_any", "wildcard", "exists", "list", "nested"]
Operator = Literal["included", "excluded"]
OsType = Literal["windows", "linux", "macos"]

ENTRY_TYPES: tuple[str, ...] = ("match", "match_any", "wildcard", "exists", "list", "nested")
OPERATORS: tuple[str, ...] = ("included", "excluded")
OS_TYPES: tuple[str, ...] = ("windows", "linux", "macos")
CONTAINER_TYPES: tuple[str, ...] = ("detection", "endpoint", "rule_default")
NAMESPACE_TYPES: tuple[str, ...] = ("single", "agnostic")
# Kibana's value list types (the lists plugin's ``type`` schema).
LIST_TYPES: tuple[str, ...] = (
    "binary", "boolean", "byte", "date", "date_nanos", "date_range", "double", "double_range",
    "float", "float_range", "geo_point", "geo_shape", "half_float", "integer", "integer_range",
    "ip", "ip_range", "keyword", "long", "long_range", "shape", "short", "text",
)  # fmt: skip
ENDPOINT_LIST_ID = "endpoint_list"


@dataclass(frozen=True, kw_only=True, slots=True)
class ListRef:
    """The value list a ``list`` entry tests against."""

    id: str
    type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """One condition of an item.  ``value`` is a string (match, wildcard), a tuple of strings
    (match_any) or None (exists, list, nested); ``entries`` only for nested."""

    field: str
    type: EntryType
    operator: Operator = "included"
    value: str | tuple[str, ...] | None = None
    list: ListRef | None = None
    entries: tuple[Entry, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "type": self.type}
        if self.type != "nested":
            out["operator"] = self.operator
        if isinstance(self.value, tuple):
            out["value"] = list(self.value)
        elif self.value is not None:
            out["value"] = self.value
        if self.list is not None:
            out["list"] = {"id": self.list.id, "type": self.list.type}
        if self.entries:
            out["entries"] = [e.as_dict() for e in self.entries]
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Comment:
    comment: str
    created_at: str | None = None
    created_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"comment": self.comment}
        if self.created_at:
            out["created_at"] = self.created_at
        if self.created_by:
            out["created_by"] = self.created_by
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionItem:
    """Entries are ANDed; the items of every list a rule uses are ORed (Kibana)."""

    item_id: str
    list_id: str
    name: str
    entries: tuple[Entry, ...]
    description: str = ""
    type: str = "simple"
    namespace_type: str = "single"
    os_types: tuple[str, ...] = ()
    expire_time: datetime | None = None
    comments: tuple[Comment, ...] = ()
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] | None = field(default=None, compare=False)

    def active(self, now: datetime) -> bool:
        """Kibana keeps items with ``expire_time > now`` or none at all."""
        return self.expire_time is None or self.expire_time > now


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionList:
    """A container and its items, with the rules its metadata attaches it to."""

    list_id: str
    name: str
    type: str = "detection"
    description: str = ""
    namespace_type: str = "single"
    tags: tuple[str, ...] = ()
    items: tuple[ExceptionItem, ...] = ()
    rule_ids: tuple[str, ...] = ()
    rule_names: tuple[str, ...] = ()
    path: Path | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)
