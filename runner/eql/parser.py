"""Parse Elasticsearch EQL into the typed tree of :mod:`runner.eql.ast`.

The grammar (``grammar.lark``) follows Elasticsearch's own; this module builds the tree while
lark parses (LALR with an embedded transformer: no intermediate parse tree) and applies the checks
Elasticsearch makes after parsing, with the same wording where Elasticsearch has one: known
functions and arities, field-to-field comparisons, ``maxspan`` units, ``runs``, missing events,
join-key counts and the ``head`` / ``tail`` pipes.  Every error is a
:class:`~runner.errors.QueryError` with the 1-based line and column of the offending text.

Normalisations (all value-preserving): function names take their documented spelling, ``-`` in
front of a number literal is folded into a negative literal, unary ``+`` is dropped, a written
chain ``a and b and c`` is one n-ary ``And`` (``Or`` alike), and parentheses leave no node of
their own (though ``(a or b) or c`` keeps its nesting).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple, NoReturn, cast

from lark import Lark, Token, Transformer
from lark.common import LexerConf
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer
from lark.parsers.lalr_analysis import Shift

from runner.eql import ast
from runner.eql.functions import lookup, suggest
from runner.errors import QueryError
from runner.grammars import cached_lark

__all__ = ["parse_eql"]

_GRAMMAR = "grammar.lark"  # shipped inside the package, beside this module

_MAX_RUNS = 100  # Elasticsearch's documented upper bound for `with runs=N`
_LONG_MAX = 2**63 - 1
_TIME_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_COMPARE_OPS: dict[str, ast.CompareOp] = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_ARITHMETIC_OPS: dict[str, ast.ArithmeticOp] = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
_STRING_ESCAPES = {
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
# Pipes Elasticsearch recognises (for "did you mean"); only head and tail are implemented there.
_KNOWN_PIPES = ("count", "filter", "head", "sort", "tail", "unique", "unique_count")
_TERMINAL_NAMES = {
    "$END": "end of query",
    "IDENT": "identifier",
    "QUOTED_IDENT": "`quoted identifier`",
    "TILDE_IDENT": "function~",
    "STRING": "string",
    "RAW_STRING": '"""raw string"""',
    "SQ_STRING": "string",
    "QMARK_STRING": "string",
    "INT": "integer",
    "DECIMAL": "decimal",
}

Message = str | Callable[[str], str]  # a callable words the message from the query text


class _ProblemError(Exception):
    """A rejected query part: the message and the character offset it points at."""

    def __init__(self, message: Message, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class _X(NamedTuple):
    """An expression with the character span it was parsed from (for error messages)."""

    node: ast.Expr
    start: int
    end: int
    grouped: bool = False  # written in parentheses: `(a or b) or c` keeps its nesting


@dataclass(frozen=True, slots=True)
class _Keys:
    fields: tuple[ast.Field, ...]
    start: int  # offset of `by`


@dataclass(frozen=True, slots=True)
class _Header:
    keys: tuple[ast.Field, ...]
    maxspan_ms: int | None


@dataclass(frozen=True, slots=True)
class _Subquery:
    query: ast.EventQuery
    missing: bool
    start: int


@dataclass(frozen=True, slots=True)
class _Term:
    stage: ast.Stage
    start: int
    keys: _Keys | None


@dataclass(frozen=True, slots=True)
class _Until:
    term: _Term


@dataclass(frozen=True, slots=True)
class _Runs:
    count: int


@dataclass(frozen=True, slots=True)
class _Predicate:
    kind: str  # the operator's terminal name: IN, IN_I, COLON, LIKE, LIKE_I, REGEX, REGEX_I
    negated: bool
    values: tuple[_X, ...]
    end: int


@dataclass(frozen=True, slots=True)
class _Statement:
    body: ast.Body
    pipes: tuple[ast.Pipe, ...]


def parse_eql(text: str) -> ast.Query:
    """Parse one EQL query as Elasticsearch would; raise :class:`QueryError` if it would not."""
    try:
        statement = cast(_Statement, _lark().parse(text))
    except _ProblemError as problem:
        raise _query_error(text, problem.message, problem.offset) from None
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    return ast.Query(body=statement.body, pipes=statement.pipes, text=text)


@cache
def _lark() -> Lark:
    # Built once per process: compiling the LALR tables is the expensive part.
    return cached_lark(
        resources.files("runner.eql").joinpath(_GRAMMAR).read_text("utf-8"),
        parser="lalr",
        lexer=_Lexer,
        transformer=_Builder(),
        lexer_callbacks={"SQ_STRING": _reject_single_quotes, "QMARK_STRING": _reject_qmark},
    )


# ---- lexer --------------------------------------------------------------------------------------


class _Lexer(Lexer):
    """lark's basic lexer, trimmed for speed; it reads its tokens from ``grammar.lark``.

    Same rules as lark's: the first terminal in (priority, width) order wins, and a keyword that
    a same-priority pattern also matches (``and`` / identifier) is re-typed to the keyword.  It
    skips line/column bookkeeping (errors are placed from character offsets), which is most of
    lark's per-token cost when parsing thousands of rules.
    """

    def __init__(self, conf: LexerConf) -> None:
        terminals = sorted(
            conf.terminals,
            key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
        )
        patterns = [t for t in terminals if t.pattern.type == "re"]
        self._keywords: dict[str, dict[str, str]] = {}
        scanned = []
        for terminal in terminals:
            if terminal.pattern.type == "str":
                owner = next(
                    (
                        p
                        for p in patterns
                        if p.priority == terminal.priority
                        and re.fullmatch(p.pattern.to_regexp(), terminal.pattern.value)
                    ),
                    None,
                )
                if owner is not None:
                    self._keywords.setdefault(owner.name, {})[terminal.pattern.value] = (
                        terminal.name
                    )
                    continue
            scanned.append(terminal)
        self._scanner = re.compile(
            "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in scanned)
        )
        self._ignore = frozenset(conf.ignore)
        self._callbacks = dict(conf.callbacks)

    def lex(self, data: str) -> Iterator[Token]:  # type: ignore[override]
        match = self._scanner.match
        ignore, keywords, callbacks = self._ignore, self._keywords, self._callbacks
        pos, size = 0, len(data)
        while pos < size:
            found = match(data, pos)
            if found is None or found.end() == pos:
                raise _ProblemError(_bad_character(data, pos), pos)
            kind = found.lastgroup or ""
            end = found.end()
            if kind not in ignore:
                value = found.group()
                if kind in keywords:
                    kind = keywords[kind].get(value, kind)
                token = Token(kind, value, start_pos=pos, end_pos=end)
                yield callbacks[kind](token) if kind in callbacks else token
            pos = end


# ---- lexer callbacks ----------------------------------------------------------------------------


def _reject_single_quotes(token: Token) -> Token:
    raise _ProblemError(
        "Use double quotes [\"] to define string literals, not single quotes [']", _start(token)
    )


def _reject_qmark(token: Token) -> Token:
    raise _ProblemError(
        f'Use triple double quotes ["""] to define unescaped string literals, '
        f"not [?{token.value[1]}]",
        _start(token),
    )


