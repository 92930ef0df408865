"""The EQL parser: every distinction of the tree, sequences, samples, pipes, and rejections.

Expected errors follow Elasticsearch's wording where it has one; positions are 1-based
line/column of the offending text inside the query.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from runner.eql import parse_eql
from runner.eql.ast import (
    And,
    Arithmetic,
    Call,
    Comparison,
    EventQuery,
    Expr,
    Field,
    In,
    InsensitiveEquals,
    Like,
    Literal,
    Negate,
    Not,
    Or,
    Pipe,
    Query,
    Regex,
    SampleQuery,
    SequenceQuery,
    Stage,
)
from runner.errors import QueryError


def fld(name: str, *, optional: bool = False) -> Field:
    return Field(name=name, optional=optional)


def lit(value: str | int | float | bool | None) -> Literal:
    return Literal(value=value)


def lits(*values: str) -> tuple[Literal, ...]:
    return tuple(Literal(value=v) for v in values)


def condition(text: str) -> Expr:
    body = parse_eql(f"any where {text}").body
    assert isinstance(body, EventQuery)
    return body.condition


def eq(name: str, value: str | int) -> Comparison:
    return Comparison(op="==", left=fld(name), right=lit(value))


# ---- the seed rules ---------------------------------------------------------------------------

SEED_EMOND = """process where host.os.type == "macos" and event.type in ("start", "process_started") and
 process.parent.name : "emond" and
 process.name : (
   "bash",
   "dash",
   "sh",
   "tcsh",
   "csh",
   "zsh",
   "ksh",
   "fish",
   "Python",
   "python*",
   "perl*",
   "php*",
   "osascript",
   "pwsh",
   "curl",
   "wget",
   "cp",
   "mv",
   "touch",
   "echo",
   "base64",
   "launchctl")"""  # noqa: E501

SEED_LAUNCH_AGENT = """file where host.os.type == "macos" and event.type != "deletion" and
  file.path :
  (
    "/System/Library/LaunchAgents/.*.plist",
    "/Library/LaunchAgents/.*.plist",
    "/Users/*/Library/LaunchAgents/.*.plist",
    "/System/Library/LaunchDaemons/.*.plist",
    "/Library/LaunchDaemons/.*.plist"
  )"""

SEED_INSTALLER = (
    'sequence by host.id with maxspan=15s [process where host.os.type == "macos" and '
    'event.type == "start" and event.action == "exec" and process.parent.name : '
    '("installer", "package_script_service") and process.name : ("bash", "sh", "zsh", '
    '"python", "osascript", "tclsh*")] by process.entity_id [network where host.os.type == '
    '"macos" and event.type == "start" and process.name : ("curl", "osascript", "wget", '
    '"python", "java", "ruby", "node")] by process.parent.entity_id'
)


def test_seed_emond_child_process() -> None:
    shells = [
        *("bash", "dash", "sh", "tcsh", "csh", "zsh", "ksh", "fish", "Python", "python*"),
        *("perl*", "php*", "osascript", "pwsh", "curl", "wget", "cp", "mv", "touch", "echo"),
        *("base64", "launchctl"),
    ]
    expected = EventQuery(
        category="process",
        condition=And(
            terms=(
                eq("host.os.type", "macos"),
                In(expr=fld("event.type"), values=lits("start", "process_started")),
                InsensitiveEquals(expr=fld("process.parent.name"), patterns=lits("emond")),
                InsensitiveEquals(expr=fld("process.name"), patterns=lits(*shells)),
            )
        ),
    )
    query = parse_eql(SEED_EMOND)
    assert query == Query(body=expected, text=SEED_EMOND)


def test_seed_hidden_launch_agent() -> None:
    expected = EventQuery(
        category="file",
        condition=And(
            terms=(
                eq("host.os.type", "macos"),
                Comparison(op="!=", left=fld("event.type"), right=lit("deletion")),
                InsensitiveEquals(
                    expr=fld("file.path"),
                    patterns=lits(
                        "/System/Library/LaunchAgents/.*.plist",
                        "/Library/LaunchAgents/.*.plist",
                        "/Users/*/Library/LaunchAgents/.*.plist",
                        "/System/Library/LaunchDaemons/.*.plist",
                        "/Library/LaunchDaemons/.*.plist",
                    ),
                ),
            )
        ),
    )
    assert parse_eql(SEED_LAUNCH_AGENT).body == expected


def test_seed_installer_sequence() -> None:
    first = EventQuery(
        category="process",
        condition=And(
            terms=(
                eq("host.os.type", "macos"),
                eq("event.type", "start"),
                eq("event.action", "exec"),
                InsensitiveEquals(
                    expr=fld("process.parent.name"),
                    patterns=lits("installer", "package_script_service"),
                ),
                InsensitiveEquals(
                    expr=fld("process.name"),
                    patterns=lits("bash", "sh", "zsh", "python", "osascript", "tclsh*"),
                ),
            )
        ),
    )
    second = EventQuery(
        category="network",
        condition=And(
            terms=(
                eq("host.os.type", "macos"),
                eq("event.type", "start"),
                InsensitiveEquals(
                    expr=fld("process.name"),
                    patterns=lits("curl", "osascript", "wget", "python", "java", "ruby", "node"),
                ),
            )
        ),
    )
    expected = SequenceQuery(
        keys=(fld("host.id"),),
        maxspan_ms=15_000,
        stages=(
            Stage(query=first, keys=(fld("process.entity_id"),)),
            Stage(query=second, keys=(fld("process.parent.entity_id"),)),
        ),
    )
    query = parse_eql(SEED_INSTALLER)
    assert query.body == expected
    assert query.pipes == ()
    assert query.text == SEED_INSTALLER


# ---- conditions -------------------------------------------------------------------------------

CONDITIONS: list[tuple[str, Expr]] = [
    # `:` is case-insensitive equality with wildcards; `==` is exact.
    ('x : "a*"', InsensitiveEquals(expr=fld("x"), patterns=lits("a*"))),
    ('x : ("a", "b*")', InsensitiveEquals(expr=fld("x"), patterns=lits("a", "b*"))),
    ('x == "a*"', Comparison(op="==", left=fld("x"), right=lit("a*"))),
    ('x != "a"', Comparison(op="!=", left=fld("x"), right=lit("a"))),
    ("x < 1", Comparison(op="<", left=fld("x"), right=lit(1))),
    ("x <= 1", Comparison(op="<=", left=fld("x"), right=lit(1))),
    ("x > 1", Comparison(op=">", left=fld("x"), right=lit(1))),
    ("x >= 1", Comparison(op=">=", left=fld("x"), right=lit(1))),
    ("1 < x", Comparison(op="<", left=lit(1), right=fld("x"))),
    # like / like~ / regex / regex~, single value or list
    ('x like "a*"', Like(expr=fld("x"), patterns=lits("a*"))),
    ('x like~ "a*"', Like(expr=fld("x"), patterns=lits("a*"), insensitive=True)),
    ('x like ("a", "b")', Like(expr=fld("x"), patterns=lits("a", "b"))),
    ('x like~ ("a", "b")', Like(expr=fld("x"), patterns=lits("a", "b"), insensitive=True)),
    ('x regex ".*"', Regex(expr=fld("x"), patterns=lits(".*"))),
    ('x regex~ ".*"', Regex(expr=fld("x"), patterns=lits(".*"), insensitive=True)),
    ('x regex ("a.", "b.")', Regex(expr=fld("x"), patterns=lits("a.", "b."))),
    # in / in~ / not in / not in~
    ('x in ("a", "b")', In(expr=fld("x"), values=lits("a", "b"))),
    ('x in~ ("a")', In(expr=fld("x"), values=lits("a"), insensitive=True)),
    ('x not in ("a")', In(expr=fld("x"), values=lits("a"), negated=True)),
    ('x not in~ ("a")', In(expr=fld("x"), values=lits("a"), insensitive=True, negated=True)),
    ("x in (1, -2, 3.5)", In(expr=fld("x"), values=(lit(1), lit(-2), lit(3.5)))),
    # `not` applies to the whole predicate that follows it
    ('not x in ("a")', Not(expr=In(expr=fld("x"), values=lits("a")))),
    ('not x : "a"', Not(expr=InsensitiveEquals(expr=fld("x"), patterns=lits("a")))),
    # functions: `~`, canonical spelling whatever the case written
    (
        'startsWith~(x, "a")',
        Call(name="startsWith", args=(fld("x"), lit("a")), insensitive=True),
    ),
    ('startsWith(x, "a")', Call(name="startsWith", args=(fld("x"), lit("a")))),
    ('STARTSWITH(x, "a")', Call(name="startsWith", args=(fld("x"), lit("a")))),
    ('endswith~(x, "a")', Call(name="endsWith", args=(fld("x"), lit("a")), insensitive=True)),
    ('cidrmatch(ip, "10.0.0.0/8")', Call(name="cidrMatch", args=(fld("ip"), lit("10.0.0.0/8")))),
    (
        'cidrMatch(ip, "10.0.0.0/8", "192.168.0.0/16")',
        Call(name="cidrMatch", args=(fld("ip"), lit("10.0.0.0/8"), lit("192.168.0.0/16"))),
    ),
    (
        'CONCAT(a, "b") == "c"',
        Comparison(op="==", left=Call(name="concat", args=(fld("a"), lit("b"))), right=lit("c")),
    ),
    ("length(x) > 3", Comparison(op=">", left=Call(name="length", args=(fld("x"),)), right=lit(3))),
    (
        'between~(x, "a", "b", true) : "c"',
        InsensitiveEquals(
            expr=Call(
                name="between", args=(fld("x"), lit("a"), lit("b"), lit(True)), insensitive=True
            ),
            patterns=lits("c"),
        ),
    ),
    (
        'indexOf~(x, "a", 2) == 4',
        Comparison(
            op="==",
            left=Call(name="indexOf", args=(fld("x"), lit("a"), lit(2)), insensitive=True),
            right=lit(4),
        ),
    ),
    (
        'stringContains~(x, "a")',
        Call(name="stringContains", args=(fld("x"), lit("a")), insensitive=True),
    ),
    (
        'substring(x, -4) : ".exe"',
        InsensitiveEquals(
            expr=Call(name="substring", args=(fld("x"), lit(-4))), patterns=lits(".exe")
        ),
    ),
    (
        "number(string(x), 16) == 17",
        Comparison(
            op="==",
            left=Call(name="number", args=(Call(name="string", args=(fld("x"),)), lit(16))),
            right=lit(17),
        ),
    ),
    (
        "add(x, 1) + subtract(x, 1) > multiply(2, divide(4, modulo(5, 3)))",
        Comparison(
            op=">",
            left=Arithmetic(
                op="+",
                left=Call(name="add", args=(fld("x"), lit(1))),
                right=Call(name="subtract", args=(fld("x"), lit(1))),
            ),
            right=Call(
                name="multiply",
                args=(
                    lit(2),
                    Call(name="divide", args=(lit(4), Call(name="modulo", args=(lit(5), lit(3))))),
                ),
            ),
        ),
    ),
    # fields: optional, escaped, special characters
    ("?x.y == null", Comparison(op="==", left=fld("x.y", optional=True), right=lit(None))),
    ("? x != null", Comparison(op="!=", left=fld("x", optional=True), right=lit(None))),
    ("`my field`.sub == 1", eq("my field.sub", 1)),
    ("`a``b` == 1", eq("a`b", 1)),
    ("`my-field` == 1", eq("my-field", 1)),
    ("`sequence` == 1", eq("sequence", 1)),
    ("@timestamp > 1", Comparison(op=">", left=fld("@timestamp"), right=lit(1))),
    (
        "dll.Ext.relative_file_creation_time <= 500",
        Comparison(op="<=", left=fld("dll.Ext.relative_file_creation_time"), right=lit(500)),
    ),
    (
        'process.pe.original_file_name : "a"',
        InsensitiveEquals(expr=fld("process.pe.original_file_name"), patterns=lits("a")),
    ),
    ("_x1 == 1", eq("_x1", 1)),
    # string literals: escapes, unicode escapes, raw strings
    (r'x == "a\"b"', eq("x", 'a"b')),
    (r'x == "a\\b"', eq("x", "a\\b")),
    (r'x == "\n\t\r"', eq("x", "\n\t\r")),
    (r'x == "\u{41}\u{00e9}\u0042\u{1F600}"', eq("x", "A\u00e9B\U0001f600")),
    (r'x == "*\u{202E}*"', eq("x", "*\u202e*")),
    (r'x == "it\'s"', eq("x", "it's")),
    (r'x == "\w+"', eq("x", "\\w+")),  # unknown escapes stay verbatim, as in Elasticsearch
    (r'x == """C:\raw\n"""', eq("x", "C:\\raw\\n")),
    ('x == """say "hi" """', eq("x", 'say "hi" ')),
    ('x == """"quoted""""', eq("x", '"quoted"')),
    ('x == ""', eq("x", "")),
    ('x == "// not a comment /* either */"', eq("x", "// not a comment /* either */")),
    # numbers, booleans, null
    ("x == 42", eq("x", 42)),
    ("x == 1.5", Comparison(op="==", left=fld("x"), right=lit(1.5))),
    ("x == .5", Comparison(op="==", left=fld("x"), right=lit(0.5))),
    ("x == 5.", Comparison(op="==", left=fld("x"), right=lit(5.0))),
    ("x == 1e3", Comparison(op="==", left=fld("x"), right=lit(1000.0))),
    ("x == 2.5E-1", Comparison(op="==", left=fld("x"), right=lit(0.25))),
    ("x == -7", eq("x", -7)),
    ("x == 99999999999999999999", Comparison(op="==", left=fld("x"), right=lit(1e20))),
    ("x == true", Comparison(op="==", left=fld("x"), right=lit(True))),
    ("x == false", Comparison(op="==", left=fld("x"), right=lit(False))),
    ("x == null", Comparison(op="==", left=fld("x"), right=lit(None))),
    ("true", lit(True)),
    ("?x", fld("x", optional=True)),
    # arithmetic and its precedence
    (
        "x + 2 * 3 == 7",
        Comparison(
            op="==",
            left=Arithmetic(
                op="+", left=fld("x"), right=Arithmetic(op="*", left=lit(2), right=lit(3))
            ),
            right=lit(7),
        ),
    ),
    (
        "(x + 2) * 3 == 7",
        Comparison(
            op="==",
            left=Arithmetic(
                op="*", left=Arithmetic(op="+", left=fld("x"), right=lit(2)), right=lit(3)
            ),
            right=lit(7),
        ),
    ),
    (
        "x - 1 - 2 == 0",
        Comparison(
            op="==",
            left=Arithmetic(
                op="-", left=Arithmetic(op="-", left=fld("x"), right=lit(1)), right=lit(2)
            ),
            right=lit(0),
        ),
    ),
    (
        "-x * 2 % 3 / 4 > 1",
        Comparison(
            op=">",
            left=Arithmetic(
                op="/",
                left=Arithmetic(
                    op="%",
                    left=Arithmetic(op="*", left=Negate(expr=fld("x")), right=lit(2)),
                    right=lit(3),
                ),
                right=lit(4),
            ),
            right=lit(1),
        ),
    ),
    ("+x > 1", Comparison(op=">", left=fld("x"), right=lit(1))),
    ("- -1 == x", Comparison(op="==", left=lit(1), right=fld("x"))),
    # boolean precedence: not > and > or
    (
        "a == 1 or b == 2 and not c == 3",
        Or(terms=(eq("a", 1), And(terms=(eq("b", 2), Not(expr=eq("c", 3)))))),
    ),
    (
        "not a == 1 and b == 2",
        And(terms=(Not(expr=eq("a", 1)), eq("b", 2))),
    ),
    (
        "(a == 1 or b == 2) and c == 3",
        And(terms=(Or(terms=(eq("a", 1), eq("b", 2))), eq("c", 3))),
    ),
    ("a == 1 or b == 2 or c == 3", Or(terms=(eq("a", 1), eq("b", 2), eq("c", 3)))),
    ("a == 1 and b == 2 and c == 3", And(terms=(eq("a", 1), eq("b", 2), eq("c", 3)))),
    # explicit parentheses keep their nesting
    (
        "(a == 1 and b == 2) and c == 3",
        And(terms=(And(terms=(eq("a", 1), eq("b", 2))), eq("c", 3))),
    ),
    ("not not a == 1", Not(expr=Not(expr=eq("a", 1)))),
    ("((a == 1))", eq("a", 1)),
    # a literal may face any expression, including a comparison (Elasticsearch's own suite)
    (
        "null == (x > -1)",
        Comparison(op="==", left=lit(None), right=Comparison(op=">", left=fld("x"), right=lit(-1))),
    ),
    # optional fields may both be missing, so Elasticsearch accepts comparing them
    ("?x == ?y", Comparison(op="==", left=fld("x", optional=True), right=fld("y", optional=True))),
]


@pytest.mark.parametrize(("text", "expected"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_condition(text: str, expected: Expr) -> None:
    assert condition(text) == expected


# ---- event queries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("process where true", "process"),
        ("any where true", None),
        ('"my-category" where true', "my-category"),
        ('"""my category""" where true', "my category"),
        ("OPTIONAL where true", "OPTIONAL"),  # keywords are lower-case only
        ("ANY where true", "ANY"),
    ],
)
def test_event_category(text: str, category: str | None) -> None:
    assert parse_eql(text).body == EventQuery(category=category, condition=lit(True))


def test_original_text_is_kept() -> None:
    text = "  process where true  // trailing\n"
    assert parse_eql(text).text == text


def test_comments_and_whitespace() -> None:
    text = (
        "// leading comment\n"
        "process /* inline */ where\n"
        "\tx == 1 // end of line\n"
        "  and /* multi\n line */ y == 2\n"
    )
    assert parse_eql(text).body == EventQuery(
        category="process", condition=And(terms=(eq("x", 1), eq("y", 2)))
    )


def test_tree_is_frozen_and_hashable() -> None:
    query = parse_eql(SEED_INSTALLER)
    assert hash(query) == hash(parse_eql(SEED_INSTALLER))
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.text = "x"  # type: ignore[misc]


# ---- sequences --------------------------------------------------------------------------------


def stage(category: str, *keys: str, runs: int = 1, missing: bool = False) -> Stage:
    return Stage(
        query=EventQuery(category=category, condition=lit(True)),
        keys=tuple(fld(k) for k in keys),
        runs=runs,
        missing=missing,
    )


@pytest.mark.parametrize(
    ("span", "ms"),
    [("500ms", 500), ("15s", 15_000), ("2m", 120_000), ("1h", 3_600_000), ("1d", 86_400_000)],
)
def test_maxspan_units(span: str, ms: int) -> None:
    body = parse_eql(f"sequence with maxspan={span} [a where true] [b where true]").body
    assert isinstance(body, SequenceQuery)
    assert body.maxspan_ms == ms


def test_maxspan_with_spaces() -> None:
    body = parse_eql("sequence with maxspan = 30 s [a where true] [b where true]").body
    assert isinstance(body, SequenceQuery)
    assert body.maxspan_ms == 30_000


SEQUENCES: list[tuple[str, SequenceQuery]] = [
    (
        "sequence [a where true] [b where true]",
        SequenceQuery(keys=(), maxspan_ms=None, stages=(stage("a"), stage("b"))),
    ),
    (
        "sequence by k1, ?k2 [a where true] [b where true]",
        SequenceQuery(
            keys=(fld("k1"), fld("k2", optional=True)),
            maxspan_ms=None,
            stages=(stage("a"), stage("b")),
        ),
    ),
    (
        "sequence by host.id with maxspan=1h [a where true] by x [b where true] by y",
        SequenceQuery(
            keys=(fld("host.id"),), maxspan_ms=3_600_000, stages=(stage("a", "x"), stage("b", "y"))
        ),
    ),
    (
        "sequence [a where true] by x, y [b where true] by z, w",
        SequenceQuery(
            keys=(), maxspan_ms=None, stages=(stage("a", "x", "y"), stage("b", "z", "w"))
        ),
    ),
    (
        "sequence [a where true] by x [b where true] by x until [c where true] by y",
        SequenceQuery(
            keys=(),
            maxspan_ms=None,
            stages=(stage("a", "x"), stage("b", "x")),
            until=stage("c", "y"),
        ),
    ),
    (
        "sequence [a where true] by x [b where true] by x with runs=3 [c where true] by x",
        SequenceQuery(
            keys=(),
            maxspan_ms=None,
            stages=(stage("a", "x"), stage("b", "x", runs=3), stage("c", "x")),
        ),
    ),
    # runs alone can make the two queries a sequence needs
    (
        "sequence [a where true] with runs=2",
        SequenceQuery(keys=(), maxspan_ms=None, stages=(stage("a", runs=2),)),
    ),
    (
        "sequence with maxspan=5s ![a where true] [b where true] ![c where true] with runs=2",
        SequenceQuery(
            keys=(),
            maxspan_ms=5_000,
            stages=(stage("a", missing=True), stage("b"), stage("c", runs=2, missing=True)),
        ),
    ),
    (
        "sequence by k with maxspan=1s\n  [a where true] by x\n ![b where true] by y\n"
        "  [c where true] by z\n| head 3",
        SequenceQuery(
            keys=(fld("k"),),
            maxspan_ms=1_000,
            stages=(stage("a", "x"), stage("b", "y", missing=True), stage("c", "z")),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequence(text: str, expected: SequenceQuery) -> None:
    assert parse_eql(text).body == expected


def test_sequence_stage_conditions() -> None:
    body = parse_eql('sequence [process where x : "a"] [any where y == 1]').body
    assert isinstance(body, SequenceQuery)
    assert body.stages[0].query == EventQuery(
        category="process", condition=InsensitiveEquals(expr=fld("x"), patterns=lits("a"))
    )
    assert body.stages[1].query == EventQuery(category=None, condition=eq("y", 1))


# ---- samples ----------------------------------------------------------------------------------


def test_sample() -> None:
    text = "sample by host.id [a where true] by x [b where true] by y [c where true] by z"
    assert parse_eql(text).body == SampleQuery(
        keys=(fld("host.id"),), stages=(stage("a", "x"), stage("b", "y"), stage("c", "z"))
    )


def test_sample_without_shared_keys() -> None:
    assert parse_eql("sample [a where true] by x [b where true] by y").body == SampleQuery(
        keys=(), stages=(stage("a", "x"), stage("b", "y"))
    )


# ---- pipes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pipes"),
    [
        ("process where true | head 5", (Pipe(kind="head", count=5),)),
        ("process where true | tail 10", (Pipe(kind="tail", count=10),)),
        ("process where true | head 0", (Pipe(kind="head", count=0),)),
        (
            "process where true\n| head 4\n| tail 2",
            (Pipe(kind="head", count=4), Pipe(kind="tail", count=2)),
        ),
        (
            "sequence [a where true] [b where true] | tail 1",
            (Pipe(kind="tail", count=1),),
        ),
    ],
)
def test_pipes(text: str, pipes: tuple[Pipe, ...]) -> None:
    assert parse_eql(text).pipes == pipes


# ---- rejected queries -------------------------------------------------------------------------

ERRORS: list[tuple[str, str, int, int]] = [
    # strings
    (
        "process where name == 'x'",
        "Use double quotes [\"] to define string literals, not single quotes [']",
        1,
        23,
    ),
    (
        "'process' where true",
        "Use double quotes [\"] to define string literals, not single quotes [']",
        1,
        1,
    ),
    (
        'process where name == ?"x"',
        'Use triple double quotes ["""] to define unescaped string literals, not [?"]',
        1,
        23,
    ),
    (
        'process where x == "abc\n"',
        "Unterminated string literal (strings cannot span lines)",
        1,
        20,
    ),
    (r'process where x == "\u00U1"', "Invalid escape sequence in string literal", 1, 20),
    (
        r'process where x == "\u{D}"',
        r"Unicode sequence in curly braces should use [2-8] hex digits, [\u{D}] has [1]",
        1,
        20,
    ),
    (r'process where x == "\u{0000}"', "Unicode sequence results in null", 1, 20),
    (r'process where x == "\u{110000}"', "Invalid unicode character code [110000]", 1, 20),
    (
        r'process where x == "\uD800"',
        "Invalid unicode character code, [D800] is a surrogate code",
        1,
        20,
    ),
    (
        "process where `abc == 1",
        "Unterminated quoted identifier (missing closing backtick [`])",
        1,
        15,
    ),
    # operators
    (
        "process where name = 1",
        "[=] is not supported as an equal operator; use [==] or [:]",
        1,
        20,
    ),
    (
        "process where a == b",
        "Comparisons against fields are not (currently) supported; offender [b] in [==]",
        1,
        20,
    ),
    (
        "process where length(a) > length(b)",
        "Comparisons against fields are not (currently) supported; offender [length(b)] in [>]",
        1,
        27,
    ),
    (
        'process where a in (b, "x")',
        'Comparisons against fields are not (currently) supported; offender [b] in [a in (b, "x")]',
        1,
        21,
    ),
    ("process where a && b", "Unexpected character [&]; use [and]", 1, 17),
    (
        "process where startsWith ~(a, b)",
        "Unexpected character [~]; [~] must directly follow a function name, [in], [like] or "
        "[regex]",
        1,
        26,
    ),
    ("process where a[0] == 1", "Array indexes are not supported", 1, 17),
    (
        "process where sequence == 1",
        "[sequence] is a reserved keyword; to use it as a field name, escape it with "
        "backticks: `sequence`",
        1,
        15,
    ),
    (
        "process where child of [file where true]",
        "Process relationships are not supported",
        1,
        15,
    ),
    # functions
    ("process where foo(a)", "Unknown function [foo]", 1, 15),
    (
        'process where startWith(a, "b")',
        "Unknown function [startWith], did you mean [startsWith]?",
        1,
        15,
    ),
    (
        "process where\n  x == 1 and\n  arraySearch(a, b)",
        "Unknown function [arraySearch]",
        3,
        3,
    ),
    (
        "process where length(a, b) > 1",
        "Function [length] expects exactly one argument but found [2]",
        1,
        15,
    ),
    (
        'process where between(a, "b")',
        "Function [between] expects three or four arguments but found [2]",
        1,
        15,
    ),
    (
        "process where cidrMatch(a)",
        "Function [cidrMatch] expects at least two arguments but found [1]",
        1,
        15,
    ),
    (
        "process where length~(a) > 1",
        "Function [length] does not support case-insensitive matching [~]",
        1,
        15,
    ),
    # pipes
    ("process where true | unique x", "Pipe [unique] is not supported", 1, 22),
    ("process where true | count", "Pipe [count] is not supported", 1, 22),
    ("process where true | haed 5", "Unrecognized pipe [haed], did you mean [head]?", 1, 22),
    ("process where true | head", "Pipe [head] expects exactly one argument but found [0]", 1, 22),
    (
        "process where true | head -1",
        "Pipe [head] expects a positive integer but found [-1]",
        1,
        27,
    ),
    (
        "process where true | tail x",
        "Pipe [tail] expects a positive integer but found [x]",
        1,
        27,
    ),
    # sequences
    (
        "sequence with maxspan=5m by x [a where true] [b where true]",
        "Please specify sequence [by] before [with] not after",
        1,
        26,
    ),
    (
        "sequence with maxspan=30 [a where true] [b where true]",
        "No time unit specified, did you mean [s] as in [30s]?",
        1,
        23,
    ),
    (
        "sequence with maxspan=2w [a where true] [b where true]",
        "Unrecognized time unit [w] in [2w], please specify one of [ms, s, m, h, d]",
        1,
        24,
    ),
    (
        "sequence with maxspan=1.5s [a where true] [b where true]",
        "Decimal time interval [1.5] not supported; please use a positive integer",
        1,
        23,
    ),
    (
        "sequence with maxspan=0s [a where true] [b where true]",
        "A positive maxspan value is required; found [0]",
        1,
        23,
    ),
    ("sequence [a where true]", "A sequence requires a minimum of 2 queries, found [1]", 1, 10),
    (
        "sequence [a where true] with runs=0 [b where true]",
        "The [runs] value must be an integer between 1 and 100; found [0]",
        1,
        35,
    ),
    (
        "sequence [a where true] with runs=101 [b where true]",
        "The [runs] value must be an integer between 1 and 100; found [101]",
        1,
        35,
    ),
    (
        "sequence [a where true] with repeat=2 [b where true]",
        "Unrecognized option [repeat] for a sequence query, expected [runs]",
        1,
        30,
    ),
    (
        "sequence\n  [a where true] by x\n  [b where true] by x, y",
        "Inconsistent number of join keys specified; expected [1] but found [2]",
        3,
        18,
    ),
    (
        "sequence [a where true] ![b where true]",
        "A sequence with missing events (![...]) requires [with maxspan]",
        1,
        25,
    ),
    (
        "sequence with maxspan=1s ![a where true] ![b where true]",
        "A sequence requires at least one positive event query, not only missing events",
        1,
        26,
    ),
    (
        "sequence by length(x) [a where true] [b where true]",
        "Join keys must be fields; found [length(x)]",
        1,
        13,
    ),
    # samples and joins
    ("sample by x [a where true]", "A sample requires a minimum of 2 queries, found [1]", 1, 13),
    (
        "sample by x [a where true] ![b where true]",
        "Missing events (![...]) are not supported in samples",
        1,
        28,
    ),
    (
        "join [a where true] [b where true]",
        "Queries with [join] are not supported; use [sequence] or [sample]",
        1,
        1,
    ),
]


