"""ES|QL rules and large value lists, on both backends, as Kibana's ``esqlExecutor``: the
small-list items go into the request's filter, the large-list items are not applied after the
search but named in a warning ("partial failure"), pushed once per ``_query`` request."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.exceptions import ExceptionCatalog, ExceptionList
from runner.exceptions.stage import prepare
from runner.execution.executor import Executor
from runner.execution.model import ExecutionRecord
from runner.lists.model import ValueListInfo
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.both import Both
from tests.exceptions.test_exception_semantics import (
    ALL,
    EVENTS,
    NOW,
    items_list,
    match,
    value_list_item,
)

ESQL_RULE = """
[metadata]
creation_date = "2024/05/01"
[rule]
rule_id = "7d1c0c55-5c4e-4a49-9a59-000000000001"
name = "Emond children (query)"
description = "test"
type = "esql"
language = "esql"
query = '''FROM logs-endpoint.events.process* METADATA _id
| WHERE process.parent.name == "emond"'''
risk_score = 21
severity = "low"
from = "now-9m"
interval = "5m"
max_signals = {max_signals}
"""
WARNING = "The following exceptions won't be applied to rule execution: "


def esql_rule(tmp_path: Path, max_signals: int = 100) -> Rule:
    (tmp_path / "esql").mkdir(exist_ok=True)
    path = tmp_path / "esql" / f"r{max_signals}.toml"
    path.write_text(ESQL_RULE.format(max_signals=max_signals))
    (rule,) = load_rules([path]).rules
    return rule


def execute(both: Both, rule: Rule, lists: list[ExceptionList]) -> tuple[ExecutionRecord, set[str]]:
    both.load(EVENTS)
    executor = Executor(
        backend=both.backend,
        exceptions=ExceptionCatalog(lists=tuple(lists)),
        value_lists=both.backend,
    )
    records = executor.run(rule, NOW)
    alerts = both.backend.list_alerts(rule_ids=[rule.rule_id])
    return records[-1], {a["kibana.alert.ancestors"][0]["id"] for a in alerts}


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.exceptions import dsl

    monkeypatch.setattr(dsl, "MAXIMUM_SMALL_VALUE_LIST_SIZE", 1)


def test_large_list_items_are_not_applied_and_named_in_a_warning(
    both: Both, tmp_path: Path, large: None
) -> None:
    both.backend.put_list(ValueListInfo(id="big", type="keyword", name="big"), ["curl", "sh"])
    lists = [items_list(value_list_item("big", "keyword", "process.name"))]
    record, alerted = execute(both, esql_rule(tmp_path), lists)
    assert alerted == ALL  # a query rule would leave out curl and sh
    assert record.status == "partial failure"
    assert record.message == WARNING + "item 0"


def test_small_list_items_still_filter_and_only_large_ones_are_named(
    both: Both, tmp_path: Path, large: None
) -> None:
    both.backend.put_list(ValueListInfo(id="one", type="keyword", name="one"), ["curl"])
    both.backend.put_list(ValueListInfo(id="big", type="keyword", name="big"), ["sh", "bash"])
    lists = [
        items_list(
            value_list_item("one", "keyword", "process.name"),
            value_list_item("big", "keyword", "process.name"),
            {"entries": [match("process.name", "python3")]},
            value_list_item("big", "keyword", "process.name", "excluded"),
        )
    ]
    record, alerted = execute(both, esql_rule(tmp_path), lists)
    assert alerted == ALL - {"curl", "python"}
    assert record.message == WARNING + "item 1, item 3"


def test_the_warning_is_pushed_before_each_request(both: Both, tmp_path: Path, large: None) -> None:
    both.backend.put_list(ValueListInfo(id="big", type="keyword", name="big"), ["a", "b"])
    lists = [items_list(value_list_item("big", "keyword", "process.name"))]
    # max_signals 2 over 5 events: a full answer of 2 asks again for 4, whose 2 new rows pass
    # the cap (2 requests; Kibana's max-signals warning follows).
    record, alerted = execute(both, esql_rule(tmp_path, max_signals=2), lists)
    warning = WARNING + "item 0"
    assert record.message.split(" This rule")[0] == " ".join([warning] * 2)
    assert "maximum alert limit" in record.message
    assert len(alerted) == 2


def test_without_large_lists_there_is_no_warning(both: Both, tmp_path: Path) -> None:
    both.backend.put_list(ValueListInfo(id="big", type="keyword", name="big"), ["curl", "sh"])
    lists = [items_list(value_list_item("big", "keyword", "process.name"))]
    record, alerted = execute(both, esql_rule(tmp_path), lists)
    assert (record.status, record.message) == ("succeeded", "")
    assert alerted == ALL - {"curl", "sh"}


def test_post_filter_is_moved_to_unprocessed(large: None) -> None:
    from runner.lists.model import ValueList

    class Lists:
        def get_list(self, list_id: str) -> ValueList | None:
            info = ValueListInfo(id=list_id, type="keyword", name=list_id)
            return ValueList(info=info, values=("a", "b"))

    applied = prepare([items_list(value_list_item("big", "keyword", "x"))], NOW, Lists())
    assert applied.post_items and applied.unprocessed_warning() is None
    esql = applied.without_post_filter()
    assert (esql.post_items, esql.unprocessed) == ((), applied.post_items)
    assert esql.unprocessed_warning() == WARNING + "item 0"