# ---- tree building ------------------------------------------------------------------------------


class _Builder(Transformer[Token, Any]):
    """Lark callbacks, one per grammar rule; stateless, so one instance serves every parse."""

    # -- statement ---------------------------------------------------------------------------

    def start(self, children: list[Any]) -> _Statement:
        body = cast(ast.Body, children[0])
        return _Statement(body=body, pipes=tuple(cast(list[ast.Pipe], children[1:])))

    def pipe(self, children: list[Any]) -> ast.Pipe:
        name = cast(Token, children[0])
        args = cast(list[_X], children[1] if len(children) > 1 else [])
        kind = name.value
        if kind not in ("head", "tail"):
            if kind in _KNOWN_PIPES:
                raise _ProblemError(f"Pipe [{kind}] is not supported", _start(name))
            message = f"Unrecognized pipe [{kind}]"
            similar = difflib.get_close_matches(kind, _KNOWN_PIPES, n=3, cutoff=0.7)
            if similar:
                message += f", did you mean {_did_you_mean(similar)}?"
            raise _ProblemError(message, _start(name))
        if len(args) != 1:
            raise _ProblemError(
                f"Pipe [{kind}] expects exactly one argument but found [{len(args)}]", _start(name)
            )
        arg = args[0]
        count = arg.node.value if isinstance(arg.node, ast.Literal) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _ProblemError(
                _quoting(f"Pipe [{kind}] expects a positive integer but found [{{}}]", arg),
                arg.start,
            )
        return ast.Pipe(kind="head" if kind == "head" else "tail", count=count)

    # -- event queries -----------------------------------------------------------------------

    def event_query(self, children: list[Any]) -> ast.EventQuery:
        return cast(ast.EventQuery, children[0])

    def event_filter(self, children: list[Any]) -> ast.EventQuery:
        category = cast(str | None, children[0])
        condition = cast(_X, children[1])
        return ast.EventQuery(category=category, condition=condition.node)

    def category(self, children: list[Any]) -> str | None:
        token = cast(Token, children[0])
        if token.type == "ANY":
            return None
        if token.type == "IDENT":
            return str(token)
        return _string_value(token)

    # -- sequences and samples ---------------------------------------------------------------

    def sequence(self, children: list[Any]) -> ast.SequenceQuery:
        header = _Header(keys=(), maxspan_ms=None)
        terms: list[_Term] = []
        until: _Term | None = None
        for child in children:
            if isinstance(child, _Header):
                header = child
            elif isinstance(child, _Term):
                terms.append(child)
            elif isinstance(child, _Until):
                until = child.term
        total = sum(term.stage.runs for term in terms)
        if total < 2:
            raise _ProblemError(
                f"A sequence requires a minimum of 2 queries, found [{total}]", terms[0].start
            )
        _check_key_counts([*terms, *([until] if until else [])])
        missing = [term for term in terms if term.stage.missing]
        if missing and header.maxspan_ms is None:
            raise _ProblemError(
                "A sequence with missing events (![...]) requires [with maxspan]",
                missing[0].start,
            )
        if len(missing) == len(terms):
            raise _ProblemError(
                "A sequence requires at least one positive event query, not only missing events",
                terms[0].start,
            )
        if until is not None and until.stage.missing:
            raise _ProblemError("A missing event (![...]) cannot be used with [until]", until.start)
        return ast.SequenceQuery(
            keys=header.keys,
            maxspan_ms=header.maxspan_ms,
            stages=tuple(term.stage for term in terms),
            until=until.stage if until else None,
        )

    def header_by(self, children: list[Any]) -> _Header:
        return _Header(keys=cast(_Keys, children[0]).fields, maxspan_ms=None)

    def header_by_with(self, children: list[Any]) -> _Header:
        return _Header(keys=cast(_Keys, children[0]).fields, maxspan_ms=cast(int, children[1]))

    def header_with(self, children: list[Any]) -> _Header:
        return _Header(keys=(), maxspan_ms=cast(int, children[0]))

    def header_with_by(self, children: list[Any]) -> NoReturn:
        raise _ProblemError(
            "Please specify sequence [by] before [with] not after", cast(_Keys, children[1]).start
        )

    def seq_params(self, children: list[Any]) -> int:
        number = cast(Token, children[0])
        unit = cast(Token | None, children[1] if len(children) > 1 else None)
        if number.type != "INT":
            raise _ProblemError(
                f"Decimal time interval [{number.value}] not supported; "
                "please use a positive integer",
                _start(number),
            )
        value = int(number.value)
        if value <= 0:
            raise _ProblemError(
                f"A positive maxspan value is required; found [{value}]", _start(number)
            )
        if unit is None:
            raise _ProblemError(
                f"No time unit specified, did you mean [s] as in [{value}s]?", _start(number)
            )
        if unit.value not in _TIME_UNITS_MS:
            raise _ProblemError(
                f"Unrecognized time unit [{unit.value}] in [{number.value}{unit.value}], "
                "please specify one of [ms, s, m, h, d]",
                _start(unit),
            )
        return value * _TIME_UNITS_MS[unit.value]

    def seq_term(self, children: list[Any]) -> _Term:
        subquery = cast(_Subquery, children[0])
        keys: _Keys | None = None
        runs = 1
        for child in children[1:]:
            if isinstance(child, _Keys):
                keys = child
            elif isinstance(child, _Runs):
                runs = child.count
        stage = ast.Stage(
            query=subquery.query,
            keys=keys.fields if keys else (),
            runs=runs,
            missing=subquery.missing,
        )
        return _Term(stage=stage, start=subquery.start, keys=keys)

    def stage_option(self, children: list[Any]) -> _Runs:
        name = cast(Token, children[0])
        number = cast(Token, children[1])
        if name.value != "runs":
            raise _ProblemError(
                f"Unrecognized option [{name.value}] for a sequence query, expected [runs]",
                _start(name),
            )
        count = int(number.value) if number.type == "INT" else None
        if count is None or not 1 <= count <= _MAX_RUNS:
            raise _ProblemError(
                f"The [runs] value must be an integer between 1 and {_MAX_RUNS}; "
                f"found [{number.value}]",
                _start(number),
            )
        return _Runs(count=count)

    def until(self, children: list[Any]) -> _Until:
        return _Until(term=cast(_Term, children[0]))

    def sample(self, children: list[Any]) -> ast.SampleQuery:
        keys: tuple[ast.Field, ...] = ()
        terms: list[_Term] = []
        for child in children:
            if isinstance(child, _Keys):
                keys = child.fields
            else:
                terms.append(cast(_Term, child))
        if len(terms) < 2:
            raise _ProblemError(
                f"A sample requires a minimum of 2 queries, found [{len(terms)}]", terms[0].start
            )
        for term in terms:
            if term.stage.missing:
                raise _ProblemError(
                    "Missing events (![...]) are not supported in samples", term.start
                )
        _check_key_counts(terms)
        return ast.SampleQuery(keys=keys, stages=tuple(term.stage for term in terms))

    def sample_term(self, children: list[Any]) -> _Term:
        subquery = cast(_Subquery, children[0])
        keys = cast(_Keys | None, children[1] if len(children) > 1 else None)
        stage = ast.Stage(
            query=subquery.query, keys=keys.fields if keys else (), missing=subquery.missing
        )
        return _Term(stage=stage, start=subquery.start, keys=keys)

    def join_query(self, children: list[Any]) -> NoReturn:
        raise _ProblemError(
            "Queries with [join] are not supported; use [sequence] or [sample]",
            _start(cast(Token, children[0])),
        )

    def subquery(self, children: list[Any]) -> _Subquery:
        bracket = cast(Token, children[0])
        query = cast(ast.EventQuery, children[1])
        return _Subquery(query=query, missing=bracket.type == "MISSING_OPEN", start=_start(bracket))

    def join_keys(self, children: list[Any]) -> _Keys:
        by = cast(Token, children[0])
        fields: list[ast.Field] = []
        for key in cast(list[_X], children[1]):
            if not isinstance(key.node, ast.Field):
                raise _ProblemError(
                    _quoting("Join keys must be fields; found [{}]", key), key.start
                )
            fields.append(key.node)
        return _Keys(fields=tuple(fields), start=_start(by))

    # -- lists (left-recursive rules: the first child is the list built so far) ---------------

    def exprs(self, children: list[Any]) -> list[Any]:
        if len(children) == 1:
            return children
        items = cast(list[Any], children[0])
        items.append(children[1])
        return items

    in_values = constants = path = exprs

    # -- boolean logic -----------------------------------------------------------------------

    def or_(self, children: list[Any]) -> _X:
        left, right = cast(tuple[_X, _X], tuple(children))
        terms: tuple[ast.Expr, ...]
        if isinstance(left.node, ast.Or) and not left.grouped:
            terms = (*left.node.terms, right.node)
        else:
            terms = (left.node, right.node)
        return _X(ast.Or(terms=terms), left.start, right.end)

    def and_(self, children: list[Any]) -> _X:
        left, right = cast(tuple[_X, _X], tuple(children))
        terms: tuple[ast.Expr, ...]
        if isinstance(left.node, ast.And) and not left.grouped:
            terms = (*left.node.terms, right.node)
        else:
            terms = (left.node, right.node)
        return _X(ast.And(terms=terms), left.start, right.end)

    def not_(self, children: list[Any]) -> _X:
        operand = cast(_X, children[1])
        return _X(ast.Not(expr=operand.node), _start(cast(Token, children[0])), operand.end)

    def relationship(self, children: list[Any]) -> NoReturn:
        raise _ProblemError(
            "Process relationships are not supported", _start(cast(Token, children[0]))
        )

    # -- comparisons and predicates ----------------------------------------------------------

    def comparison(self, children: list[Any]) -> _X:
        left, op, right = cast(tuple[_X, Token, _X], tuple(children))
        if _needs_field(left.node) and _needs_field(right.node):
            # Elasticsearch can only compare an expression with a constant.
            raise _ProblemError(
                _quoting(
                    "Comparisons against fields are not (currently) supported; "
                    f"offender [{{}}] in [{op.value}]",
                    right,
                ),
                right.start,
            )
        node = ast.Comparison(op=_COMPARE_OPS[op.value], left=left.node, right=right.node)
        return _X(node, left.start, right.end)

    def predicated(self, children: list[Any]) -> _X:
        subject = cast(_X, children[0])
        predicate = cast(_Predicate, children[1])
        span = (subject.start, predicate.end)
        patterns = tuple(_literal(v) for v in predicate.values)
        node: ast.Expr
        match predicate.kind:
            case "IN" | "IN_I":
                for value in predicate.values:
                    _check_list_value(value, span)
                node = ast.In(
                    expr=subject.node,
                    values=patterns,
                    insensitive=predicate.kind == "IN_I",
                    negated=predicate.negated,
                )
            case "COLON":
                node = ast.InsensitiveEquals(expr=subject.node, patterns=patterns)
            case "LIKE" | "LIKE_I":
                node = ast.Like(
                    expr=subject.node, patterns=patterns, insensitive=predicate.kind == "LIKE_I"
                )
            case _:
                node = ast.Regex(
                    expr=subject.node, patterns=patterns, insensitive=predicate.kind == "REGEX_I"
                )
        return _X(node, *span)

    def predicated_parens(self, children: list[Any]) -> _X:
        return self.predicated([self.parens(children[:2]), children[2]])

    def in_(self, children: list[Any]) -> _Predicate:
        negated = cast(Token, children[0]).type == "NOT"
        operator = cast(Token, children[-3])
        values = tuple(cast(list[_X], children[-2]))
        end = _end(cast(Token, children[-1]))
        return _Predicate(kind=operator.type, negated=negated, values=values, end=end)

    def match(self, children: list[Any]) -> _Predicate:
        operator = cast(Token, children[0])
        if len(children) == 2:  # a single constant
            value = cast(_X, children[1])
            return _Predicate(kind=operator.type, negated=False, values=(value,), end=value.end)
        values = tuple(cast(list[_X], children[1]))
        end = _end(cast(Token, children[2]))
        return _Predicate(kind=operator.type, negated=False, values=values, end=end)

    # -- arithmetic --------------------------------------------------------------------------

    def arithmetic(self, children: list[Any]) -> _X:
        left, op, right = cast(tuple[_X, Token, _X], tuple(children))
        node = ast.Arithmetic(op=_ARITHMETIC_OPS[op.value], left=left.node, right=right.node)
        return _X(node, left.start, right.end)

    def unary(self, children: list[Any]) -> _X:
        sign = cast(Token, children[0])
        operand = cast(_X, children[1])
        if sign.type == "PLUS":
            return operand._replace(start=_start(sign))
        node: ast.Expr
        value = operand.node.value if isinstance(operand.node, ast.Literal) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            node = ast.Literal(value=-value)
        else:
            node = ast.Negate(expr=operand.node)
        return _X(node, _start(sign), operand.end)

    # -- primaries ---------------------------------------------------------------------------

    def parens(self, children: list[Any]) -> _X:
        return cast(_X, children[0])._replace(grouped=True)

    def call(self, children: list[Any]) -> _X:
        name = cast(Token, children[0])
        args = tuple(cast(list[_X], children[1] if len(children) == 3 else []))
        insensitive = name.type == "TILDE_IDENT"
        written = name.value[:-1] if insensitive else name.value
        spec = lookup(written)
        if spec is None:
            message = f"Unknown function [{written}]"
            similar = suggest(written)
            if similar:
                message += f", did you mean {_did_you_mean(similar)}?"
            raise _ProblemError(message, _start(name))
        if insensitive and not spec.case_aware:
            raise _ProblemError(
                f"Function [{spec.name}] does not support case-insensitive matching [~]",
                _start(name),
            )
        if not spec.accepts(len(args)):
            raise _ProblemError(
                f"Function [{spec.name}] expects {spec.arity_text()} but found [{len(args)}]",
                _start(name),
            )
        node = ast.Call(name=spec.name, args=tuple(a.node for a in args), insensitive=insensitive)
        return _X(node, _start(name), _end(cast(Token, children[-1])))

    def field(self, children: list[Any]) -> _X:
        optional = len(children) == 2
        parts = cast(list[Token], children[-1])
        names = [_unquote_identifier(t) for t in parts]
        first = cast(Token, children[0]) if optional else parts[0]
        if not all(names):
            raise _ProblemError("Field names cannot be empty", _start(first))
        node = ast.Field(name=".".join(names), optional=optional)
        return _X(node, _start(first), _end(parts[-1]))

    def constant(self, children: list[Any]) -> _X:
        token = cast(Token, children[0])
        value: ast.Scalar
        match token.type:
            case "NULL":
                value = None
            case "TRUE":
                value = True
            case "FALSE":
                value = False
            case "INT":
                number = int(token.value)
                # Like Elasticsearch: integers beyond a long quietly become doubles.
                value = number if number <= _LONG_MAX else float(token.value)
            case "DECIMAL":
                value = float(token.value)
                if value in (float("inf"), float("-inf")):
                    raise _ProblemError(f"Number [{token.value}] is too large", _start(token))
            case _:
                value = _string_value(token)
        return _X(ast.Literal(value=value), _start(token), _end(token))

    def number(self, children: list[Any]) -> Token:
        return cast(Token, children[0])


