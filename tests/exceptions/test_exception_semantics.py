"""Every entry type and operator, nesting, os_types, expiry and value lists, on both backends:
the same exception items leave the same alerts (Kibana's build_exception_filter semantics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.exceptions import ExceptionCatalog, ExceptionList
from runner.exceptions.parse import ItemReader
from runner.execution.executor import Executor
from runner.lists.model import ValueListInfo
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.rules.select import resolve_rule
from tests.both import Both
from tests.conftest import SEED_RULES
from tests.contract.events import process

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EMOND_ID = "3e3d15c6-1509-479a-b125-21718372157e"
NEW_TERMS_ID = "7d1c0c55-5c4e-4a49-9a59-000000000002"
MIN = timedelta(minutes=1)

QUERY_RULE = """
[metadata]
creation_date = "2024/05/01"
[rule]
rule_id = "7d1c0c55-5c4e-4a49-9a59-000000000001"
name = "Emond children (query)"
description = "test"
type = "query"
language = "kuery"
query = "process.parent.name:emond"
index = ["logs-endpoint.events.process*"]
risk_score = 21
severity = "low"
from = "now-9m"
interval = "5m"
"""


def event(event_id: str, name: str, **extra: Any) -> dict[str, Any]:
    os_type = extra.pop("os_type", "macos")
    hit = process(
        event_id,
        NOW - 2 * MIN,
        name=name,
        os_type=os_type,
        executable=extra.pop("executable", None),
        user=extra.pop("user", "root"),
    )
    source = hit["_source"]
    for dotted, value in extra.items():
        node = source
        *path, leaf = dotted.split("__")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return hit


EVENTS = [
    event(
        "bash",
        "bash",
        executable="/bin/bash",
        process__command_line="bash -c id",
        source__ip="10.1.2.3",
    ),
    event(
        "curl",
        "curl",
        user="admin",
        source__ip="192.168.7.9",
        process__args=["curl", "-s", "http://203.0.113.9/x"],
    ),
    event("sh", "sh", executable="/bin/sh", source__ip="172.16.0.5"),
    event(
        "python", "python3", executable="/usr/local/bin/python3", process__command_line="python3 x"
    ),
    event("linux-bash", "bash", os_type="linux", executable="/bin/bash"),
]


@pytest.fixture
def query_rule(tmp_path: Path) -> Rule:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "q.toml").write_text(QUERY_RULE)
    (rule,) = load_rules([tmp_path / "rules"]).rules
    return rule


@pytest.fixture
def emond() -> Rule:
    return resolve_rule(load_rules([SEED_RULES]).rules, "emond")


def items_list(*items: dict[str, Any]) -> ExceptionList:
    reader = ItemReader("test.toml")
    parsed = [
        reader.item(
            {"item_id": f"i{n}", "name": f"item {n}", **raw},
            where=f"items[{n}]",
            list_id="test-list",
        )
        for n, raw in enumerate(items)
    ]
    assert not reader.errors, reader.errors
    # Attached through its metadata, by rule name (the query rule) and rule_id (the others).
    return ExceptionList(
        list_id="test-list",
        name="test",
        items=tuple(p for p in parsed if p),
        rule_names=("Emond children (query)",),
        rule_ids=(EMOND_ID, NEW_TERMS_ID),
    )


def alerted(both: Both, rule: Rule, lists: list[ExceptionList]) -> set[str]:
    both.load(EVENTS)
    executor = Executor(
        backend=both.backend,
        exceptions=ExceptionCatalog(lists=tuple(lists)),
        value_lists=both.backend,
    )
    records = executor.run(rule, NOW)
    if both.kind == "elasticsearch" and _has_nested(lists):
        # Elasticsearch refuses a nested query on a field not mapped `nested` (the public
        # rules' event mappings have none there); the embedded store, without mappings, reads
        # the entries over the flattened objects (README, Tuning rules).
        assert records[-1].status == "failed"
        assert "failed to find nested object under path [process]" in records[-1].message
        return NOT_MAPPED
    assert records[-1].status == "succeeded", records[-1].message
    return {
        a["kibana.alert.ancestors"][0]["id"]
        for a in both.backend.list_alerts(rule_ids=[rule.rule_id])
    }


NOT_MAPPED = {"<nested not mapped>"}


def _has_nested(lists: list[ExceptionList]) -> bool:
    return any(e.type == "nested" for lst in lists for item in lst.items for e in item.entries)


def match(field: str, value: str, operator: str = "included") -> dict[str, Any]:
    return {"field": field, "type": "match", "operator": operator, "value": value}


ALL = {"bash", "curl", "sh", "python", "linux-bash"}
CASES: list[tuple[str, list[dict[str, Any]], set[str]]] = [
    ("no items", [], ALL),
    (
        "match is exact",
        [{"entries": [match("process.name", "bash")]}],
        ALL - {"bash", "linux-bash"},
    ),
    ("match is case-sensitive", [{"entries": [match("process.name", "BASH")]}], ALL),
    (
        "match_any",
        [
            {
                "entries": [
                    {
                        "field": "process.name",
                        "type": "match_any",
                        "operator": "included",
                        "value": ["curl", "sh"],
                    }
                ]
            }
        ],
        ALL - {"curl", "sh"},
    ),
    (
        "wildcard (matches)",
        [
            {
                "entries": [
                    {
                        "field": "process.executable",
                        "type": "wildcard",
                        "operator": "included",
                        "value": "/bin/*",
                    }
                ]
            }
        ],
        {"curl", "python"},
    ),
    (
        "wildcard is case-sensitive",
        [
            {
                "entries": [
                    {
                        "field": "process.executable",
                        "type": "wildcard",
                        "operator": "included",
                        "value": "/BIN/*",
                    }
                ]
            }
        ],
        ALL,
    ),
    (
        "exists",
        [
            {
                "entries": [
                    {"field": "process.command_line", "type": "exists", "operator": "included"}
                ]
            }
        ],
        ALL - {"bash", "python"},
    ),
    (
        "exists excluded",
        [
            {
                "entries": [
                    {"field": "process.command_line", "type": "exists", "operator": "excluded"}
                ]
            }
        ],
        {"bash", "python"},
    ),
    (
        "entries are ANDed",
        [{"entries": [match("user.name", "root"), match("process.name", "bash", "excluded")]}],
        {"bash", "curl", "linux-bash"},
    ),
    (
        "items are ORed",
        [{"entries": [match("process.name", "curl")]}, {"entries": [match("process.name", "sh")]}],
        ALL - {"curl", "sh"},
    ),
    ("array field: any value", [{"entries": [match("process.args", "-s")]}], ALL - {"curl"}),
    (
        "nested",
        [
            {
                "entries": [
                    {
                        "field": "process",
                        "type": "nested",
                        "entries": [
                            match("name", "python3"),
                            match("executable", "/usr/local/bin/python3"),
                        ],
                    }
                ]
            }
        ],
        ALL - {"python"},
    ),
    (
        "os_types",
        [{"os_types": ["linux"], "entries": [match("process.name", "bash")]}],
        ALL - {"linux-bash"},
    ),
    (
        "expired item",
        [{"expire_time": "2024-05-01T11:59:00Z", "entries": [match("process.name", "curl")]}],
        ALL,
    ),
    (
        "expiry at execution time",
        [{"expire_time": "2024-05-01T12:00:00.000Z", "entries": [match("process.name", "curl")]}],
        ALL,
    ),
    (
        "not yet expired",
        [{"expire_time": "2024-05-01T12:00:01Z", "entries": [match("process.name", "curl")]}],
        ALL - {"curl"},
    ),
]


@pytest.mark.parametrize(("items", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_query_rule_items(
    both: Both, query_rule: Rule, items: list[dict[str, Any]], expected: set[str]
) -> None:
    lists = [items_list(*items)] if items else []
    nested_on_es = both.kind == "elasticsearch" and _has_nested(lists)
    assert alerted(both, query_rule, lists) == (NOT_MAPPED if nested_on_es else expected)


EQL_CASES = [
    c
    for c in CASES
    if c[0]
    in (
        "match is exact",
        "wildcard (matches)",
        "nested",
        "exists",
        "entries are ANDed",
        "not yet expired",
    )
]


@pytest.mark.parametrize(
    ("items", "expected"), [c[1:] for c in EQL_CASES], ids=[c[0] for c in EQL_CASES]
)
def test_eql_rule_items(
    both: Both, emond: Rule, items: list[dict[str, Any]], expected: set[str]
) -> None:
    # The seed EQL rule sees macOS children of emond with listed names ("python3" is
    # Python*): the exception filter goes into the _eql/search filter.
    eql_all = {"bash", "curl", "sh", "python"}
    lists = [items_list(*items)]
    nested_on_es = both.kind == "elasticsearch" and _has_nested(lists)
    assert alerted(both, emond, lists) == (NOT_MAPPED if nested_on_es else expected & eql_all)


def value_list_item(
    list_id: str, list_type: str, field: str, operator: str = "included"
) -> dict[str, Any]:
    return {
        "entries": [
            {
                "field": field,
                "type": "list",
                "operator": operator,
                "list": {"id": list_id, "type": list_type},
            }
        ]
    }


LIST_CASES = [
    (
        "keyword list",
        "names",
        "keyword",
        ["curl", "sh"],
        "process.name",
        "included",
        ALL - {"curl", "sh"},
    ),
    ("keyword list excluded", "names", "keyword", ["curl"], "process.name", "excluded", {"curl"}),
    ("ip list", "ips", "ip", ["10.1.2.3"], "source.ip", "included", ALL - {"bash"}),
    (
        "ip_range CIDR and a-b",
        "nets",
        "ip_range",
        ["10.0.0.0/8", "172.16.0.1-172.16.0.9"],
        "source.ip",
        "included",
        ALL - {"bash", "sh"},
    ),
    (
        "text list (applied after the search)",
        "words",
        "text",
        ["python3 x y"],
        "process.command_line",
        "included",
        ALL - {"python"},
    ),
]


@pytest.mark.parametrize(
    ("list_id", "list_type", "values", "field", "operator", "expected"),
    [c[1:] for c in LIST_CASES],
    ids=[c[0] for c in LIST_CASES],
)
def test_value_list_entries(
    both: Both,
    query_rule: Rule,
    list_id: str,
    list_type: str,
    values: list[str],
    field: str,
    operator: str,
    expected: set[str],
) -> None:
    both.backend.put_list(ValueListInfo(id=list_id, type=list_type, name=list_id), values)
    lists = [items_list(value_list_item(list_id, list_type, field, operator))]
    assert alerted(both, query_rule, lists) == expected


def test_large_list_is_applied_after_the_search(
    both: Both, query_rule: Rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.exceptions import dsl

    monkeypatch.setattr(dsl, "MAXIMUM_SMALL_VALUE_LIST_SIZE", 1)
    both.backend.put_list(ValueListInfo(id="big", type="keyword", name="big"), ["curl", "sh"])
    item = value_list_item("big", "keyword", "process.name")
    item["entries"].append(match("user.name", "root"))  # scalar entries are checked too
    assert alerted(both, query_rule, [items_list(item)]) == ALL - {"sh"}
    if both.cluster is not None:
        (search,) = [
            c
            for c in both.cluster.calls("POST")
            if c.path.endswith("/_search") and not c.path.startswith("/runner-")
        ][:1]
        assert '"terms"' not in str(search.body).replace("'", '"')


def test_missing_value_list_reports_file_item_and_entry(both: Both, query_rule: Rule) -> None:
    lists = [
        items_list(
            value_list_item("nope", "keyword", "process.name"),
            {"entries": [match("process.name", "curl")]},
        )
    ]
    both.load(EVENTS)
    executor = Executor(
        backend=both.backend,
        exceptions=ExceptionCatalog(lists=tuple(lists)),
        value_lists=both.backend,
    )
    (record,) = executor.run(query_rule, NOW)
    assert record.status == "partial failure"
    assert "item 'i0'" in record.message and "entries[0] (process.name)" in record.message
    assert "value list 'nope' does not exist" in record.message
    alerts = both.backend.list_alerts(rule_ids=[query_rule.rule_id])
    # The other item still applies.
    assert {a["kibana.alert.ancestors"][0]["id"] for a in alerts} == ALL - {"curl"}


NEW_TERMS_RULE = (
    QUERY_RULE.replace('type = "query"', 'type = "new_terms"').replace(
        "7d1c0c55-5c4e-4a49-9a59-000000000001", "7d1c0c55-5c4e-4a49-9a59-000000000002"
    )
    + """
[rule.new_terms]
field = "new_terms_fields"
value = ["process.name"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-14d"
"""
)


def test_new_terms_rule_items(both: Both, tmp_path: Path) -> None:
    (tmp_path / "nt").mkdir()
    (tmp_path / "nt" / "nt.toml").write_text(NEW_TERMS_RULE)
    (rule,) = load_rules([tmp_path / "nt"]).rules
    item = {"entries": [match("process.name", "curl")]}
    # One alert per new term (bash twice is one term); the exception filter reaches all three
    # phases, so curl is never a term.
    terms_left = {a["kibana.alert.new_terms"][0] for a in _alerts(both, rule, [items_list(item)])}
    assert terms_left == {"bash", "sh", "python3"}


def _alerts(both: Both, rule: Rule, lists: list[ExceptionList]) -> list[dict[str, Any]]:
    both.load(EVENTS)
    executor = Executor(
        backend=both.backend,
        exceptions=ExceptionCatalog(lists=tuple(lists)),
        value_lists=both.backend,
    )
    (record,) = executor.run(rule, NOW)
    assert record.status == "succeeded", record.message
    return both.backend.list_alerts(rule_ids=[rule.rule_id])
