"""ES|QL text to :mod:`runner.esql.ast`, with Elasticsearch's tokens and precedence.

Errors are :class:`~runner.errors.QueryError` with 1-based line and column (and so a caret).
Strings inside ``KQL("...")`` are parsed as KQL here too, so a broken inner query is reported
at load time, where it is in the rule text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from runner.errors import QueryError
from runner.esql import ast
from runner.esql.verifier import verify

__all__ = ["TIME_UNITS", "parse_esql"]

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# Words a time span may use (Elasticsearch's EsqlDataTypeConverter), to their canonical unit.
TIME_UNITS: dict[str, str] = {
    **dict.fromkeys(("millisecond", "milliseconds", "ms"), "millisecond"),
    **dict.fromkeys(("second", "seconds", "sec", "s"), "second"),
    **dict.fromkeys(("minute", "minutes", "min", "m"), "minute"),
    **dict.fromkeys(("hour", "hours", "h"), "hour"),
    **dict.fromkeys(("day", "days", "d"), "day"),
    **dict.fromkeys(("week", "weeks", "w"), "week"),
    **dict.fromkeys(("month", "months", "mo"), "month"),
    **dict.fromkeys(("quarter", "quarters", "q"), "quarter"),
    **dict.fromkeys(("year", "years", "yr", "y"), "year"),
}

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)")

_EXPECTED_NAMES = {
    "_PIPE": '"|"',
    "_COMMA": '","',
    "_LP": '"("',
    "_RP": '")"',
    "_LSQB": '"["',
    "_RSQB": '"]"',
    "_LBRACE": '"{"',
    "_RBRACE": '"}"',
    "_ASSIGN": '"="',
    "_COLON": '":"',
    "_DOT": '"."',
    "_CAST": '"::"',
    "COMPARE": "comparison operator",
    "STRING": "string",
    "INT": "integer",
    "DECIMAL": "number",
    "IDENT": "identifier",
    "QUOTED_IDENT": "identifier",
    "ID_PATTERN": "name pattern",
    "SOURCE": "index pattern",
    "ENRICH_POLICY": "policy name",
    "ORDERING": "ASC/DESC",
    "NULLS_ORDER": "FIRST/LAST",
    "$END": "end of input",
}


def _string(token: Token) -> str:
    raw = str(token)
    if raw.startswith('"""'):
        return raw[3:-3]
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw[1:-1])


def _name(token: Token) -> str:
    raw = str(token)
    if raw.startswith("`"):
        return raw[1:-1].replace("``", "`")
    return raw


