"""KQL on the store: the results its compiled DSL gives on keyword fields."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runner.search import TimeRange
from tests.embedded.conftest import BASE, Eql, Loader, at

DOCS = [
    {"n": 1, "process": {"name": "bash", "args": ["-c", "curl x"]}, "user": {"id": 0}},
    {"n": 2, "process": {"name": "Bash"}, "user": {"id": 1000}, "tags": ["a b", "c"]},
    {"n": 3, "process": {"name": "sh"}, "user": {"name": "root"}, "ok": True},
    {"n": 4, "file": {"path": "/tmp/x y.sh"}},
]


@pytest.fixture(autouse=True)
def docs(load: Loader) -> None:
    load(DOCS)


def test_match_is_exact_and_case_sensitive(kql: Eql) -> None:
    assert kql("process.name:bash") == [1]
    assert kql('process.name:"Bash"') == [2]
    assert kql("process.name:(bash or sh)") == [1, 3]


def test_wildcards_are_case_sensitive_over_the_whole_value(kql: Eql) -> None:
    assert kql("process.name:*ash") == [1, 2]
    assert kql("process.name:B*") == [2]
    assert kql("process.name:b*") == [1]
    assert kql("file.path:/tmp/*") == [4]


def test_arrays_match_any_value(kql: Eql) -> None:
    assert kql("process.args:-c") == [1]
    assert kql('tags:"a b"') == [2]


def test_not_matches_documents_without_the_field(kql: Eql) -> None:
    assert kql("not process.name:bash") == [2, 3, 4]


def test_exists(kql: Eql) -> None:
    assert kql("user.name:*") == [3]
    assert kql("process.*:*") == [1, 2, 3]


def test_numbers_booleans_and_ranges(kql: Eql) -> None:
    assert kql("user.id:0") == [1]
    assert kql("user.id >= 1") == [2]
    assert kql("ok:true") == [3]
    assert kql("process.name > b") == [1, 3]  # keyword range: string order ("Bash" < "b")


def test_value_without_field_searches_every_field(kql: Eql) -> None:
    assert kql("root") == [3]
    assert kql("Bash") == [2]


def test_range_on_timestamp_understands_dates(kql: Eql) -> None:
    assert kql(f'@timestamp >= "{at(3)}"') == [3, 4]


def test_time_range_indices_and_size(kql: Eql, load: Loader) -> None:
    load([{"n": 9, "process": {"name": "bash"}}], index="other")
    window = TimeRange(start=BASE, end=BASE + timedelta(seconds=5))
    assert kql("process.name:bash", indices=("logs-*",)) == [1]
    assert kql("process.name:bash") == [1, 9]
    assert kql("process.name:bash", time_range=window) == [1]
    assert kql("", size=2) == [1, 2]  # empty query matches all, oldest first


def test_values_on_ip_fields_are_addresses_and_cidr_blocks(kql: Eql, load: Loader) -> None:
    # ECS maps *.ip as `ip`: a term is an address or a CIDR block, compared as addresses
    # (found by the cross-backend agreement check: the stand-in maps source.ip as ip).
    load([{"n": 5, "source": {"ip": "10.1.2.3"}}, {"n": 6, "source": {"ip": "fe80::1"}},
          {"n": 7, "source": {"ip": "2001:db8::7"}},
          {"n": 8, "source": {"ip": "0:0:0:0:0:0:0:1"}}])  # fmt: skip
    assert kql("source.ip:10.0.0.0/8") == [5]
    assert kql('source.ip:"FE80::/10"') == [6]
    assert kql('source.ip:"::1"') == [8]
    assert kql('not source.ip:(10.0.0.0/8 or "FE80::/10" or "::1")') == [1, 2, 3, 4, 7]
