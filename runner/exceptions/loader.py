"""The ``exceptions/`` folder: TOML files in the format of elastic/detection-rules
(``detection_rules/exception.py``) -> :class:`ExceptionList` values.

```toml
[metadata]
creation_date = "2024/05/01"
list_name = "Emond maintenance"
rule_ids = ["<rule_id>"]          # attach to these rules (and/or rule_names)
rule_names = ["Suspicious Emond Child Process"]
updated_date = "2024/05/01"

[[exceptions]]
[exceptions.container]
list_id = "emond-maintenance"
name = "Emond maintenance"
description = "..."
namespace_type = "single"
type = "detection"

[[exceptions.items]]
item_id = "..."
name = "..."
...
entries = [{field = "process.name", type = "match", operator = "included", value = "x"}]
```

Every file is read; every problem is reported with its file, item and entry; a bad item is
left out and a bad file never stops the others.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import ExceptionListError
from runner.exceptions.model import CONTAINER_TYPES, ExceptionItem, ExceptionList
from runner.exceptions.parse import ItemReader


@dataclass(frozen=True, kw_only=True)
class ExceptionSet:
    lists: tuple[ExceptionList, ...] = ()
    errors: tuple[ExceptionListError, ...] = ()
    files: tuple[Path, ...] = field(default=(), repr=False)

    def items(self) -> tuple[ExceptionItem, ...]:
        return tuple(i for lst in self.lists for i in lst.items)


def exception_files(paths: Iterable[Path]) -> list[Path]:
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for item in sorted(path.rglob("*.toml")):
                if item.is_file():
                    found[item] = None
        elif path.exists():
            found[path] = None
    return list(found)


def load_exceptions(paths: Iterable[Path]) -> ExceptionSet:
    files = exception_files(paths)
    lists: list[ExceptionList] = []
    errors: list[ExceptionListError] = []
    seen: dict[str, Path] = {}
    for path in files:
        found, problems = load_exception_file(path)
        errors.extend(problems)
        for lst in found:
            if lst.list_id in seen:
                errors.append(
                    ExceptionListError(
                        f"duplicate list_id {lst.list_id!r}, already used by {seen[lst.list_id]}",
                        path=str(path),
                    )
                )
                continue
            seen[lst.list_id] = path
            lists.append(lst)
    return ExceptionSet(lists=tuple(lists), errors=tuple(errors), files=tuple(files))


def load_exception_file(path: Path) -> tuple[list[ExceptionList], list[ExceptionListError]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], [ExceptionListError(f"cannot read file: {exc.strerror}", path=str(path))]
    except UnicodeDecodeError as exc:
        return [], [ExceptionListError(f"not UTF-8 text: {exc.reason}", path=str(path))]
    except tomllib.TOMLDecodeError as exc:
        return [], [ExceptionListError(f"invalid TOML: {exc}", path=str(path))]
    return read_document(document, path)


def read_document(
    document: Mapping[str, Any], path: Path
) -> tuple[list[ExceptionList], list[ExceptionListError]]:
    reader = ItemReader(str(path))
    metadata = document.get("metadata", {})
    if not isinstance(metadata, Mapping):
        reader.problem("metadata: expected a table")
        metadata = {}
    rule_ids = _strings(metadata.get("rule_ids", []), "metadata.rule_ids", reader)
    rule_names = _strings(metadata.get("rule_names", []), "metadata.rule_names", reader)
    blocks = document.get("exceptions")
    if not isinstance(blocks, list) or not blocks:
        reader.problem("exceptions: expected at least one [[exceptions]] block")
        return [], reader.errors
    lists: list[ExceptionList] = []
    for index, block in enumerate(blocks):
        container = block.get("container") if isinstance(block, Mapping) else None
        if not isinstance(container, Mapping):
            reader.problem(f"exceptions[{index}].container: required table")
            continue
        list_id = container.get("list_id")
        if not isinstance(list_id, str) or not list_id:
            reader.problem(f"exceptions[{index}].container.list_id: required string")
            continue
        kind = container.get("type", "detection")
        if kind not in CONTAINER_TYPES:
            reader.problem(
                f"exceptions[{index}].container.type: expected one of "
                f"{', '.join(CONTAINER_TYPES)}, got {kind!r}"
            )
            continue
        raw_items = block.get("items") or []
        if not isinstance(raw_items, list):
            reader.problem(f"exceptions[{index}].items: expected an array of tables")
            raw_items = []
        items = [
            reader.item(raw, where=f"exceptions[{index}].items[{i}]", list_id=list_id)
            for i, raw in enumerate(raw_items)
        ]
        name = container.get("name") or metadata.get("list_name") or list_id
        tags = container.get("tags") or []
        lists.append(
            ExceptionList(
                list_id=list_id,
                name=str(name),
                type=str(kind),
                description=str(container.get("description") or ""),
                namespace_type=str(container.get("namespace_type") or "single"),
                tags=tuple(t for t in tags if isinstance(t, str)),
                items=tuple(i for i in items if i is not None),
                rule_ids=tuple(rule_ids),
                rule_names=tuple(rule_names),
                path=path,
                metadata=dict(metadata),
            )
        )
    return lists, reader.errors


def _strings(value: Any, key: str, reader: ItemReader) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        reader.problem(f"{key}: expected a list of strings")
        return []
    return list(value)
