"""Field values of a source document as Elasticsearch's ``fields`` API returns them.

Objects may nest or use dotted keys; arrays (of values or of objects) are flattened, so a
field has zero or more leaf values.  Used where the execution core looks at source values
itself: value-list exceptions applied after the search, and alert suppression's group_by.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def field_values(source: Any, dotted: str) -> list[Any]:
    """Every leaf value of ``dotted`` in ``source`` (empty when missing; nulls dropped)."""
    out: list[Any] = []
    _collect(source, dotted, out)
    return out


def _collect(node: Any, dotted: str, out: list[Any]) -> None:
    if isinstance(node, list):
        for element in node:
            _collect(element, dotted, out)
        return
    if not isinstance(node, Mapping):
        return
    if dotted in node:
        _leaves(node[dotted], out)
    parts = dotted.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in node:
            _collect(node[head], ".".join(parts[i:]), out)


def _leaves(value: Any, out: list[Any]) -> None:
    if isinstance(value, list):
        for element in value:
            _leaves(element, out)
    elif value is not None and not isinstance(value, Mapping):
        out.append(value)
