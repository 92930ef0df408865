"""Kibana's exception list export (NDJSON: containers, items, and a summary line) ->
:class:`ExceptionList` values, for ``runner exceptions import``.

A malformed line or a bad item is reported with the file, line, item and entry and left out;
every other line still imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runner.errors import ExceptionListError
from runner.exceptions.model import CONTAINER_TYPES, ExceptionItem, ExceptionList
from runner.exceptions.parse import ItemReader


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    lists: tuple[ExceptionList, ...]
    errors: tuple[ExceptionListError, ...]


def read_export(path: Path) -> ImportResult:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExceptionListError("no such file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExceptionListError(f"cannot read: {exc}", path=str(path)) from None
    containers: dict[str, Mapping[str, Any]] = {}
    items: dict[str, list[ExceptionItem]] = {}
    errors: list[ExceptionListError] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(ExceptionListError(f"malformed JSON: {exc.msg}", path=where))
            continue
        if not isinstance(raw, Mapping):
            errors.append(ExceptionListError("expected a JSON object", path=where))
            continue
        if "exported_exception_list_count" in raw or "exported_count" in raw:
            continue  # the export's summary line
        kind = raw.get("type")
        if kind in CONTAINER_TYPES:
            list_id = raw.get("list_id")
            if not isinstance(list_id, str) or not list_id:
                errors.append(ExceptionListError("list_id: required string", path=where))
                continue
            containers[list_id] = raw
        elif kind == "simple":
            reader = ItemReader(where)
            item = reader.item(raw, where=f"line {number}", list_id=None)
            errors += reader.errors
            if item is not None:
                items.setdefault(item.list_id, []).append(item)
        else:
            errors.append(
                ExceptionListError(
                    f"type: expected an exception list ({', '.join(CONTAINER_TYPES)}) or an "
                    f"item (simple), got {kind!r}",
                    path=where,
                )
            )
    lists: list[ExceptionList] = []
    for list_id in dict.fromkeys([*containers, *items]):
        container = containers.get(list_id, {})
        if not container:
            errors.append(
                ExceptionListError(
                    f"items of list {list_id!r} come without their list; imported into a new "
                    "detection list",
                    path=str(path),
                )
            )
        tags = container.get("tags") or []
        lists.append(
            ExceptionList(
                list_id=list_id,
                name=str(container.get("name") or list_id),
                type=str(container.get("type") or "detection"),
                description=str(container.get("description") or ""),
                namespace_type=str(container.get("namespace_type") or "single"),
                tags=tuple(t for t in tags if isinstance(t, str)),
                items=tuple(items.get(list_id, [])),
            )
        )
    return ImportResult(lists=tuple(lists), errors=tuple(errors))


def merge(existing: ExceptionList | None, imported: ExceptionList) -> ExceptionList:
    """Items of ``imported`` replace those with the same ``item_id``; the rest are kept, as
    are the rules the existing file attaches the list to."""
    if existing is None:
        return imported
    by_id = {i.item_id: i for i in existing.items}
    by_id.update({i.item_id: i for i in imported.items})
    return replace(
        existing,
        name=imported.name,
        description=imported.description or existing.description,
        type=imported.type,
        items=tuple(by_id.values()),
    )
