"""ES|QL parser: tree shapes, precedence, names, literals, errors, and the public rules."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from runner.errors import QueryError
from runner.esql import ast, parse_esql


def where(text: str) -> ast.Expr:
    command = parse_esql(f"FROM x | WHERE {text}").commands[0]
    assert isinstance(command, ast.Where)
    return command.condition


def test_from_with_metadata_and_several_patterns() -> None:
    query = parse_esql(
        "from logs-endpoint.events.process-*, .alerts-security.* metadata _id, _index"
    )
    assert query.source == ast.From(
        sources=("logs-endpoint.events.process-*", ".alerts-security.*"), metadata=("_id", "_index")
    )
    assert query.keeps_id


def test_keywords_are_case_insensitive() -> None:
    upper = parse_esql('FROM x | WHERE a == "b" AND NOT c IN (1) | LIMIT 5')
    lower = parse_esql('from x | where a == "b" and not c in (1) | limit 5')
    assert upper.commands == lower.commands


def test_precedence_not_and_or() -> None:
    a, b, c = (ast.Field(name=n) for n in "abc")
    assert where("not a or b and c") == ast.Or(left=ast.Not(expr=a), right=ast.And(left=b, right=c))
    assert where("a and (b or c)") == ast.And(left=a, right=ast.Or(left=b, right=c))


def test_not_in_and_not_like_and_is_not_null() -> None:
    assert where('a not in ("x", "y")') == ast.In(
        expr=ast.Field(name="a"),
        values=(ast.Literal(value="x"), ast.Literal(value="y")),
        negated=True,
    )
    assert where('a not like ("x*", "y?")') == ast.Like(
        expr=ast.Field(name="a"), patterns=("x*", "y?"), negated=True
    )
    assert where('a rlike ".*b"') == ast.Like(
        expr=ast.Field(name="a"), patterns=(".*b",), regex=True
    )
    assert where("a is not null") == ast.IsNull(expr=ast.Field(name="a"), negated=True)
    # NOT applies to the whole predicate after it
    assert where("not a in (1)") == ast.Not(
        expr=ast.In(expr=ast.Field(name="a"), values=(ast.Literal(value=1),))
    )


def test_arithmetic_precedence_and_unary_minus() -> None:
    expr = where("a + b * -2 > 3")
    assert expr == ast.Comparison(
        op=">",
        left=ast.Arithmetic(
            op="+",
            left=ast.Field(name="a"),
            right=ast.Arithmetic(op="*", left=ast.Field(name="b"), right=ast.Literal(value=-2)),
        ),
        right=ast.Literal(value=3),
    )


def test_comparisons_do_not_chain() -> None:
    with pytest.raises(QueryError):
        parse_esql("FROM x | WHERE a == b == c")


def test_strings_escapes_and_triple_quotes() -> None:
    assert where(r'a == "x\"y\\z\t"') == ast.Comparison(
        op="==", left=ast.Field(name="a"), right=ast.Literal(value='x"y\\z\t')
    )
    assert where('a == """C:\\path "q" """') == ast.Comparison(
        op="==", left=ast.Field(name="a"), right=ast.Literal(value='C:\\path "q" ')
    )


def test_unnamed_fields_are_named_by_their_text() -> None:
    query = parse_esql("FROM x | EVAL a + 1, b = TO_LOWER(c) | STATS COUNT(*), m = MAX(a) BY b")
    evals, stats = query.commands
    assert isinstance(evals, ast.Eval) and isinstance(stats, ast.Stats)
    assert [f.name for f in evals.fields] == ["a + 1", "b"]
    assert [a.name for a in stats.aggregates] == ["COUNT(*)", "m"]
    assert stats.aggregates[0].expr == ast.Call(name="count", star=True)
    assert [g.name for g in stats.groups] == ["b"]


def test_stats_aggregate_where_and_inline_stats() -> None:
    query = parse_esql(
        'FROM x | INLINE STATS n = COUNT(*) WHERE a != "null" BY h | INLINESTATS m = MIN(b)'
    )
    first, second = query.commands
    assert isinstance(first, ast.Stats) and first.inline
    assert first.aggregates[0].where == ast.Comparison(
        op="!=", left=ast.Field(name="a"), right=ast.Literal(value="null")
    )
    assert isinstance(second, ast.Stats) and second.inline
    assert not query.aggregates
    assert parse_esql("FROM x | STATS BY a").aggregates


def test_time_spans_and_casts() -> None:
    command = parse_esql("FROM x | EVAL t = NOW() - 15 minutes, d = 7d, s = a::keyword").commands[0]
    assert isinstance(command, ast.Eval)
    t, d, s = (f.expr for f in command.fields)
    assert t == ast.Arithmetic(
        op="-", left=ast.Call(name="now"), right=ast.TimeSpan(value=15, unit="minute")
    )
    assert d == ast.TimeSpan(value=7, unit="day")
    assert s == ast.Cast(expr=ast.Field(name="a"), type="keyword")


def test_keep_drop_rename_patterns_with_backquotes() -> None:
    query = parse_esql(
        "FROM x | KEEP source.`as`.organization.name, host.*, `a b`, a | DROP `a b` | RENAME a AS b"
    )
    keep, drop, rename = query.commands
    assert keep == ast.Keep(patterns=("source.as.organization.name", "host.*", "a b", "a"))
    assert drop == ast.Drop(patterns=("a b",))
    assert rename == ast.Rename(pairs=(("a", "b"),))


def test_sort_limit_mv_expand_grok_dissect() -> None:
    query = parse_esql(
        'FROM x | SORT a DESC NULLS FIRST, b | LIMIT 7 | MV_EXPAND c | GROK m "%{IP:ip}" '
        '| DISSECT m """%{a} %{b}""" APPEND_SEPARATOR=","'
    )
    sort, limit, expand, grok, dissect = query.commands
    assert sort == ast.Sort(
        orders=(
            ast.Order(expr=ast.Field(name="a"), descending=True, nulls_first=True),
            ast.Order(expr=ast.Field(name="b")),
        )
    )
    assert limit == ast.Limit(count=7)
    assert expand == ast.MvExpand(field="c")
    assert grok == ast.Grok(input=ast.Field(name="m"), pattern="%{IP:ip}")
    assert dissect == ast.Dissect(
        input=ast.Field(name="m"), pattern="%{a} %{b}", append_separator=","
    )


def test_cluster_only_commands_parse_and_say_why() -> None:
    query = parse_esql(
        'FROM x | COMPLETION r = p WITH { "inference_id": "e" } | ENRICH pol ON a WITH b '
        "| LOOKUP JOIN threat_intel ON ip"
    )
    assert query.cluster_only() == (
        "COMPLETION needs an inference endpoint",
        "ENRICH needs an enrich policy",
        "LOOKUP JOIN needs a lookup index",
    )
    assert parse_esql("FROM x | WHERE a > 1").cluster_only() == ()


def test_kql_function_checks_its_query() -> None:
    expr = where('KQL("""process.name : "a" """)')
    assert expr == ast.Call(name="kql", args=(ast.Literal(value='process.name : "a" '),))
    with pytest.raises(QueryError) as caught:
        parse_esql('FROM x\n| WHERE KQL("a:(b")')
    assert (caught.value.line, caught.value.column) == (2, 9)
    assert "KQL() query" in caught.value.reason


def test_syntax_error_position_and_caret() -> None:
    text = "FROM logs-*\n| WHERE a == \n| LIMIT 1"
    with pytest.raises(QueryError) as caught:
        parse_esql(text)
    error = caught.value
    assert (error.line, error.column) == (3, 1)
    assert error.excerpt() == "| LIMIT 1\n^"
    assert "mismatched input '|'" in error.reason


def test_unknown_time_unit_and_unterminated_string() -> None:
    with pytest.raises(QueryError) as caught:
        parse_esql("FROM x | EVAL a = 3 fortnights")
    assert caught.value.column == 21 and "fortnights" in caught.value.reason
    with pytest.raises(QueryError) as caught:
        parse_esql('FROM x | WHERE a == "abc')
    assert caught.value.column == 21 and "unterminated" in caught.value.reason


def test_unknown_command_is_an_error() -> None:
    with pytest.raises(QueryError) as caught:
        parse_esql("FROM x | FROBNICATE a")
    assert caught.value.column == 10


@pytest.mark.reference
def test_every_public_esql_rule_parses(reference: Path) -> None:
    found = 0
    failures: list[str] = []
    for path in sorted((reference / "detection-rules").rglob("*.toml")):
        rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
        if rule.get("type") != "esql":
            continue
        found += 1
        try:
            parse_esql(rule["query"])
        except QueryError as exc:
            failures.append(f"{path.name}: {exc}")
    assert found >= 200
    assert failures == []
