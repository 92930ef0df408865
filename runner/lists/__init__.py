"""Value lists (Kibana's lists plugin) used by ``list`` exception entries."""

from runner.lists.model import (
    MemoryLists,
    ValueList,
    ValueListInfo,
    ValueListSource,
    ValueListStore,
)

__all__ = ["MemoryLists", "ValueList", "ValueListInfo", "ValueListSource", "ValueListStore"]
