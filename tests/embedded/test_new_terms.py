"""The three new-terms primitives: term pages, first-seen times, oldest documents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runner.embedded.new_terms import TermsScope, first_seen, oldest_documents, term_page
from runner.embedded.store import Store
from runner.errors import UsageError
from runner.kql import parse_kql
from runner.search import TimeRange
from tests.embedded.conftest import BASE, Loader, at

DOCS = [
    {"n": 1, "@timestamp": at(1), "user": "alice", "host": "h1", "ok": True},
    {"n": 2, "@timestamp": at(2), "user": "bob", "host": ["h1", "h2"], "ok": True},
    {"n": 3, "@timestamp": at(3), "user": "alice", "host": "h2", "ok": True},
    {"n": 4, "@timestamp": at(4), "user": "carol", "ok": True},  # no host: no 2-field term
    {"n": 5, "@timestamp": at(5), "user": "dave", "host": "h1", "ok": False},  # query excludes
    {"n": 6, "@timestamp": at(6), "user": ["bob", "erin"], "host": "h3", "ok": True},
]
ALL = TimeRange(start=BASE, end=BASE + timedelta(seconds=10))


@pytest.fixture(autouse=True)
def docs(load: Loader) -> None:
    load(DOCS)


def scope(*fields: str) -> TermsScope:
    return TermsScope(query=parse_kql("ok:true"), fields=fields)


def test_term_page_single_field_with_arrays(store: Store) -> None:
    page = term_page(store, scope("user"), ALL)
    assert page.terms == (("alice",), ("bob",), ("carol",), ("erin",))
    assert page.after is None


def test_term_page_combinations_and_missing_fields(store: Store) -> None:
    page = term_page(store, scope("user", "host"), ALL)
    assert page.terms == (
        ("alice", "h1"),
        ("alice", "h2"),
        ("bob", "h1"),
        ("bob", "h2"),
        ("bob", "h3"),
        ("erin", "h3"),
    )


def test_term_page_paging(store: Store) -> None:
    first = term_page(store, scope("user", "host"), ALL, size=4)
    assert len(first.terms) == 4 and first.after == ("bob", "h2")
    second = term_page(store, scope("user", "host"), ALL, after=first.after, size=4)
    assert second.terms == (("bob", "h3"), ("erin", "h3"))
    assert second.after is None


def test_term_page_window(store: Store) -> None:
    window = TimeRange(start=BASE + timedelta(seconds=3), end=BASE + timedelta(seconds=4))
    assert term_page(store, scope("user"), window).terms == (("alice",), ("carol",))


def test_first_seen(store: Store) -> None:
    seen = first_seen(store, scope("user"), [("alice",), ("bob",), ("zoe",)], ALL)
    assert seen == {
        ("alice",): BASE + timedelta(seconds=1),
        ("bob",): BASE + timedelta(seconds=2),
    }


def test_oldest_documents(store: Store) -> None:
    found = oldest_documents(store, scope("user", "host"), [("bob", "h3"), ("alice", "h2")], ALL)
    assert {k: v.source["n"] for k, v in found.items()} == {("bob", "h3"): 6, ("alice", "h2"): 3}
    assert found[("bob", "h3")].index == "logs-test"


def test_unknown_field_has_no_terms(store: Store) -> None:
    assert term_page(store, scope("nope"), ALL).terms == ()
    assert first_seen(store, scope("nope"), [("x",)], ALL) == {}


def test_field_count_is_checked() -> None:
    with pytest.raises(UsageError):
        scope("a", "b", "c", "d")
