"""Rule filters are migrated as Kibana's migrateFilter does before they are applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.execution.rule_requests import rule_filters
from runner.rules.filters import filter_query
from runner.rules.loader import load_rule_file
from runner.rules.model import Rule
from tests.helpers import write_rule

PHRASE = {"user.name": {"query": "root", "type": "phrase"}}
MIGRATED = {"match_phrase": {"user.name": {"query": "root"}}}


@pytest.mark.parametrize(
    ("stored", "applied"),
    [
        ({"meta": {}, "query": {"match": PHRASE}}, MIGRATED),
        ({"meta": {}, "match": PHRASE}, MIGRATED),  # the older top-level form
        # Only a phrase-typed match is migrated; other params stay, ``type`` goes.
        (
            {"query": {"match": {"f": {"query": "a b", "type": "phrase", "slop": 1}}}},
            {"match_phrase": {"f": {"query": "a b", "slop": 1}}},
        ),
        ({"query": {"match": {"f": {"query": "a"}}}}, {"match": {"f": {"query": "a"}}}),
        ({"query": {"match": {"f": "a"}}}, {"match": {"f": "a"}}),
        # No ``query``: the clause beside meta is the query.
        ({"meta": {}, "$state": {}, "exists": {"field": "f"}}, {"exists": {"field": "f"}}),
        # With ``query``, keys beside it are ignored.
        ({"query": {"term": {"f": 1}}, "range": {"g": {"gte": 1}}}, {"term": {"f": 1}}),
        ({"meta": {}}, {}),
    ],
)
def test_filter_query(stored: dict[str, Any], applied: dict[str, Any]) -> None:
    assert filter_query(stored) == applied


def test_a_legacy_phrase_filter_is_sent_as_match_phrase(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "legacy")
    path.write_text(
        path.read_text()
        + """
[[rule.filters]]
[rule.filters.meta]
negate = true
[rule.filters.query.match."user.name"]
query = "root"
type = "phrase"
"""
    )
    rule, errors = load_rule_file(path)
    assert errors == [] and isinstance(rule, Rule)
    assert rule_filters(rule) == ({"bool": {"must_not": [MIGRATED]}},)