# ---- helpers ------------------------------------------------------------------------------------


def _start(token: Token) -> int:
    return token.start_pos or 0


def _end(token: Token) -> int:
    return token.end_pos or 0


def _quoting(template: str, expr: _X) -> Callable[[str], str]:
    """A message that quotes ``expr``'s source text at the ``{}`` in ``template``."""
    before, _, after = template.partition("{}")
    return lambda text: f"{before}{text[expr.start : expr.end]}{after}"


def _did_you_mean(names: Sequence[str]) -> str:
    return f"[{names[0]}]" if len(names) == 1 else f"any of [{', '.join(names)}]"


def _needs_field(node: ast.Expr) -> bool:
    """True if ``node`` reads a field that must exist, so it can never fold to a constant.

    Optional fields (``?x``) may be missing from the mapping and then fold to null, which is why
    Elasticsearch's own suite accepts ``?x == ?y``.
    """
    match node:
        case ast.Field():
            return not node.optional
        case ast.Literal():
            return False
        case ast.Comparison() | ast.Arithmetic():
            return _needs_field(node.left) or _needs_field(node.right)
        case ast.Not() | ast.Negate():
            return _needs_field(node.expr)
        case ast.And() | ast.Or():
            return any(_needs_field(t) for t in node.terms)
        case ast.Call():
            return any(_needs_field(a) for a in node.args)
        case _:
            return _needs_field(node.expr)


