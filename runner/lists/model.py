"""Value lists (Kibana's lists plugin): a named, typed set of values that ``list`` exception
entries test a field against.  Kept in the embedded store or in a runner index on the cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Kibana: a list with more items than this is never inlined into the search filter.
MAXIMUM_SMALL_VALUE_LIST_SIZE = 65536
# Kibana: an ip_range list with more dash ranges than this is not inlined either.
MAXIMUM_SMALL_IP_RANGE_VALUE_LIST_DASH_SIZE = 200
# Kibana inlines only lists of these types (filterOutUnprocessableValueLists).
INLINE_TYPES = ("keyword", "ip", "ip_range")


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueListInfo:
    id: str
    type: str
    name: str
    description: str = ""
    size: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueList:
    info: ValueListInfo
    values: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def type(self) -> str:
        return self.info.type


class ValueListSource(Protocol):
    """Where ``list`` entries find their values (read side)."""

    def get_list(self, list_id: str) -> ValueList | None: ...


class ValueListStore(ValueListSource, Protocol):
    """Both sides: ``runner lists import|list|show|delete``."""

    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        """Create or replace the list with exactly ``values``."""
        ...

    def list_lists(self) -> list[ValueListInfo]: ...

    def delete_list(self, list_id: str) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class MemoryLists:
    """Value lists held in memory (rule test cases, unit tests)."""

    lists: dict[str, ValueList]

    def get_list(self, list_id: str) -> ValueList | None:
        return self.lists.get(list_id)

    def put_list(self, info: ValueListInfo, values: Sequence[str]) -> None:
        unique = tuple(dict.fromkeys(values))
        self.lists[info.id] = ValueList(
            info=ValueListInfo(
                id=info.id,
                type=info.type,
                name=info.name,
                description=info.description,
                size=len(unique),
            ),
            values=unique,
        )

    def list_lists(self) -> list[ValueListInfo]:
        return [v.info for _, v in sorted(self.lists.items())]

    def delete_list(self, list_id: str) -> bool:
        return self.lists.pop(list_id, None) is not None
