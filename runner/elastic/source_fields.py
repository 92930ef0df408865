"""Values that exist only in a hit's ``fields`` merged into its ``_source``, as Kibana does.

Kibana asks every events search for ``fields: [{"field": "*", "include_unmapped": true}]``
and builds the alert from ``_source`` merged with them by its default strategy,
``mergeMissingFieldsWithSource`` (``source_fields_merging/``): a field from ``fields`` is
added only where ``_source`` has no value and the path is open (no primitive on the way),
unless it is empty, holds objects (nested), is a typed object (a geo point), is ``_ignored``,
has an invalid runtime-field key (``.x``, ``a..b``) or is a multi-field of another field in
``fields``.  A single value is unboxed from its array.  So runtime, alias and
``constant_keyword`` values reach the alert; everything ``_source`` holds stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ALL_FIELDS", "merge_missing_fields"]

# What Kibana's events searches request.
ALL_FIELDS: list[dict[str, Any]] = [{"field": "*", "include_unmapped": True}]

_DOTS = re.compile(r"\.{2,}")


def merge_missing_fields(
    source: Mapping[str, Any], fields: Mapping[str, Any] | None
) -> dict[str, Any]:
    merged: dict[str, Any] = _copy(source)
    if not fields:
        return merged
    keys = list(fields)
    for key in keys:
        value = fields[key]
        if not isinstance(value, list):
            continue
        if _robust_get(key, merged) is not None or not _path_valid(key, merged):
            continue
        if _early_return(value) or not _keep(key, value, keys):
            continue
        _robust_set(merged, key, _unbox(value))
    return merged


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_type_object(values: Sequence[Any]) -> bool:
    return any(isinstance(v, dict) and bool(v.get("type")) for v in values)


def _early_return(values: Sequence[Any]) -> bool:
    nested = bool(values) and isinstance(values[0], dict | list) and not _is_type_object(values)
    return len(values) == 0 or nested or _is_type_object(values)


def _keep(key: str, values: Sequence[Any], keys: Sequence[str]) -> bool:
    """Kibana's ``filterFieldEntry`` (with no configured ignore list)."""
    if key == "_ignored" or key.startswith(".") or _DOTS.search(key):
        return False
    parts = key.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts) - 1)}
    if any(k in prefixes for k in keys):
        return False  # a multi-field (process.name.text beside process.name)
    return not _is_type_object(values)


def _robust_get(key: str, document: Mapping[str, Any]) -> Any:
    fast = document.get(key)
    if fast is not None:
        return fast
    parts = key.split(".")
    for i in range(len(parts) - 1):
        prefix = ".".join(parts[: i + 1])
        value = document.get(prefix)
        if value is not None:
            if _is_object(value):
                return _robust_get(".".join(parts[i + 1 :]), value)
            return None
    return None


def _path_valid(key: str, document: Mapping[str, Any]) -> bool:
    parts = key.split(".")
    for i in range(len(parts)):
        value = document.get(".".join(parts[: i + 1]))
        if value is not None:
            if not _is_object(value):
                return False
            return _path_valid(".".join(parts[i + 1 :]), value)
    return True


def _robust_set(document: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for i in range(len(parts) - 1):
        inner = document.get(".".join(parts[: i + 1]))
        if inner is not None and _is_object(inner):
            _robust_set(inner, ".".join(parts[i + 1 :]), value)
            return
    # lodash ``set``: nested objects along the dotted path.
    node = document
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _unbox(values: list[Any]) -> Any:
    """Kibana's ``recursiveUnboxingFields`` against a missing source value."""
    mapped = [_unbox(v) if isinstance(v, list) else v for v in values]
    return mapped[0] if len(mapped) == 1 else mapped
