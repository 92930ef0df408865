"""The documents' shape: which objects, arrays and scalar kinds appear at each position.

The loader learns it from documents (a sample, then the rows the coverage check flags) and
keeps it in the store; :mod:`.fields` turns it into column expressions and
:func:`transform_type` into the structure DuckDB's ``json_transform`` parses rows with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ScalarKind", "Shape", "join_path", "transform_type"]

ScalarKind = Literal["str", "long", "double", "bool"]


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass(slots=True)
class Shape:
    """What has been seen at one position of the documents (mutable; owned by the loader)."""

    scalars: set[str] = field(default_factory=set)
    obj: dict[str, Shape] | None = None
    arr: Shape | None = None
    # (root only) fields that one document gave several values through different spellings
    # (``a.b`` nested and dotted): they need a LIST column even without arrays.
    multi: set[str] = field(default_factory=set)

    # -- learning -------------------------------------------------------------------------
    def add(self, value: Any) -> bool:
        """Merge one JSON value into the shape; True when the shape grew."""
        if value is None:
            return False
        if isinstance(value, dict):
            grew = self.obj is None
            if self.obj is None:
                self.obj = {}
            for key, child_value in value.items():
                if key == "":
                    # Elasticsearch rejects empty field names; there is nothing to query.
                    continue
                child = self.obj.get(key)
                if child is None:
                    child = self.obj[key] = Shape()
                    grew = True
                grew = child.add(child_value) or grew
            return grew
        if isinstance(value, list):
            grew = self.arr is None
            if self.arr is None:
                self.arr = Shape()
            for item in value:
                grew = self.arr.add(item) or grew
            return grew
        kind = _scalar_kind(value)
        if kind in self.scalars:
            return False
        self.scalars.add(kind)
        return True

    def add_document(self, doc: Any) -> bool:
        """Merge a whole document (at the root), noting multi-valued spellings."""
        grew = self.add(doc)
        counts: dict[str, int] = {}
        _count_values(doc, "", counts)
        for name, count in counts.items():
            if count > 1 and name not in self.multi:
                self.multi.add(name)
                grew = True
        return grew

    # -- (de)serialisation, kept in the store ------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.scalars:
            out["s"] = sorted(self.scalars)
        if self.obj is not None:
            out["o"] = {k: v.to_json() for k, v in self.obj.items()}
        if self.arr is not None:
            out["a"] = self.arr.to_json()
        if self.multi:
            out["m"] = sorted(self.multi)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Shape:
        shape = cls(scalars=set(data.get("s", ())))
        if "o" in data:
            shape.obj = {k: cls.from_json(v) for k, v in data["o"].items()}
        if "a" in data:
            shape.arr = cls.from_json(data["a"])
        shape.multi = set(data.get("m", ()))
        return shape

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    # -- structure ---------------------------------------------------------------------------
    @property
    def mode(self) -> Literal["empty", "scalar", "object", "array", "json"]:
        """How ``json_transform`` reads this position; ``json`` when it holds mixed kinds."""
        # Positions that only ever held nulls (or empty objects/arrays) carry no value.
        has_obj = self.obj is not None and any(c.mode != "empty" for c in self.obj.values())
        has_arr = self.arr is not None and self.arr.mode != "empty"
        present = [bool(self.scalars), has_obj, has_arr]
        if sum(present) == 0:
            return "empty"
        if sum(present) > 1:
            return "json"
        if self.scalars:
            return "scalar"
        if has_obj:
            return "object"
        assert self.arr is not None
        return "json" if self.arr.mode in ("json", "array") else "array"

    def has_object(self) -> bool:
        if self.obj is not None:
            return True
        return self.arr is not None and self.arr.has_object()


def _count_values(value: Any, path: str, counts: dict[str, int]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if key:
                _count_values(child, join_path(path, key), counts)
    elif isinstance(value, list):
        for item in value:
            _count_values(item, path, counts)
    elif value is not None:
        counts[path] = counts.get(path, 0) + 1


def _scalar_kind(value: Any) -> ScalarKind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "str"


def transform_type(shape: Shape) -> Any:
    """The ``json_transform`` structure for a shape (as a JSON-able value)."""
    mode = shape.mode
    if mode == "object":
        assert shape.obj is not None
        return {k: transform_type(v) for k, v in shape.obj.items() if v.mode != "empty"}
    if mode == "array":
        assert shape.arr is not None
        return [transform_type(shape.arr)]
    if mode == "json":
        return "JSON"
    return "VARCHAR"
