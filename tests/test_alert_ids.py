"""Deterministic alert ids: the documented formula, pinned."""

from __future__ import annotations

import hashlib

import pytest

from runner.alerts.ids import (
    alert_id_for_building_block,
    alert_id_for_event,
    alert_id_for_new_terms,
    alert_id_for_sequence,
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- pinned values: these must never change (ids already written would stop deduplicating) --


def test_event_id_is_pinned() -> None:
    expected = "7f8e784c878e91c1be5a81c184878fe7c94555f21b5a5f96a5eefb63af5ec0f1"
    assert sha256('["event","r1","logs","abc"]') == expected
    assert alert_id_for_event("r1", "logs", "abc") == expected


def test_new_terms_id_is_pinned() -> None:
    expected = "b0a637d98efce1b1b84000fe90b12e200470106f4bff529ba9991f73d54d7cd3"
    assert sha256('["new_terms","r1","logs","abc",["bash",443,null]]') == expected
    assert alert_id_for_new_terms("r1", "logs", "abc", ("bash", 443, None)) == expected


def test_sequence_id_is_pinned_with_missing_stage_as_null() -> None:
    expected = "9bd1ca5f0fdaf95f32d302f86bb3c229db28f2b233a6b8113e907f0b54a4ee85"
    assert sha256('["sequence","r1",[["logs","1"],null,["logs","2"]]]') == expected
    assert alert_id_for_sequence("r1", [("logs", "1"), None, ("logs", "2")]) == expected


def test_building_block_id_follows_the_formula() -> None:
    shell = alert_id_for_sequence("r1", [("logs", "1"), ("logs", "2")])
    text = f'["building_block","r1","{shell}",1,"logs","2"]'
    assert alert_id_for_building_block("r1", "logs", "2", shell, 1) == sha256(text)


def test_non_ascii_is_encoded_as_utf8_not_escaped() -> None:
    assert alert_id_for_event("r1", "journaux-été", "ü") == sha256(
        '["event","r1","journaux-été","ü"]'
    )


# -- properties -----------------------------------------------------------------------------


def test_ids_are_sha256_hex_and_stable() -> None:
    first = alert_id_for_event("rule", "index", "doc")
    assert first == alert_id_for_event("rule", "index", "doc")
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    "other",
    [("rule2", "index", "doc"), ("rule", "index2", "doc"), ("rule", "index", "doc2")],
)
def test_event_id_changes_with_every_input(other: tuple[str, str, str]) -> None:
    assert alert_id_for_event("rule", "index", "doc") != alert_id_for_event(*other)


def test_field_boundaries_are_unambiguous() -> None:
    assert alert_id_for_event("r", "a", "bc") != alert_id_for_event("r", "ab", "c")
    assert alert_id_for_event("ra", "b", "c") != alert_id_for_event("r", "ab", "c")
    assert alert_id_for_new_terms("r", "i", "d", ("a,b",)) != alert_id_for_new_terms(
        "r", "i", "d", ("a", "b")
    )


def test_new_terms_id_depends_on_values_order_and_type() -> None:
    base = alert_id_for_new_terms("r", "i", "d", ("a", "b"))
    assert base != alert_id_for_new_terms("r", "i", "d", ("b", "a"))
    assert base != alert_id_for_new_terms("r", "i", "d", ("a", "c"))
    assert base != alert_id_for_new_terms("r2", "i", "d", ("a", "b"))
    assert alert_id_for_new_terms("r", "i", "d", ("1",)) != alert_id_for_new_terms(
        "r", "i", "d", (1,)
    )
    # the same event without terms is a different kind of alert
    assert alert_id_for_new_terms("r", "i", "d", ()) != alert_id_for_event("r", "i", "d")


def test_sequence_id_depends_on_order_and_missing_positions() -> None:
    base = alert_id_for_sequence("r", [("i", "1"), ("i", "2")])
    assert base != alert_id_for_sequence("r", [("i", "2"), ("i", "1")])
    assert base != alert_id_for_sequence("r", [("i", "1"), None, ("i", "2")])
    assert base != alert_id_for_sequence("r", [("i", "1"), ("i", "2"), None])
    assert base != alert_id_for_sequence("r", [("j", "1"), ("i", "2")])
    assert base != alert_id_for_sequence("r2", [("i", "1"), ("i", "2")])
    # a one-event sequence is not the event alert for that event
    assert alert_id_for_sequence("r", [("i", "1")]) != alert_id_for_event("r", "i", "1")


def test_building_block_id_depends_on_shell_and_position() -> None:
    base = alert_id_for_building_block("r", "i", "1", "shell-a", 0)
    assert base != alert_id_for_building_block("r", "i", "1", "shell-b", 0)
    assert base != alert_id_for_building_block("r", "i", "1", "shell-a", 1)
    assert base != alert_id_for_building_block("r2", "i", "1", "shell-a", 0)
    assert base != alert_id_for_building_block("r", "j", "1", "shell-a", 0)
    assert base != alert_id_for_building_block("r", "i", "2", "shell-a", 0)