@pytest.mark.parametrize(("text", "message", "line", "column"), ERRORS, ids=[e[0] for e in ERRORS])
def test_rejected(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_eql(text)
    error = caught.value
    assert (error.reason, error.line, error.column) == (message, line, column)
    assert error.query == text
    assert str(error) == f"line {line}, column {column}: {message}"


@pytest.mark.parametrize(
    ("text", "line", "column", "unexpected"),
    [
        ("process where true foo", 1, 20, "Unexpected [foo]"),
        ("process where\n  a == 1 and\n  b == 2 2", 3, 10, "Unexpected [2]"),
        ("process where (a == 1", 1, 22, "Unexpected end of query"),
        ("process where a ==\n", 1, 19, "Unexpected end of query"),
        ("", 1, 1, "Unexpected end of query"),
        ("process where x : y", 1, 19, "Unexpected [y]"),
        ("process where x in ()", 1, 21, "Unexpected [)]"),
        ("process where a == 1 == 2", 1, 22, "Unexpected [==]"),
        ("process where true | head 1 [b where true]", 1, 29, "Unexpected [[]"),
    ],
)
def test_syntax_error_positions(text: str, line: int, column: int, unexpected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_eql(text)
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert error.reason.startswith(unexpected)
    assert "expected" in error.reason


def test_syntax_error_lists_only_what_can_follow() -> None:
    with pytest.raises(QueryError) as caught:
        parse_eql("process where true foo")
    reason = caught.value.reason
    assert "[and]" not in reason  # listed inside "one of [...]"
    assert ", and," in reason and "end of query" in reason
    assert "until" not in reason and "![" not in reason  # only valid inside sequences


def test_error_excerpt_points_at_the_offending_line() -> None:
    with pytest.raises(QueryError) as caught:
        parse_eql("process where\n  x == 1 and\n  foo(x)")
    assert caught.value.excerpt() == "  foo(x)\n  ^"


def test_repository_rules_parse() -> None:
    """The EQL rules shipped in ``rules/`` (the seed rules) parse."""
    rules_dir = Path(__file__).resolve().parents[1] / "rules"
    queries = [
        rule["query"]
        for path in sorted(rules_dir.glob("*.toml"))
        if (rule := tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})).get("language")
        == "eql"
    ]
    assert queries
    for text in queries:
        assert parse_eql(text).text == text
