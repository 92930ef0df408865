"""EQL conditions and expressions compiled to DuckDB SQL, with Elasticsearch's semantics.

Rules that shape the SQL (SEMANTICS §3):

* A comparison of a *field* with literals is what Elasticsearch turns into a query (term,
  wildcard, regexp, range...): on a multi-valued field it matches when **any** value matches.
  Anything else (functions, arithmetic, field against field) runs as a script, which reads a
  multi-valued field's first doc value, i.e. its smallest (keyword doc values are sorted
  bytewise, numbers numerically): here ``list_min``.
* Null propagates (three-valued logic): a comparison with a missing field is NULL, which never
  matches, not even under ``not``.  ``x == null`` / ``x != null`` test presence.
* ``==``, ``!=``, ``in``, ``like``, ``regex`` and ordering compare case-sensitively (strings
  compare bytewise, as keyword terms do); ``:``, ``like~``, ``in~``, ``regex~`` and ``fn~()``
  compare lower-cased values.
* A field no document has is NULL (``?field`` or not): the store has no mapping to reject it.
* The timestamp field compares as a date: string literals are parsed as Elasticsearch dates,
  numbers are epoch milliseconds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from runner.embedded.catalog import Catalog
from runner.embedded.dates import parse_es_date_ms
from runner.embedded.eql_functions import call
from runner.embedded.fields import date_ms_sql, quote_ident, sql_string
from runner.embedded.patterns import PatternError, lucene_to_re2, wildcard_to_like
from runner.embedded.values import NULL, NUMERIC, Kind, Value, as_text, literal_value
from runner.eql import ast
from runner.errors import QueryError

__all__ = ["EqlCompiler", "like_test"]


class EqlCompiler:
    """Compiles one query's expressions against the store's field catalog."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        query_text: str = "",
        timestamp_field: str = "@timestamp",
        event_category_field: str = "event.category",
    ) -> None:
        self.catalog = catalog
        self.query_text = query_text
        self.timestamp_field = timestamp_field
        self.event_category_field = event_category_field

    # -- errors -------------------------------------------------------------------------
    def error(self, message: str, hint: str | None = None) -> QueryError:
        line, column = 1, 1
        if hint and self.query_text:
            offset = self.query_text.find(hint)
            if offset >= 0:
                before = self.query_text[:offset]
                line = before.count("\n") + 1
                column = offset - (before.rfind("\n") + 1) + 1
        return QueryError(message, query=self.query_text, line=line, column=column)

    # -- fields ---------------------------------------------------------------------------
    def field(self, name: str) -> Value:
        if name == self.timestamp_field:
            if name == "@timestamp":
                return Value(sql="_ts", kind="date", is_field=True)
            info = self.catalog.get(name)
            if info is None:
                return NULL
            sql = (
                quote_ident(info.ms_column)
                if info.ms_column
                else date_ms_sql(quote_ident(info.column), info.is_list)
            )
            return Value(sql=sql, kind="date", is_field=True)
        info = self.catalog.get(name)
        if info is None:
            return NULL
        return Value(
            sql=quote_ident(info.column), kind=info.kind, multi=info.is_list, is_field=True
        )

    def event_type(self, category: str | None) -> str:
        """The ``<category> where`` part: the category is among the category field's values."""
        if category is None:
            return "true"
        column = self.field(self.event_category_field)
        if column.kind == "null":
            return "NULL"
        if column.kind == "keyword":
            return self._equals_any(column, [sql_string(category)])
        return self._any(column, lambda v: f"{as_text(v)} = {sql_string(category)}")

    # -- conditions ------------------------------------------------------------------------
    def condition(self, expr: ast.Expr) -> str:
        """SQL boolean (NULL when unknown) for a condition."""
        value = self.expr(expr)
        if value.kind == "bool":
            return f"list_bool_or({value.sql})" if value.multi else value.sql
        if value.kind == "null":
            return "NULL"
        raise self.error(f"condition must be a boolean, not a {value.kind} expression")

    def expr(self, expr: ast.Expr) -> Value:
        match expr:
            case ast.Field(name=name):
                return self.field(name)
            case ast.Literal(value=value):
                return literal_value(value)
            case ast.And(terms=terms):
                return Value(
                    sql="(" + " AND ".join(self.condition(t) for t in terms) + ")", kind="bool"
                )
            case ast.Or(terms=terms):
                return Value(
                    sql="(" + " OR ".join(self.condition(t) for t in terms) + ")", kind="bool"
                )
            case ast.Not(expr=inner):
                return Value(sql=f"(NOT {self.condition(inner)})", kind="bool")
            case ast.Comparison(op=op, left=left, right=right):
                return Value(
                    sql=self.comparison(op, self.expr(left), self.expr(right)), kind="bool"
                )
            case ast.InsensitiveEquals(expr=inner, patterns=patterns):
                return Value(sql=self.wildcards(self.expr(inner), patterns, True), kind="bool")
            case ast.Like(expr=inner, patterns=patterns, insensitive=ci):
                return Value(sql=self.wildcards(self.expr(inner), patterns, ci), kind="bool")
            case ast.Regex(expr=inner, patterns=patterns, insensitive=ci):
                return Value(sql=self.regex(self.expr(inner), patterns, ci), kind="bool")
            case ast.In(expr=inner, values=values, insensitive=ci, negated=negated):
                sql = self.membership(self.expr(inner), values, ci)
                return Value(sql=f"(NOT {sql})" if negated else sql, kind="bool")
            case ast.Arithmetic(op=op, left=left, right=right):
                return self.arithmetic(op, self.expr(left), self.expr(right))
            case ast.Negate(expr=inner):
                operand = self.numeric(self.expr(inner), "-")
                return Value(sql=f"(- {operand.sql})", kind=operand.kind)
            case ast.Call():
                return call(self, expr)
        raise self.error(f"unsupported expression {type(expr).__name__}")

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _any(value: Value, predicate: Callable[[Value], str]) -> str:
        """``predicate`` over a value; on a LIST true when any element satisfies it."""
        if not value.multi:
            return predicate(value)
        element = Value(sql="v", kind=value.kind)
        return f"list_bool_or(list_transform({value.sql}, lambda v: {predicate(element)}))"

    @staticmethod
    def _equals_any(value: Value, literals: Sequence[str]) -> str:
        """Equality with any of the literals (already in the value's type): set tests, which
        DuckDB runs much faster than a lambda over the LIST (and ``list_contains`` several
        times faster than ``list_has_any``)."""
        if not value.multi:
            if len(literals) == 1:
                return f"({value.sql} = {literals[0]})"
            return f"({value.sql} IN ({', '.join(literals)}))"
        tests = [f"list_contains({value.sql}, {literal})" for literal in literals]
        return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"

    def numeric(self, value: Value, what: str) -> Value:
        value = value.scalar()
        if value.kind in NUMERIC or value.kind == "null":
            return value
        if value.kind == "date":
            return Value(sql=value.sql, kind="long")
        if value.kind == "keyword":
            # Mixed-type fields are stored as text; their numbers still compute.
            return Value(sql=f"TRY_CAST({value.sql} AS DOUBLE)", kind="double")
        raise self.error(f"{what}: a number is required, not a {value.kind} value")

    def comparison(self, op: str, left: Value, right: Value) -> str:
        if left.kind == "null" or right.kind == "null":
            other = right if left.kind == "null" else left
            if other.kind == "null":
                if op == "==":
                    return "true"
                return "false" if op == "!=" else "NULL"
            if op == "==":
                return f"({other.sql} IS NULL)"
            if op == "!=":
                return f"({other.sql} IS NOT NULL)"
            return "NULL"
        if right.is_field and not left.is_field and left.is_literal:
            left, right, op = right, left, _FLIP[op]
        if left.is_field and right.is_literal:
            literal = self._coerce_literal(right, left)
            if op in ("==", "!=") and right.kind == left.kind and left.kind in ("keyword", "long"):
                found = self._equals_any(left, [literal])
                return found if op == "==" else f"(NOT {found})"

            def test(v: Value) -> str:
                if op == "!=":
                    return f"{v.sql} = {literal}"
                return f"{v.sql} {_SQL_OP[op]} {literal}"

            if op == "!=":
                # Elasticsearch: must_not(term) on a present field: no value equals it.
                return f"(NOT {self._any(left, test)})"
            return self._any(left, test)
        a, b = left.scalar(), right.scalar()
        a_sql, b_sql = self._comparable(a, b)
        return f"({a_sql} {_SQL_OP[op]} {b_sql})"

    def _coerce_literal(self, literal: Value, against: Value) -> str:
        """The literal's SQL in the field's type."""
        if against.kind == "date":
            if literal.kind == "keyword":
                assert literal.sql.startswith("'")
                text = literal.sql[1:-1].replace("''", "'")
                millis = parse_es_date_ms(text)
                if millis is None:
                    raise self.error(
                        f"cannot compare {self.timestamp_field} with {text!r}: not a date", text
                    )
                return f"{millis}::BIGINT"
            if literal.kind in NUMERIC:
                return literal.sql
        if against.kind in NUMERIC:
            if literal.kind in NUMERIC:
                return literal.sql
            if literal.kind == "keyword":
                return f"TRY_CAST({literal.sql} AS DOUBLE)"
            if literal.kind == "bool":
                return "NULL"
        if against.kind == "keyword":
            return as_text(literal)
        if against.kind == "bool":
            if literal.kind == "bool":
                return literal.sql
            if literal.kind == "keyword":
                return f"es_bool({literal.sql})"
            return "NULL"
        return literal.sql

    def _comparable(self, a: Value, b: Value) -> tuple[str, str]:
        numeric = {*NUMERIC, "date"}
        if a.kind in numeric and b.kind in numeric:
            return a.sql, b.sql
        if a.kind == b.kind:
            return a.sql, b.sql
        if a.kind in numeric and b.kind == "keyword":
            return a.sql, f"TRY_CAST({b.sql} AS DOUBLE)"
        if b.kind in numeric and a.kind == "keyword":
            return f"TRY_CAST({a.sql} AS DOUBLE)", b.sql
        return as_text(a), as_text(b)

    def _pattern_texts(self, patterns: Sequence[ast.Literal], what: str) -> list[str]:
        texts: list[str] = []
        for pattern in patterns:
            if not isinstance(pattern.value, str):
                raise self.error(f"{what} patterns must be strings, found {pattern.value!r}")
            texts.append(pattern.value)
        return texts

    def wildcards(self, value: Value, patterns: Sequence[ast.Literal], ci: bool) -> str:
        if value.kind == "null":
            return "NULL"
        texts = self._pattern_texts(patterns, "wildcard")
        if not value.is_field:
            value = value.scalar()

        def test(v: Value) -> str:
            subject = as_text(v)
            if ci:
                subject = f"lower({subject})"
            exact = [t for t in texts if "*" not in t and "?" not in t]
            wild = [t for t in texts if "*" in t or "?" in t]
            parts: list[str] = []
            if exact:
                items = ", ".join(sql_string(t.lower() if ci else t) for t in exact)
                parts.append(f"{subject} IN ({items})")
            for text in wild:
                parts.append(like_test(subject, wildcard_to_like(text.lower() if ci else text)))
            return "(" + " OR ".join(parts) + ")"

        return self._any(value, test)

    def regex(self, value: Value, patterns: Sequence[ast.Literal], ci: bool) -> str:
        if value.kind == "null":
            return "NULL"
        texts = self._pattern_texts(patterns, "regex")
        compiled: list[str] = []
        for text in texts:
            try:
                body = lucene_to_re2(text)
            except PatternError as exc:
                raise self.error(f"invalid regular expression {text!r}: {exc}", text) from None
            compiled.append(("(?i)" if ci else "") + body)
        if not value.is_field:
            value = value.scalar()

        def test(v: Value) -> str:
            subject = as_text(v)
            return (
                "("
                + " OR ".join(f"regexp_full_match({subject}, {sql_string(p)})" for p in compiled)
                + ")"
            )

        return self._any(value, test)

    def membership(self, value: Value, values: Sequence[ast.Literal], ci: bool) -> str:
        if value.kind == "null":
            return "NULL"
        literals = [literal_value(v.value) for v in values]
        present = [lit for lit in literals if lit.kind != "null"]
        wants_null = len(present) != len(literals)
        if not value.is_field:
            value = value.scalar()

        if (
            not ci
            and value.is_field
            and value.kind in ("keyword", "long")
            and present
            and all(lit.kind == value.kind for lit in present)
        ):
            sql = self._equals_any(value, [lit.sql for lit in present])
            return f"({sql} OR {value.sql} IS NULL)" if wants_null else sql

        def test(v: Value) -> str:
            if ci:
                subject = f"lower({as_text(v)})"
                items = [f"lower({as_text(lit)})" for lit in present]
            else:
                subject = v.sql
                items = [self._coerce_literal(lit, v) for lit in present]
            if not items:
                return "NULL"
            return f"{subject} IN ({', '.join(items)})"

        sql = self._any(value, test)
        if wants_null:
            sql = f"({sql} OR {value.sql} IS NULL)"
        return sql

    def arithmetic(self, op: str, left: Value, right: Value) -> Value:
        a, b = self.numeric(left, op), self.numeric(right, op)
        if a.kind == "null" or b.kind == "null":
            return Value(sql="NULL::DOUBLE", kind="double")
        integral = a.kind == "long" and b.kind == "long"
        kind: Kind = "long" if integral else "double"
        if op == "/":
            fn = "eql_idiv" if integral else "eql_fdiv"
            return Value(sql=f"{fn}({a.sql}, {b.sql})", kind=kind)
        if op == "%":
            return Value(sql=f"eql_mod({a.sql}, {b.sql})", kind=kind)
        return Value(sql=f"({a.sql} {op} {b.sql})", kind=kind)

    def cidr_ranges(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        ranges: list[tuple[str, str]] = []
        for text in texts:
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise self.error(f"invalid CIDR notation {text!r}", text) from None
            low, high = int(network.network_address), int(network.broadcast_address)
            if network.version == 4:
                low, high = low | 0xFFFF00000000, high | 0xFFFF00000000
            ranges.append((f"{low:032x}", f"{high:032x}"))
        return ranges


def like_test(subject: str, like: str) -> str:
    """SQL for ``subject LIKE like`` (escape character ``\\``), literal ends tested first.

    DuckDB runs a pattern with a wildcard inside it (``/a/%.plist``) through its general
    matcher; ruling most values out with ``starts_with``/``ends_with`` first is several times
    faster.  A match always has the pattern's literal prefix and suffix: same result.
    """
    test = f"{subject} LIKE {sql_string(like)} ESCAPE '\\'"
    tokens: list[tuple[bool, str]] = []  # (a wildcard?, character)
    escaped = False
    for ch in like:
        if escaped or ch != "\\":
            tokens.append((not escaped and ch in "%_", ch))
            escaped = False
        else:
            escaped = True
    wild = [i for i, (is_wild, _) in enumerate(tokens) if is_wild]
    if not wild or (
        len(wild) == 1 and tokens[wild[0]][1] == "%" and wild[0] in (0, len(tokens) - 1)
    ):
        return test  # no wildcard, or a plain prefix/suffix test DuckDB rewrites itself
    prefix = "".join(ch for _, ch in tokens[: wild[0]])
    suffix = "".join(ch for _, ch in tokens[wild[-1] + 1 :])
    checks = [f"starts_with({subject}, {sql_string(prefix)})"] if prefix else []
    checks += [f"ends_with({subject}, {sql_string(suffix)})"] if suffix else []
    return "(" + " AND ".join([*checks, test]) + ")" if checks else test


_SQL_OP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
