"""The fields a sequence's events have in common: the body of its shell alert.

Mirrors Kibana's ``objectArrayIntersection`` / ``objectPairIntersection``
(``build_alert_group_from_sequence.ts``), applied, as Kibana does, to the building-block
alerts' documents one pair at a time:

- Dotted keys and nested objects are the same field (``{"user.name": "a"}`` and
  ``{"user": {"name": "a"}}`` share ``user.name``).  A field kept in the result is written as a
  dotted key only when it was a dotted key in both inputs, nested otherwise.
- Two objects: their common fields, recursively.  Two equal scalars (JavaScript ``===``:
  ``1`` equals ``1.0``, ``true`` does not equal ``1``): kept.  When either side is an array
  (a scalar counting as a one-element array): the values present in both, without repeats, in
  the first one's order, possibly ``[]``; objects inside arrays never match.  Anything else
  (different scalars, object against scalar): dropped.
- Objects left empty are removed; a result with no field at all is None.
- One document is returned as it is; none gives None.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runner.alerts.fields import is_plain_object, same_value_zero

_Path = tuple[str, ...]


def object_array_intersection(objects: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The fields every one of ``objects`` shares, left to right."""
    if not objects:
        return None
    result: Mapping[str, Any] | None = objects[0]
    for other in objects[1:]:
        result = object_pair_intersection(result, other)
    return result


def object_pair_intersection(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The fields ``a`` and ``b`` share (see the module docstring); None if there are none."""
    if a is None or b is None:
        return None
    a_values, a_dotted = _path_values(a)
    b_values, b_dotted = _path_values(b)
    a_norm, b_norm = _unflatten(a_values), _unflatten(b_values)
    common = _intersect_objects(a_norm, b_norm)
    _prune_empty_objects(common)
    if not common:
        return None
    both = a_dotted & b_dotted
    out: dict[str, Any] = {}
    for path, value in _path_values(common)[0]:
        cut = next((n for n in range(len(path), 0, -1) if ".".join(path[:n]) in both), 0)
        if cut == len(path):
            out[".".join(path)] = value
        elif cut:
            # Under a key dotted in both (an object such as "kibana.alert.rule.parameters").
            node = out.get(".".join(path[:cut]))
            if not isinstance(node, dict):
                node = out[".".join(path[:cut])] = {}
            _set_path(node, path[cut:], value)
        else:
            _set_path(out, path, value)
    return out


def _intersect_objects(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, a_value in a.items():
        if key not in b:
            continue
        b_value = b[key]
        if is_plain_object(a_value) and is_plain_object(b_value):
            out[key] = _intersect_objects(a_value, b_value)
        elif same_value_zero(a_value, b_value):
            out[key] = a_value
        elif isinstance(a_value, list) or isinstance(b_value, list):
            a_items = a_value if isinstance(a_value, list) else [a_value]
            b_items = b_value if isinstance(b_value, list) else [b_value]
            out[key] = _array_intersection(a_items, b_items)
    return out


def _array_intersection(a: list[Any], b: list[Any]) -> list[Any]:
    """lodash ``intersection(a, b)``: unique values of ``a`` also in ``b``, in ``a``'s order."""
    out: list[Any] = []
    for item in a:
        if any(same_value_zero(item, seen) for seen in out):
            continue
        if any(same_value_zero(item, other) for other in b):
            out.append(item)
    return out


def _prune_empty_objects(obj: dict[str, Any]) -> None:
    for key in list(obj):
        value = obj[key]
        if isinstance(value, dict):
            _prune_empty_objects(value)
            if not value:
                del obj[key]


def _path_values(obj: Mapping[str, Any]) -> tuple[list[tuple[_Path, Any]], set[str]]:
    """Every leaf as (path, value) with dotted keys split, and the full names of the keys (leaves
    or objects) that were written as a dotted key."""
    pairs: list[tuple[_Path, Any]] = []
    dotted: set[str] = set()
    for path, value in _walk(obj, (), dotted):
        pairs.append((path, value))
    return pairs, dotted


def _walk(obj: Mapping[str, Any], prefix: _Path, dotted: set[str]) -> Iterator[tuple[_Path, Any]]:
    for key, value in obj.items():
        path = prefix + tuple(key.split("."))
        if "." in key:
            dotted.add(".".join(path))
        if is_plain_object(value):
            yield from _walk(value, path, dotted)
        else:
            yield path, value


def _unflatten(pairs: list[tuple[_Path, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in pairs:
        _set_path(out, path, value)
    return out


def _set_path(target: dict[str, Any], path: _Path, value: Any) -> None:
    """lodash ``set``: create objects along ``path`` (replacing scalars in the way)."""
    node = target
    for segment in path[:-1]:
        child = node.get(segment)
        if isinstance(child, list):
            return  # lodash would set a property on the array, which JSON then drops
        if not isinstance(child, dict):
            child = {}
            node[segment] = child
        node = child
    node[path[-1]] = value
