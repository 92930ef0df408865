"""The value list store contract, on both backends: create, replace, list, read, delete."""

from __future__ import annotations

from runner.lists.elasticsearch import CHUNK_SIZE
from runner.lists.model import ValueListInfo
from tests.both import Both


def test_value_list_store_contract(both: Both) -> None:
    store = both.backend
    assert store.get_list("ips") is None and store.list_lists() == []
    many = [f"10.0.{i // 250}.{i % 250}" for i in range(CHUNK_SIZE + 5)]  # two chunks
    store.put_list(ValueListInfo(id="ips", type="ip", name="Scanners", description="d"), many)
    store.put_list(ValueListInfo(id="names", type="keyword", name="names"), ["a", "b", "a"])
    found = store.get_list("ips")
    assert found is not None and found.values == tuple(many)
    assert (found.info.size, found.info.name, found.info.description) == (
        len(many),
        "Scanners",
        "d",
    )
    assert [(i.id, i.size) for i in store.list_lists()] == [("ips", len(many)), ("names", 2)]
    # Replacing keeps only the new values (no stale chunk survives).
    store.put_list(ValueListInfo(id="ips", type="ip", name="Scanners"), ["1.2.3.4"])
    again = store.get_list("ips")
    assert again is not None and again.values == ("1.2.3.4",)
    assert store.delete_list("ips") is True
    assert store.delete_list("ips") is False
    assert store.get_list("ips") is None
    assert [i.id for i in store.list_lists()] == ["names"]