def _check_list_value(value: _X, span: tuple[int, int]) -> None:
    if isinstance(value.node, ast.Literal):
        return
    if _needs_field(value.node) or isinstance(value.node, ast.Field):
        start, end = span
        raise _ProblemError(
            lambda text: (
                "Comparisons against fields are not (currently) supported; "
                f"offender [{text[value.start : value.end]}] in [{text[start:end]}]"
            ),
            value.start,
        )
    raise _ProblemError(
        _quoting("Only literal values are supported in an [in] list; found [{}]", value),
        value.start,
    )


def _literal(value: _X) -> ast.Literal:
    # Non-literals only reach here for `in` lists, which _check_list_value rejects first.
    return value.node if isinstance(value.node, ast.Literal) else ast.Literal(value=None)


def _check_key_counts(terms: Sequence[_Term]) -> None:
    expected = len(terms[0].stage.keys)
    for term in terms[1:]:
        found = len(term.stage.keys)
        if found != expected:
            raise _ProblemError(
                "Inconsistent number of join keys specified; "
                f"expected [{expected}] but found [{found}]",
                term.keys.start if term.keys else term.start,
            )


def _unquote_identifier(token: Token) -> str:
    text = str(token)
    if token.type == "QUOTED_IDENT":
        return text[1:-1].replace("``", "`")
    return text