class _Located(Exception):
    """A semantic error found while building the tree, with its offset in the text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class _ToAst(Transformer[Token, Any]):
    """Parse tree to typed nodes; ``text`` names unnamed fields by their source text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    # ---- query and commands --------------------------------------------------------------

    def start(self, children: list[Any]) -> ast.Query:
        source, *commands = children
        return ast.Query(source=source, commands=tuple(commands), text=self.text)

    def from_command(self, children: list[Any]) -> ast.From:
        sources = children[0]
        metadata = children[1] if len(children) > 1 else ()
        return ast.From(sources=sources, metadata=metadata)

    def sources(self, children: list[str]) -> tuple[str, ...]:
        return tuple(children)

    def source(self, children: list[Token]) -> str:
        (token,) = children
        return _string(token) if token.type == "STRING" else str(token)

    def metadata(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in children)

    def row_command(self, children: list[Any]) -> ast.Row:
        return ast.Row(fields=children[0])

    def where_command(self, children: list[Any]) -> ast.Where:
        return ast.Where(condition=children[0])

    def eval_command(self, children: list[Any]) -> ast.Eval:
        return ast.Eval(fields=children[0])

    def keep_command(self, children: list[Any]) -> ast.Keep:
        names, positions = zip(*children[0], strict=True)
        return ast.Keep(patterns=names, positions=positions)

    def drop_command(self, children: list[Any]) -> ast.Drop:
        names, positions = zip(*children[0], strict=True)
        return ast.Drop(patterns=names, positions=positions)

    def id_patterns(self, children: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
        return tuple(children)

    @v_args(meta=True)
    def id_pattern(self, meta: Any, children: list[Token]) -> tuple[str, int]:
        return ".".join(_name(t) for t in children), meta.start_pos

    def rename_command(self, children: list[_Clause]) -> ast.Rename:
        return ast.Rename(pairs=tuple(c.pair for c in children),
                          spans=tuple(c.span for c in children))  # fmt: skip

    @v_args(meta=True)
    def rename_as(self, meta: Any, children: list[tuple[str, int]]) -> _Clause:
        return _Clause((children[0][0], children[1][0]), (meta.start_pos, meta.end_pos))

    @v_args(meta=True)
    def rename_assign(self, meta: Any, children: list[tuple[str, int]]) -> _Clause:
        # new = old
        return _Clause((children[1][0], children[0][0]), (meta.start_pos, meta.end_pos))

    def stats_command(self, children: list[Any]) -> ast.Stats:
        inline = isinstance(children[0], Token) and children[0].type in ("INLINE", "INLINESTATS")
        rest = [c for c in children if not isinstance(c, Token)]
        aggregates: tuple[ast.Aggregate, ...] = ()
        groups: tuple[ast.Assign, ...] = ()
        for item in rest:
            if item and isinstance(item[0], ast.Aggregate):
                aggregates = tuple(item)
            else:
                groups = tuple(item)
        return ast.Stats(aggregates=aggregates, groups=groups, inline=inline)

    def agg_fields(self, children: list[ast.Aggregate]) -> list[ast.Aggregate]:
        return children

    def agg_field(self, children: list[Any]) -> ast.Aggregate:
        field: ast.Assign = children[0]
        where = children[1] if len(children) > 1 else None
        return ast.Aggregate(name=field.name, expr=field.expr, where=where)

    def sort_command(self, children: list[ast.Order]) -> ast.Sort:
        return ast.Sort(orders=tuple(children))

    def order(self, children: list[Any]) -> ast.Order:
        expr = children[0]
        descending = False
        nulls_first: bool | None = None
        for token in children[1:]:
            if token.type == "ORDERING":
                descending = str(token).lower() == "desc"
            else:
                nulls_first = str(token).lower() == "first"
        return ast.Order(expr=expr, descending=descending, nulls_first=nulls_first)

    def limit_command(self, children: list[Token]) -> ast.Limit:
        return ast.Limit(count=int(children[0]))

    def mv_expand_command(self, children: list[Any]) -> ast.MvExpand:
        return ast.MvExpand(field=children[0].name, pos=children[0].pos)

    def grok_command(self, children: list[Any]) -> ast.Grok:
        patterns = [c.value for c in children[1:]]
        if len(patterns) == 1:
            return ast.Grok(input=children[0], pattern=patterns[0])
        # Several patterns: the first that matches, as Elasticsearch combines them.
        return ast.Grok(input=children[0], pattern="|".join(f"(?:{p})" for p in patterns))

    def dissect_command(self, children: list[Any]) -> ast.Dissect:
        separator = ""
        if len(children) > 2:
            separator = children[2]
        return ast.Dissect(input=children[0], pattern=children[1].value, append_separator=separator)

    def dissect_option(self, children: list[Any]) -> str:
        name, value = children
        if str(name).lower() != "append_separator":
            raise _Located(f"Invalid option for dissect: [{name}]", name.start_pos or 0)
        return str(value.value)

    def completion_command(self, children: list[Any]) -> ast.Completion:
        options = children[-1]
        prompt = children[-2]
        target = children[0].name if len(children) == 3 else "completion"
        return ast.Completion(target=target, prompt=prompt, options=options)

    def enrich_command(self, children: list[Any]) -> ast.Enrich:
        policy = str(children[0])
        on = None
        clauses: list[tuple[str, str]] = []
        for item in children[1:]:
            if isinstance(item, ast.Field):
                on = item.name
            else:
                clauses.append(item)
        return ast.Enrich(policy=policy, on=on, with_=tuple(clauses))

    def enrich_clause(self, children: list[ast.Field]) -> tuple[str, str]:
        return (children[0].name, children[-1].name)

    def lookup_join_command(self, children: list[Any]) -> ast.LookupJoin:
        return ast.LookupJoin(index=children[0], on=tuple(f.name for f in children[1:]))

    # ---- fields --------------------------------------------------------------------------

    def fields(self, children: list[ast.Assign]) -> tuple[ast.Assign, ...]:
        return tuple(children)

    @v_args(meta=True)
    def field(self, meta: Any, children: list[Any]) -> ast.Assign:
        # Elasticsearch names an unnamed expression by its text as written, and a bare column
        # by its name (backquotes gone).
        expr = children[0]
        name = (
            expr.name if isinstance(expr, ast.Field) else self.text[meta.start_pos : meta.end_pos]
        )
        return ast.Assign(name=name, expr=expr)

    def named_field(self, children: list[Any]) -> ast.Assign:
        return ast.Assign(name=children[0].name, expr=children[1])

    # ---- expressions ---------------------------------------------------------------------

    def or_(self, children: list[Any]) -> ast.Or:
        return ast.Or(left=children[0], right=children[1])

    def and_(self, children: list[Any]) -> ast.And:
        return ast.And(left=children[0], right=children[1])

    def not_(self, children: list[Any]) -> ast.Not:
        return ast.Not(expr=children[-1])

    def in_(self, children: list[Any]) -> ast.In:
        negated = isinstance(children[1], Token) and children[1].type == "NOT"
        values = children[2:] if negated else children[1:]
        return ast.In(expr=children[0], values=tuple(values), negated=negated)

    def is_null(self, children: list[Any]) -> ast.IsNull:
        return ast.IsNull(expr=children[0], negated=len(children) > 1)

    def like(self, children: list[Any]) -> ast.Like:
        expr, *rest = children
        negated = rest[0].type == "NOT"
        if negated:
            rest = rest[1:]
        regex = rest[0].type == "RLIKE"
        patterns = rest[1:]
        if all(isinstance(p, ast.Literal) and isinstance(p.value, str) for p in patterns):
            return ast.Like(
                expr=expr,
                patterns=tuple(p.value for p in patterns),
                regex=regex,
                negated=negated,
            )
        # A pattern computed from constants (CONCAT("a", "*"), a name EVAL set to one).
        return ast.Like(expr=expr, patterns=(), computed=tuple(patterns), regex=regex,
                        negated=negated)  # fmt: skip

    def match(self, children: list[Any]) -> ast.Match:
        field, value = children
        if isinstance(value, ast.Literal) and not isinstance(value.value, tuple):
            return ast.Match(field=field, value=value.value)
        raise _Located("the match operator ':' takes a single constant", 0)

    def comparison(self, children: list[Any]) -> ast.Comparison:
        left, op, right = children
        return ast.Comparison(op=str(op), left=left, right=right)  # type: ignore[arg-type]

    def arithmetic(self, children: list[Any]) -> ast.Arithmetic:
        left, op, right = children
        return ast.Arithmetic(op=str(op), left=left, right=right)  # type: ignore[arg-type]

    def unary(self, children: list[Any]) -> ast.Expr:
        op, expr = children
        if str(op) == "+":
            return expr  # type: ignore[no-any-return]
        value = expr.value if isinstance(expr, ast.Literal) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return ast.Literal(value=-value)
        return ast.Negate(expr=expr)

    def cast(self, children: list[Any]) -> ast.Cast:
        return ast.Cast(expr=children[0], type=str(children[1]).lower())

    def call(self, children: list[Any]) -> ast.Call:
        name = str(children[0]).lower()
        if len(children) == 1:
            return ast.Call(name=name)
        if isinstance(children[1], Token):  # STAR
            return ast.Call(name=name, star=True)
        args, options = children[1]
        if name == "kql":
            self._check_kql(children[0], args)
        return ast.Call(name=name, args=args, options=options)

    def args(self, children: list[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        if children and isinstance(children[-1], _Map):
            return tuple(children[:-1]), children[-1].entries
        return tuple(children), ()

    def map(self, children: list[tuple[str, ast.Scalar]]) -> _Map:
        return _Map(tuple(children))

    def entry(self, children: list[Any]) -> tuple[str, ast.Scalar]:
        key, value = children
        return (key.value, value.value)

    @v_args(meta=True)
    def qualified_name(self, meta: Any, children: list[Token]) -> ast.Field:
        return ast.Field(name=".".join(_name(t) for t in children), pos=meta.start_pos)

    def null(self, _: list[Any]) -> ast.Literal:
        return ast.Literal(value=None)

    def true(self, _: list[Any]) -> ast.Literal:
        return ast.Literal(value=True)

    def false(self, _: list[Any]) -> ast.Literal:
        return ast.Literal(value=False)

    def integer(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(value=int(children[0]))

    def decimal(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(value=float(children[0]))

    def timespan(self, children: list[Token]) -> ast.TimeSpan:
        value, unit = children
        canonical = TIME_UNITS.get(str(unit).lower())
        if canonical is None:
            raise _Located(f"Unexpected temporal unit: '{unit}'", unit.start_pos or 0)
        return ast.TimeSpan(value=int(value), unit=canonical)

    def string(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(value=_string(children[0]))

    def param(self, children: list[Token]) -> ast.Param:
        return ast.Param(name=str(children[0])[1:])

    def array(self, children: list[Any]) -> ast.Literal:
        values: list[ast.Scalar] = []
        for item in children:
            if isinstance(item, ast.Literal) and not isinstance(item.value, tuple):
                values.append(item.value)
            elif isinstance(item, Token):
                values.append(str(item).lower() == "true")
        return ast.Literal(value=tuple(values))

    def signed(self, children: list[Token]) -> ast.Literal:
        sign = -1 if str(children[0]) == "-" else 1
        digits = str(children[-1])
        number: int | float = float(digits) if children[-1].type == "DECIMAL" else int(digits)
        return ast.Literal(value=sign * number)

    def _check_kql(self, name: Token, args: tuple[Any, ...]) -> None:
        from runner.kql import parse_kql

        if len(args) != 1 or not isinstance(args[0], ast.Literal):
            raise _Located("KQL() takes one string constant", name.start_pos or 0)
        try:
            parse_kql(str(args[0].value))
        except QueryError as exc:
            raise _Located(f"KQL() query: {exc.reason}", name.start_pos or 0) from None


class _Clause:
    __slots__ = ("pair", "span")

    def __init__(self, pair: tuple[str, str], span: tuple[int, int]) -> None:
        self.pair = pair
        self.span = span


class _Map:
    __slots__ = ("entries",)

    def __init__(self, entries: tuple[tuple[str, ast.Scalar], ...]) -> None:
        self.entries = entries


@functools.cache
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_esql(text: str) -> ast.Query:
    """Parse an ES|QL query; raises :class:`QueryError` (1-based line/column) when invalid."""
    try:
        tree: Tree[Token] = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        query: ast.Query = _ToAst(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, _Located):
            line, column = _position(text, exc.orig_exc.offset)
            raise QueryError(exc.orig_exc.message, query=text, line=line, column=column) from None
        raise
    verify(query)
    return query


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _expected(exc: UnexpectedInput, fallback: Iterable[str]) -> str:
    interactive = getattr(exc, "interactive_parser", None)
    names: Iterable[str] = interactive.accepts() if interactive is not None else fallback
    shown = {_EXPECTED_NAMES.get(n, n.lstrip("_").upper()) for n in names}
    return ", ".join(sorted(shown))


def _syntax_error(text: str, exc: UnexpectedInput) -> QueryError:
    if isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        char = text[offset : offset + 1]
        if char == '"':
            message = "unterminated string: no closing '\"' on this line"
        else:
            message = f"mismatched input '{char}' expecting {_expected(exc, exc.allowed)}"
    elif isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        offset = exc.token.start_pos if exc.token.start_pos is not None else 0
        message = f"mismatched input '{exc.token}' expecting {_expected(exc, exc.expected)}"
    else:
        offset = len(text.rstrip())
        expected = getattr(exc, "expected", None) or ()
        message = f"mismatched input '<EOF>' expecting {_expected(exc, expected)}"
    line, column = _position(text, offset)
    return QueryError(message, query=text, line=line, column=column)
