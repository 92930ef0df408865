"""Changing the ``exceptions/`` folder: import a Kibana export, add an item built from an
alert (Kibana's "Add rule exception"), remove an item.  Only exception files are written;
rule files are never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.docfields import field_values
from runner.errors import ExceptionListError, UsageError
from runner.exceptions.kibana_import import ImportResult, merge
from runner.exceptions.loader import exception_files, load_exception_file
from runner.exceptions.model import Comment, Entry, ExceptionItem, ExceptionList
from runner.exceptions.writer import write_lists
from runner.rules.model import Rule
from runner.timeutil import isoformat

# Fields an item from an alert uses when none are named: what identifies the program run.
DEFAULT_ALERT_FIELDS = ("process.executable", "process.command_line")


def rule_list_id(rule: Rule) -> str:
    return f"{rule.stem}_exceptions"


def rule_file(directory: Path, rule: Rule) -> Path:
    return directory / f"{rule.stem}_exceptions.toml"


def item_from_alert(
    alert: Mapping[str, Any],
    *,
    list_id: str,
    fields: Sequence[str],
    comment: str | None,
    expires: datetime | None,
    now: datetime,
    author: str = "runner",
) -> ExceptionItem:
    """One ``match`` entry per field (``match_any`` for a field with several values), with the
    values the alert's source event has: the alert holds the event's fields as they came."""
    wanted = list(fields) or [f for f in DEFAULT_ALERT_FIELDS if field_values(alert, f)]
    entries: list[Entry] = []
    missing: list[str] = []
    for name in wanted:
        values = list(dict.fromkeys(_text(v) for v in field_values(alert, name)))
        if not values:
            missing.append(name)
        elif len(values) == 1:
            entries.append(Entry(field=name, type="match", value=values[0]))
        else:
            entries.append(Entry(field=name, type="match_any", value=tuple(values)))
    if missing:
        raise UsageError(f"the alert has no value for {', '.join(missing)}; name other --field")
    if not entries:
        raise UsageError(
            f"the alert has none of {', '.join(DEFAULT_ALERT_FIELDS)}; name fields with --field"
        )
    rule_name = alert.get("kibana.alert.rule.name") or "rule"
    summary = ", ".join(f"{e.field}" for e in entries)
    comments = (
        (Comment(comment=comment, created_at=isoformat(now), created_by=author),) if comment else ()
    )
    return ExceptionItem(
        item_id=str(uuid.uuid4()),
        list_id=list_id,
        name=f"{rule_name}: exclude {summary}",
        description=f"Added from alert {alert.get('kibana.alert.uuid', '')}",
        entries=tuple(entries),
        expire_time=expires,
        comments=comments,
        meta={"from_alert": str(alert.get("kibana.alert.uuid", ""))},
    )


def add_item(directory: Path, rule: Rule, item: ExceptionItem) -> Path:
    """Append ``item`` to the rule's own exception file (created, attached by rule id)."""
    path = rule_file(directory, rule)
    lists = _read(path)
    list_id = rule_list_id(rule)
    for index, lst in enumerate(lists):
        if lst.list_id == list_id:
            lists[index] = replace(lst, items=(*lst.items, item))
            break
    else:
        lists.append(
            ExceptionList(
                list_id=list_id,
                name=f"{rule.name} exceptions",
                type="rule_default",
                description=f"Exceptions of the rule {rule.name}",
                rule_ids=(rule.rule_id,),
                rule_names=(rule.name,),
                items=(item,),
            )
        )
    write_lists(lists, path)
    return path


def remove_item(directory: Path, item_id: str) -> Path:
    """Remove the item from whichever file holds it; the file keeps its other items."""
    for path in exception_files([directory]):
        lists = _read(path)
        for index, lst in enumerate(lists):
            kept = tuple(i for i in lst.items if i.item_id != item_id)
            if len(kept) != len(lst.items):
                lists[index] = replace(lst, items=kept)
                write_lists(lists, path)
                return path
    raise UsageError(f"no exception item {item_id!r} under {directory}")


def import_export(
    directory: Path, result: ImportResult, rules: Sequence[Rule] = ()
) -> list[tuple[ExceptionList, Path]]:
    """Write each imported list to ``<list_id>_exceptions.toml`` (merged into an existing
    file of that list); ``rules`` are added to the lists' metadata attachment."""
    existing: dict[str, tuple[Path, ExceptionList]] = {}
    for path in exception_files([directory]):
        for lst in _read(path):
            existing[lst.list_id] = (path, lst)
    written: list[tuple[ExceptionList, Path]] = []
    for imported in result.lists:
        found = existing.get(imported.list_id)
        merged = merge(found[1] if found else None, imported)
        merged = replace(
            merged,
            rule_ids=tuple(dict.fromkeys([*merged.rule_ids, *(r.rule_id for r in rules)])),
            rule_names=tuple(dict.fromkeys([*merged.rule_names, *(r.name for r in rules)])),
        )
        target = found[0] if found else directory / f"{imported.list_id}_exceptions.toml"
        siblings = [lst for lst in _read(target) if lst.list_id != merged.list_id]
        write_lists([*siblings, merged], target)
        written.append((merged, target))
    return written


def _read(path: Path) -> list[ExceptionList]:
    """The lists of one file; a file with errors is not rewritten (it would lose items)."""
    if not path.exists():
        return []
    lists, errors = load_exception_file(path)
    if errors:
        raise ExceptionListError(
            f"fix this file first ({len(errors)} problem(s), first: {errors[0]})", path=str(path)
        )
    return lists


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