def _string_value(token: Token) -> str:
    text = str(token)
    if token.type == "RAW_STRING":
        return text[3:-3]
    body = text[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escape = body[i + 1]  # the lexer guarantees a character after the backslash
        if escape == "u":
            i = _unicode_escape(body, i, out, _start(token))
        else:
            # Unknown escapes stay verbatim (`\w`), as Elasticsearch keeps them.
            out.append(_STRING_ESCAPES.get(escape, "\\" + escape))
            i += 2
    return "".join(out)


def _unicode_escape(body: str, i: int, out: list[str], offset: int) -> int:
    """Decode ``\\uXXXX`` or ``\\u{X..}`` at ``body[i]``; return the index after it."""
    if body[i + 2] == "{":
        close = body.index("}", i + 3)
        digits = body[i + 3 : close]
        if not 2 <= len(digits) <= 8:
            raise _ProblemError(
                "Unicode sequence in curly braces should use [2-8] hex digits, "
                f"[{body[i : close + 1]}] has [{len(digits)}]",
                offset,
            )
        after = close + 1
    else:
        digits = body[i + 2 : i + 6]
        after = i + 6
    code = int(digits, 16)
    if code == 0:
        raise _ProblemError("Unicode sequence results in null", offset)
    if 0xD800 <= code <= 0xDFFF:
        raise _ProblemError(
            f"Invalid unicode character code, [{digits}] is a surrogate code", offset
        )
    if code > 0x10FFFF:
        raise _ProblemError(f"Invalid unicode character code [{digits}]", offset)
    out.append(chr(code))
    return after


# ---- errors -------------------------------------------------------------------------------------


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _query_error(text: str, message: Message, offset: int) -> QueryError:
    line, column = _position(text, offset)
    reason = message(text) if callable(message) else message
    return QueryError(reason, query=text, line=line, column=column)


def _syntax_error(text: str, exc: UnexpectedInput) -> QueryError:
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(text, exc)
    # Other lark errors (not expected with LALR): report at the start of the query.
    return _query_error(text, f"Invalid query: {exc}", 0)


def _bad_character(text: str, offset: int) -> str:
    char = text[offset]
    if char == '"':
        line_end = text.find("\n", offset + 1)
        rest = text[offset + 1 : None if line_end < 0 else line_end]
        if '"' not in rest:
            return "Unterminated string literal (strings cannot span lines)"
        return "Invalid escape sequence in string literal"
    if char == "'":
        return "Use double quotes [\"] to define string literals, not single quotes [']"
    if char == "`":
        return "Unterminated quoted identifier (missing closing backtick [`])"
    hints = {
        "&": "; use [and]",
        "!": "; use [not], [!=] or [![ ]] for a missing event",
        "~": "; [~] must directly follow a function name, [in], [like] or [regex]",
    }
    return f"Unexpected character [{char}]{hints.get(char, '')}"


def _unexpected_token(text: str, exc: UnexpectedToken) -> QueryError:
    token = exc.token
    expected = sorted({_describe_terminal(name) for name in _acceptable(exc)})
    if token.type == "$END":
        offset = len(text.rstrip())
        message = f"Unexpected end of query; expected {_one_of(expected)}"
        return _query_error(text, message, offset)
    offset = _start(token)
    value = token.value
    if token.type == "_ASGN":
        message = "[=] is not supported as an equal operator; use [==] or [:]"
    elif (index := _array_index(text, token)) is not None:
        return _query_error(text, "Array indexes are not supported", index)
    elif token.type != "IDENT" and value.isalpha() and "IDENT" in exc.expected:
        # A word the lexer typed as a keyword where a field name could stand.
        message = (
            f"[{value}] is a reserved keyword; to use it as a field name, "
            f"escape it with backticks: `{value}`"
        )
    else:
        message = f"Unexpected [{value}]; expected {_one_of(expected)}"
    return _query_error(text, message, offset)


def _acceptable(exc: UnexpectedToken) -> set[str]:
    """The terminals that could really come next.

    LALR merges states, so the table's list for the failing state (``exc.expected``) can name
    tokens that no query could continue with here; replaying the table's reductions on a copy of
    the state stack (no tree building) keeps only those the parser would end up shifting.
    """
    state = exc.state
    if state is None:
        return set(exc.expected)
    table = state.parse_conf.states
    end_state = state.parse_conf.end_state
    accepted = set()
    for terminal in exc.expected:
        stack = list(state.state_stack)
        while True:
            action, target = table[stack[-1]].get(terminal, (None, None))
            if action is None:
                break
            if action is Shift:
                accepted.add(terminal)
                break
            if size := len(target.expansion):
                del stack[-size:]
            stack.append(table[stack[-1]][target.origin.name][1])
            if terminal == "$END" and stack[-1] == end_state:
                accepted.add(terminal)
                break
    return accepted or set(exc.expected)


def _array_index(text: str, token: Token) -> int | None:
    """The offset of ``N`` if ``token`` is the ``[`` or ``N`` of a ``field[N]`` index."""
    offset = _start(token)
    if token.type == "LSQB":
        after = text[offset + 1 :].lstrip()
        if not after[:1].isdigit():
            return None
        bracket, index = offset, len(text) - len(after)
    elif token.type == "INT":
        before = text[:offset].rstrip()
        if not before.endswith("["):
            return None
        bracket, index = len(before) - 1, offset
    else:
        return None
    previous = text[:bracket].rstrip()[-1:]
    return index if previous.isalnum() or previous in "_`" else None


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name
    return pattern.value if pattern.type == "str" else name


def _one_of(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"[{names[0]}]"
    return "one of [" + ", ".join(names) + "]"
