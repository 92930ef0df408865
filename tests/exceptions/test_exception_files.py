"""Exception files (detection-rules TOML) and Kibana's NDJSON export: what loads, what each
bad input reports (file, item, entry), and that the other items and lists still load."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from runner.exceptions.kibana_import import read_export
from runner.exceptions.loader import load_exceptions
from runner.exceptions.model import Comment, Entry, ListRef
from runner.exceptions.writer import render, write_lists

GOOD = """
[metadata]
creation_date = "2024/05/01"
list_name = "Emond maintenance"
rule_ids = ["3e3d15c6-1509-479a-b125-21718372157e"]
rule_names = []
updated_date = "2024/05/01"

[[exceptions]]
[exceptions.container]
description = "Known maintenance"
list_id = "emond-maintenance"
name = "Emond maintenance"
namespace_type = "single"
tags = ["macos"]
type = "detection"

[[exceptions.items]]
item_id = "echo-ok"
list_id = "emond-maintenance"
name = "emond echo"
description = "emond's own rule echoes ok"
type = "simple"
namespace_type = "single"
os_types = ["macos"]
expire_time = "2030-01-01T00:00:00Z"
tags = []
comments = [{comment = "verified with IT, ticket 4711"}]
entries = [
  {field = "process.command_line", type = "match", operator = "included", value = "echo ok"},
  {field = "process.args", type = "match_any", operator = "excluded", value = ["-x", "-y"]},
  {field = "process.executable", type = "wildcard", operator = "included", value = "/bin/*"},
  {field = "process.pid", type = "exists", operator = "included"},
  {field = "user.id", type = "list", operator = "included", list = {id = "adm", type = "keyword"}},
  {field = "process.parent", type = "nested", entries = [
    {field = "name", type = "match", operator = "included", value = "emond"},
  ]},
]
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_detection_rules_format_loads_every_entry_type(tmp_path: Path) -> None:
    write(tmp_path, "emond.toml", GOOD)
    loaded = load_exceptions([tmp_path])
    assert not loaded.errors
    (lst,) = loaded.lists
    assert (lst.list_id, lst.name, lst.type) == (
        "emond-maintenance",
        "Emond maintenance",
        "detection",
    )
    assert lst.rule_ids == ("3e3d15c6-1509-479a-b125-21718372157e",)
    (item,) = lst.items
    assert item.os_types == ("macos",)
    assert item.expire_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert item.comments == (Comment(comment="verified with IT, ticket 4711"),)
    assert [e.type for e in item.entries] == [
        "match", "match_any", "wildcard", "exists", "list", "nested"
    ]  # fmt: skip
    assert item.entries[1] == Entry(
        field="process.args", type="match_any", operator="excluded", value=("-x", "-y")
    )
    assert item.entries[4].list == ListRef(id="adm", type="keyword")
    assert item.entries[5].entries == (Entry(field="name", type="match", value="emond"),)


def test_written_files_read_back_the_same(tmp_path: Path) -> None:
    write(tmp_path, "emond.toml", GOOD)
    (lst,) = load_exceptions([tmp_path]).lists
    out = tmp_path / "out"
    write_lists([lst], out / "copy.toml")
    (again,) = load_exceptions([out]).lists
    assert again.items == lst.items
    assert (again.list_id, again.rule_ids, again.description) == (
        lst.list_id, lst.rule_ids, lst.description
    )  # fmt: skip
    assert "[[exceptions.items]]" in render([lst])


def test_bad_items_name_file_item_and_entry_and_the_rest_loads(tmp_path: Path) -> None:
    bad = GOOD.replace('item_id = "echo-ok"', 'item_id = "bad-one"').replace(
        'type = "keyword"}', 'type = "kewyord"}'
    )
    bad = bad.replace(
        "[[exceptions.items]]",
        """[[exceptions.items]]
item_id = "bad-date"
list_id = "emond-maintenance"
name = "bad date"
expire_time = "next tuesday"
entries = [{field = "a", type = "match", operator = "included", value = "b"}]

[[exceptions.items]]
item_id = "fine"
list_id = "emond-maintenance"
name = "fine"
entries = [{field = "a", type = "match", operator = "included", value = "b"}]

[[exceptions.items]]""",
        1,
    )
    path = write(tmp_path, "bad.toml", bad.replace("emond-maintenance", "other"))
    write(tmp_path, "good.toml", GOOD)
    write(tmp_path, "broken.toml", "this is [not toml")
    loaded = load_exceptions([tmp_path])
    messages = [str(e) for e in loaded.errors]
    assert f"{path}: item 'bad-one': entries[4] (user.id): list.type: unknown field type " \
        "'kewyord'" in "\n".join(messages)  # fmt: skip
    assert any(
        m.startswith(f"{path}: item 'bad-date': expire_time: 'next tuesday' is not an ISO 8601")
        for m in messages
    )
    assert any("broken.toml: invalid TOML" in m for m in messages)
    by_id = {lst.list_id: lst for lst in loaded.lists}
    assert [i.item_id for i in by_id["other"].items] == ["fine"]
    assert [i.item_id for i in by_id["emond-maintenance"].items] == ["echo-ok"]


def test_kibana_export_imports_and_reports_bad_lines(tmp_path: Path) -> None:
    container = {
        "list_id": "endpoint_list",
        "type": "endpoint",
        "name": "Endpoint Security Exception List",
        "namespace_type": "agnostic",
        "description": "d",
        "tags": [],
    }
    item = {
        "item_id": "i1", "list_id": "endpoint_list", "type": "simple", "name": "updater",
        "namespace_type": "agnostic", "os_types": ["macos"], "comments": [
            {"comment": "known updater", "created_at": "2024-05-01T00:00:00Z",
             "created_by": "elastic", "id": "c1"}],
        "entries": [{"field": "process.name", "type": "match", "operator": "included",
                     "value": "GoogleUpdater"}],
        "expire_time": "2030-01-01T00:00:00.000Z",
    }  # fmt: skip
    bad_entry = {**item, "item_id": "i2",
                 "entries": [{"field": "x", "type": "regex", "operator": "included"}]}  # fmt: skip
    lines = [json.dumps(container), "{not json", json.dumps(item), json.dumps(bad_entry),
             json.dumps({"exported_exception_list_count": 1,
                         "exported_exception_list_item_count": 2})]  # fmt: skip
    path = write(tmp_path, "export.ndjson", "\n".join(lines) + "\n")
    result = read_export(path)
    messages = [str(e) for e in result.errors]
    assert messages[0].startswith(f"{path}:2: malformed JSON")
    assert messages[1].startswith(f"{path}:4: item 'i2': entries[0] (x): type: unknown entry type")
    (lst,) = result.lists
    assert (lst.list_id, lst.type, lst.namespace_type) == ("endpoint_list", "endpoint", "agnostic")
    (imported,) = lst.items
    assert imported.comments[0].created_by == "elastic"
    assert imported.os_types == ("macos",)
