"""The query DSL of exception items, clause for clause as Kibana's buildExceptionFilter writes
it (lists plugin, build_exception_filter.ts), and the negated filter every request carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from runner.elastic.requests import eql_search, query_search
from runner.exceptions.dsl import entry_clause, exception_query, inline_list, item_clauses
from runner.exceptions.model import Entry, ExceptionItem, ExceptionList, ListRef
from runner.exceptions.stage import ExceptionCatalog, prepare
from runner.lists.model import MemoryLists, ValueList, ValueListInfo
from runner.rules.loader import load_rules
from runner.rules.select import resolve_rule
from tests.conftest import SEED_RULES

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def value_list(list_id: str, kind: str, values: list[str]) -> ValueList:
    info = ValueListInfo(id=list_id, type=kind, name=list_id, size=len(values))
    return ValueList(info=info, values=tuple(values))


def test_match_and_match_any() -> None:
    assert entry_clause(Entry(field="a", type="match", value="x"), {}) == {
        "bool": {"minimum_should_match": 1, "should": [{"match_phrase": {"a": "x"}}]}
    }
    single = Entry(field="a", type="match_any", value=("x",))
    assert entry_clause(single, {}) == {
        "bool": {"minimum_should_match": 1, "should": [{"match_phrase": {"a": "x"}}]}
    }
    several = Entry(field="a", type="match_any", value=("x", "y"), operator="excluded")
    one = {"bool": {"minimum_should_match": 1, "should": [{"match_phrase": {"a": "x"}}]}}
    two = {"bool": {"minimum_should_match": 1, "should": [{"match_phrase": {"a": "y"}}]}}
    assert entry_clause(several, {}) == {
        "bool": {"must_not": {"bool": {"minimum_should_match": 1, "should": [one, two]}}}
    }


def test_wildcard_exists_nested() -> None:
    assert entry_clause(Entry(field="p", type="wildcard", value="/bin/*"), {}) == {
        "bool": {"filter": {"wildcard": {"p": "/bin/*"}}}
    }
    assert entry_clause(Entry(field="p", type="exists", operator="excluded"), {}) == {
        "bool": {"must_not": {"bool": {"minimum_should_match": 1,
                                       "should": [{"exists": {"field": "p"}}]}}}
    }  # fmt: skip
    nested = Entry(
        field="parent",
        type="nested",
        entries=(Entry(field="a", type="match", value="1"), Entry(field="b", type="exists")),
    )
    assert entry_clause(nested, {}) == {
        "nested": {
            "path": "parent",
            "query": {"bool": {"filter": [
                {"bool": {"minimum_should_match": 1,
                          "should": [{"match_phrase": {"parent.a": "1"}}]}},
                {"bool": {"minimum_should_match": 1,
                          "should": [{"exists": {"field": "parent.b"}}]}},
            ]}},
            "score_mode": "none",
        }
    }  # fmt: skip


def test_list_clauses() -> None:
    lists = {
        "k": value_list("k", "keyword", ["a", "b"]),
        "r": value_list("r", "ip_range", ["10.0.0.0/8", "1.1.1.1-1.1.1.9"]),
    }
    keyword = Entry(field="f", type="list", list=ListRef(id="k", type="keyword"))
    assert entry_clause(keyword, lists) == {"bool": {"filter": {"terms": {"f": ["a", "b"]}}}}
    ranges = Entry(
        field="ip", type="list", operator="excluded", list=ListRef(id="r", type="ip_range")
    )
    assert entry_clause(ranges, lists) == {
        "bool": {
            "must_not": [
                {"range": {"ip": {"gte": "1.1.1.1", "lte": "1.1.1.9"}}},
                {"terms": {"ip": ["10.0.0.0/8"]}},
            ],
            "minimum_should_match": 1,
        }
    }


def test_inline_list_limits() -> None:
    assert inline_list(value_list("k", "keyword", ["a"]))
    assert not inline_list(value_list("t", "text", ["a"]))  # only keyword, ip, ip_range
    dashes = [f"10.0.0.{i}-10.0.0.{i}" for i in range(201)]
    assert not inline_list(value_list("r", "ip_range", dashes))  # over 200 a-b ranges
    assert inline_list(value_list("r", "ip_range", dashes[:200]))


def test_os_types_and_items_are_ored() -> None:
    item = ExceptionItem(
        item_id="1", list_id="l", name="n", os_types=("linux", "macos"),
        entries=(Entry(field="a", type="match", value="x"),),
    )  # fmt: skip
    clauses = item_clauses(item, {})
    phrases = [c["bool"]["filter"][0]["bool"]["should"][0]["match_phrase"] for c in clauses]
    assert phrases == [
        {"host.os.type": "linux"},
        {"host.os.type": "macos"},
        {"host.os.name.caseless": "linux"},
        {"host.os.name.caseless": "macos"},
    ]
    two = ExceptionItem(
        item_id="2", list_id="l", name="m",
        entries=(Entry(field="a", type="match", value="x"), Entry(field="b", type="exists")),
    )  # fmt: skip
    query = exception_query([item, two], {})
    assert query is not None
    assert len(query["bool"]["should"]) == 5
    assert query["bool"]["should"][4]["bool"]["filter"][1] == {
        "bool": {"minimum_should_match": 1, "should": [{"exists": {"field": "b"}}]}
    }


def test_every_request_carries_the_negated_filter() -> None:
    rules = load_rules([SEED_RULES]).rules
    emond = resolve_rule(rules, "emond")
    echo = (Entry(field="process.name", type="match", value="echo"),)
    item = ExceptionItem(item_id="1", list_id="l", name="n", entries=echo)
    expired = ExceptionItem(item_id="2", list_id="l", name="old", expire_time=NOW, entries=echo)
    applied = prepare([ExceptionList(list_id="l", name="l", items=(item, expired))], NOW, None)
    assert applied.active == 1
    negated = {"bool": {"must_not": [exception_query([item], {})]}}
    body = eql_search(applied.apply(emond), NOW, NOW).body
    assert negated in body["filter"]["bool"]["filter"]
    assert body["query"] == emond.query  # the rule's query is sent unchanged
    exim = resolve_rule(rules, "exim4")
    search = query_search(applied.apply(exim), NOW, NOW)[-1].body
    assert negated in search["query"]["bool"]["filter"]


def test_prepare_reads_value_lists_once_per_list() -> None:
    lists = MemoryLists(lists={"k": value_list("k", "keyword", ["a"])})
    entry = Entry(field="f", type="list", list=ListRef(id="k", type="keyword"))
    item = ExceptionItem(item_id="1", list_id="l", name="n", entries=(entry, entry))
    applied = prepare([ExceptionList(list_id="l", name="l", items=(item,))], NOW, lists)
    assert applied.query is not None and not applied.post_items and not applied.problems


def test_attachment_by_exceptions_list_and_metadata(tmp_path: Path) -> None:
    rule_text = (SEED_RULES / "emond_child_process.toml").read_text()
    rule_text += (
        '\n[[rule.exceptions_list]]\nid = "endpoint_list"\nlist_id = "endpoint_list"\n'
        'namespace_type = "agnostic"\ntype = "endpoint"\n'
    )
    (tmp_path / "emond.toml").write_text(rule_text)
    (emond,) = load_rules([tmp_path / "emond.toml"]).rules
    exim = resolve_rule(load_rules([SEED_RULES]).rules, "exim4")
    endpoint = ExceptionList(list_id="endpoint_list", name="Endpoint", type="endpoint")
    by_name = ExceptionList(list_id="b", name="b", rule_names=(exim.name,))
    by_id = ExceptionList(list_id="c", name="c", rule_ids=(emond.rule_id,))
    other = ExceptionList(list_id="d", name="d")
    catalog = ExceptionCatalog(lists=(endpoint, by_name, by_id, other))
    assert [lst.list_id for lst in catalog.lists_for(emond)] == ["endpoint_list", "c"]
    assert [lst.list_id for lst in catalog.lists_for(exim)] == ["b"]
