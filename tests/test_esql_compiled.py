"""The interpreter's compiled expressions give the values of walking the tree, row by row."""

from __future__ import annotations

from typing import Any

import pytest

from runner.esql import ast, parse_esql
from runner.esql.engine import Engine
from tests.test_esql_engine import NOW

ROWS: list[dict[str, Any]] = [
    {"a": 1, "b": 2.5, "s": "Bash", "m": ["x", "y"], "t": "2024-05-01T10:00:00Z", "ok": True},
    {"a": None, "b": 0, "s": "zsh", "m": "x", "ok": False},
    {"a": 9223372036854775807, "s": "a*b", "m": None},
    {},
]

EXPRESSIONS = [
    "a + 1", "a * 2", "a / 0", "-a", "b % 2", "a > 0 AND ok", "a > 0 OR ok", "NOT ok",
    "a IS NULL", "m IS NOT NULL", 's == "Bash"', 's =~ "bash"', 's LIKE "B*"',
    's RLIKE "[a-z]+"', 's NOT LIKE "*"', 's LIKE ("z*", "B*")', 's IN ("zsh", null)',
    "a NOT IN (1, 2)", 'CASE(a > 0, "pos", ok, "ok", "other")', "TO_LOWER(s)",
    'CONCAT(s, "-", TO_STRING(a))', "COALESCE(a, b, 7)", "MV_COUNT(m)", "[1, 2]", "[3]",
    "LENGTH(s) + a", 'DATE_TRUNC(1 hour, t)', "t + 1 day", "a::keyword", "NOW()",
    'TO_UPPER(s) LIKE CONCAT("B", "*")', "1 day",
]  # fmt: skip


def where_and_eval(text: str) -> list[ast.Expr]:
    query = parse_esql(f"FROM t | EVAL e = {text}")
    (command,) = query.commands
    assert isinstance(command, ast.Eval)
    return [command.fields[0].expr]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_compiled_is_the_tree_walk(text: str) -> None:
    (expr,) = where_and_eval(text)
    engine = Engine(query=parse_esql("ROW x = 1"), now=NOW)
    for row in ROWS:
        # ``rows=[]``: the tree walk all the way down (no aggregate is named here)
        assert engine.compiled(expr)(dict(row)) == engine._eval(expr, dict(row), rows=[])
