"""The agreement check's event generator (tests/agreement): matches pass every committed
test, near misses fail exactly one, from EQL, KQL and ES|QL trees alike."""

from __future__ import annotations

import re

import pytest

from runner.eql import parse_eql
from runner.esql import parse_esql
from runner.kql import parse_kql
from tests.agreement import from_eql, from_esql, from_kql
from tests.agreement.formula import Formula, Leaf, NotGenerated, Pattern, all_of
from tests.agreement.solver import first, near_misses
from tests.agreement.values import MISSING, passes, regex_strings, solve


def _eql(text: str) -> Formula:
    body = parse_eql(text).body
    assert not hasattr(body, "stages")
    return all_of(from_eql.category_formula("event.category", body.category),  # type: ignore[union-attr]
                  from_eql.condition(body.condition))  # type: ignore[union-attr]  # fmt: skip


def _failed(solution_tests: dict[str, tuple[Leaf, ...]], doc: dict[str, object]) -> int:
    return sum(1 for name, tests in solution_tests.items() for t in tests
               if not passes(t, doc.get(name, MISSING)))  # fmt: skip


@pytest.mark.parametrize(
    "formula",
    [
        _eql('process where process.name : ("cmd.exe", "pwsh*") and not process.args == "/c" '
             "and destination.port > 1024 and cidrMatch(source.ip, \"10.0.0.0/8\")"),
        from_kql.query(parse_kql('event.action:(exec or start) and not user.name:"root" and '
                                 "process.args:(-c and *curl*) and source.ip:192.168.0.0/16")),
        from_esql.plan(parse_esql('FROM logs-* | WHERE TO_LOWER(process.name) LIKE "*ssh*" '
                                  'AND user.id != "0" AND process.pid >= 5')).formula,
    ],
)  # fmt: skip
def test_match_passes_every_test_and_each_near_miss_fails_one(formula: Formula) -> None:
    match = first(formula)
    tests = dict(match.tests)
    assert _failed(tests, match.fields()) == 0
    misses = near_misses(match, limit=3)
    assert misses
    for doc in misses:
        assert _failed(tests, doc) == 1, doc


def test_case_insensitive_values_come_with_their_case_swapped() -> None:
    match = first(_eql('process where process.name : "cmd.exe"'))
    assert match.values["process.name"] == "CMD.EXE"
    assert match.values["event.category"] == "process"


def test_strings_from_regular_expressions() -> None:
    for pattern in (r".*\\(cmd|powershell)\.exe", r"[a-z]{3}[0-9]+x", r"[^/]+/\d{2}"):
        texts = regex_strings(pattern)
        assert texts and all(re.fullmatch(pattern, t) for t in texts), (pattern, texts)


def test_several_patterns_on_one_field_are_merged() -> None:
    leaves = [Leaf(field="f", test=Pattern(patterns=(p,), ci=False)) for p in ("/bin/*", "*.sh")]
    value = solve("f", leaves, multi=False)
    assert isinstance(value, str) and value.startswith("/bin/") and value.endswith(".sh")


def test_what_cannot_be_generated_says_why() -> None:
    with pytest.raises(NotGenerated, match="function"):
        _eql('process where substring(process.name, 1) == "md"')
    with pytest.raises(NotGenerated, match="GROK"):
        from_esql.plan(parse_esql('FROM logs-* | GROK message "%{WORD:w}" | WHERE w == "x"'))
