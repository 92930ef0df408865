"""Sequences and samples: join keys, maxspan, until, runs, missing events, result order."""

from __future__ import annotations

from typing import Any

from runner.search import Hit, MissingEvent
from tests.embedded.conftest import Eql, Loader, at


def ev(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {"n": n, "@timestamp": at(n), "event": {"category": kind}, **fields}


def test_shared_and_per_stage_keys_match_by_position(load: Loader, eql: Eql) -> None:
    load(
        [
            ev(1, "process", pid="A", host="h1"),
            ev(2, "network", ppid="A", host="h1"),  # b's parent is a
            ev(3, "process", pid="B", host="h1"),
            ev(4, "network", ppid="B", host="h2"),  # other host
            ev(5, "network", ppid="Z", host="h1"),
        ]
    )
    query = "sequence by host [process where true] by pid [network where true] by ppid"
    assert eql(query) == [[1, 2]]


def test_null_keys_never_join_unless_optional(load: Loader, eql: Eql) -> None:
    load([ev(1, "a"), ev(2, "b"), ev(3, "a", k="x"), ev(4, "b", k="x")])
    assert eql("sequence by k [a where true] [b where true]") == [[3, 4]]
    assert eql("sequence by ?k [a where true] [b where true]") == [[1, 2], [3, 4]]


def test_one_pending_sequence_per_stage_and_key(load: Loader, eql: Eql) -> None:
    load([ev(1, "a", k=1), ev(2, "a", k=1), ev(3, "b", k=1), ev(4, "b", k=1)])
    # The newer candidate (2) replaces the older (1); 4 finds no pending sequence.
    assert eql("sequence by k [a where true] [b where true]") == [[2, 3]]


def test_maxspan(load: Loader, eql: Eql) -> None:
    load([ev(1, "a"), ev(10, "b"), ev(20, "a"), ev(40, "b")])
    assert eql("sequence with maxspan=10s [a where true] [b where true]") == [[1, 10]]
    assert eql("sequence with maxspan=1m [a where true] [b where true]") == [[1, 10], [20, 40]]


def test_until_drops_pending_sequences_of_its_key(load: Loader, eql: Eql) -> None:
    load(
        [
            ev(1, "a", k=1),
            ev(2, "a", k=2),
            ev(3, "stop", k=1),
            ev(4, "b", k=1),
            ev(5, "b", k=2),
        ]
    )
    query = "sequence by k [a where true] [b where true] until [stop where true]"
    assert eql(query) == [[2, 5]]


def test_runs_repeat_a_stage(load: Loader, eql: Eql) -> None:
    load([ev(1, "a"), ev(2, "a"), ev(3, "a"), ev(4, "b")])
    assert eql("sequence [a where true] with runs=2 [b where true]") == [[2, 3, 4]]


def test_missing_event_stage(load: Loader, eql: Eql) -> None:
    load([ev(1, "a"), ev(2, "x"), ev(3, "b"), ev(10, "a"), ev(12, "b")])
    query = "sequence with maxspan=1m [a where true] ![x where true] [b where true]"
    assert eql(query) == [[10, None, 12]]
    assert eql("sequence with maxspan=1m [a where true] ![x where true]") == [[10, None]]


def test_multi_valued_keys_join_on_each_value(load: Loader, eql: Eql) -> None:
    load([ev(1, "a", tags=["t1", "t2"]), ev(2, "b", tags="t2")])
    assert eql("sequence by tags [a where true] [b where true]") == [[1, 2]]


def test_results_ordered_by_last_event_and_sized(load: Loader, eql: Eql) -> None:
    load([ev(1, "a", k=1), ev(2, "a", k=2), ev(3, "b", k=2), ev(4, "b", k=1)])
    query = "sequence by k [a where true] [b where true]"
    assert eql(query) == [[2, 3], [1, 4]]
    assert eql(query, size=1) == [[1, 4]]  # tail: the most recent
    assert eql(query, size=1, result_position="head") == [[2, 3]]
    assert eql(query + " | head 1") == [[2, 3]]


def test_sequence_results_carry_join_keys_and_hits(load: Loader, eql_result: Any) -> None:
    load([ev(1, "a", k="x"), ev(2, "b", k="x")])
    result = eql_result(
        "sequence by k with maxspan=1h [a where true] ![c where true] [b where true]"
    )
    (match,) = result.sequences
    assert match.join_keys == ("x",)
    first, missing, last = match.events
    assert isinstance(first, Hit) and first.index == "logs-test" and first.source["n"] == 1
    assert isinstance(missing, MissingEvent)
    assert isinstance(last, Hit) and last.source["k"] == "x"


def test_sample_by_key_any_order(load: Loader, eql: Eql) -> None:
    load(
        [
            ev(1, "b", host="h1"),
            ev(2, "a", host="h1"),
            ev(3, "a", host="h2"),
            ev(4, "b", host="h3"),
        ]
    )
    assert eql("sample by host [a where true] [b where true]") == [[2, 1]]
