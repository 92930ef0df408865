"""Write an :class:`ExceptionList` back as a detection-rules exception TOML file.

Used by ``runner exceptions import``, ``add`` and ``remove``: the list is rewritten whole
(atomically), so a file always parses.  Rule files are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.exceptions.model import ExceptionItem, ExceptionList
from runner.timeutil import isoformat


def item_dict(item: ExceptionItem) -> dict[str, Any]:
    """The item as Kibana's API (and the TOML file) spells it."""
    out: dict[str, Any] = {
        "item_id": item.item_id,
        "list_id": item.list_id,
        "name": item.name,
        "description": item.description,
        "type": item.type,
        "namespace_type": item.namespace_type,
    }
    if item.os_types:
        out["os_types"] = list(item.os_types)
    if item.expire_time is not None:
        out["expire_time"] = isoformat(item.expire_time)
    if item.tags:
        out["tags"] = list(item.tags)
    out["comments"] = [c.as_dict() for c in item.comments]
    out["entries"] = [e.as_dict() for e in item.entries]
    return out


def render(lists: Sequence[ExceptionList]) -> str:
    """One file: the first list's ``[metadata]``, then one ``[[exceptions]]`` block per list."""
    first = lists[0]
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    meta = dict(first.metadata)
    meta.setdefault("creation_date", today)
    meta["list_name"] = first.name
    meta["rule_ids"] = list(first.rule_ids)
    meta["rule_names"] = list(first.rule_names)
    meta["updated_date"] = today
    lines = ["[metadata]"]
    lines += [f"{key} = {_value(value)}" for key, value in meta.items()]
    for exception_list in lists:
        lines += ["", "[[exceptions]]", "[exceptions.container]"]
        container = {
            "description": exception_list.description,
            "list_id": exception_list.list_id,
            "name": exception_list.name,
            "namespace_type": exception_list.namespace_type,
            "tags": list(exception_list.tags),
            "type": exception_list.type,
        }
        lines += [f"{key} = {_value(value)}" for key, value in container.items()]
        for item in exception_list.items:
            lines += ["", "[[exceptions.items]]"]
            for key, value in item_dict(item).items():
                if key in ("entries", "comments"):
                    rendered = ",\n".join(f"    {_value(v)}" for v in value)
                    lines.append(f"{key} = [\n{rendered},\n]" if value else f"{key} = []")
                else:
                    lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def write_lists(lists: Sequence[ExceptionList], path: Path) -> None:
    """Replace ``path`` atomically with ``lists``: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render(lists))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the first error wins
            Path(tmp).unlink(missing_ok=True)
        raise


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        return '""'
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum()
    return key if bare else json.dumps(key)
