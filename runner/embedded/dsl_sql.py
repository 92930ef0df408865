"""Elasticsearch query DSL (the subset Kibana builds) compiled to SQL over the store.

Used for KQL (through the DSL Kibana would send, :func:`runner.kql.to_dsl`) and for the DSL
``filters`` of a request (rule filters, exceptions).  Every field is treated as Elasticsearch
treats an unanalysed ``keyword``, or a ``long``/``double``/``boolean`` when the store saw only
such values:

* ``term`` / ``match`` / ``match_phrase``: exact and case-sensitive (``case_insensitive``
  honoured); on a numeric field the value is parsed as a number; a multi-valued field matches
  when any value does.
* ``wildcard`` / ``prefix`` / ``query_string`` terms: ``*`` and ``?`` over the whole value,
  case-sensitive; a ``query_string`` of several whitespace-separated terms ORs them, as the
  default operator does (Kibana's wildcard values rely on it).
* ``range``: numeric when the field and bound are numeric; on the timestamp field dates and
  date math (``now-1d/d``) are compared as instants; otherwise the bound is compared as a string
  (keyword order).
* Query DSL is two-valued: a clause on a missing field is false, so ``must_not`` matches
  documents that lack the field (unlike EQL's ``not``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from runner.embedded.catalog import Catalog
from runner.embedded.dates import datetime_ms, parse_es_date_ms
from runner.embedded.eql_sql import EqlCompiler, like_test
from runner.embedded.fields import sql_string
from runner.embedded.patterns import PatternError, lucene_to_re2, wildcard_to_like
from runner.embedded.values import Value, as_text
from runner.errors import QueryError
from runner.timeutil import parse_datemath

__all__ = ["DslCompiler", "dsl_filter"]

Dsl = Mapping[str, Any]
_KEYWORD_EQUALS = re.compile(r"v = ('(?:[^']|'')*')")  # what equals() gives for a keyword term


def dsl_filter(catalog: Catalog, query: Dsl, *, now: datetime | None = None) -> str:
    """SQL (never NULL) true for documents the DSL query matches."""
    return DslCompiler(catalog, now=now).query(query)


class DslCompiler:
    def __init__(
        self,
        catalog: Catalog,
        *,
        now: datetime | None = None,
        timestamp_field: str = "@timestamp",
        query_text: str = "",
    ) -> None:
        self.catalog = catalog
        self.now = now or datetime.now(UTC)
        self.eql = EqlCompiler(catalog, timestamp_field=timestamp_field, query_text=query_text)
        self.query_text = query_text

    def error(self, message: str) -> QueryError:
        return QueryError(message, query=self.query_text, line=1, column=1)

    # -- structure --------------------------------------------------------------------------
    def query(self, query: Dsl) -> str:
        if not isinstance(query, Mapping) or len(query) != 1:
            raise self.error(f"a query must be an object with one clause, got {query!r}")
        ((kind, body),) = query.items()
        handler = _CLAUSES.get(kind)
        if handler is None:
            raise self.error(f"query clause [{kind}] is not supported by the embedded engine")
        return handler(self, body)

    def bool_(self, body: Dsl) -> str:
        def clauses(key: str) -> list[str]:
            value = body.get(key, [])
            items = value if isinstance(value, list) else [value]
            return [self.query(q) for q in items]

        must = clauses("must") + clauses("filter")
        should = clauses("should")
        must_not = clauses("must_not")
        parts = list(must)
        if should:
            default = 0 if must else 1
            minimum = _minimum_should_match(body.get("minimum_should_match", default), len(should))
            if minimum == 1:
                parts.append("(" + " OR ".join(should) + ")")
            elif minimum > 1:
                total = " + ".join(f"({s})::INT" for s in should)
                parts.append(f"(({total}) >= {minimum})")
        parts += [f"(NOT {c})" for c in must_not]
        return "(" + " AND ".join(parts) + ")" if parts else "true"

    # -- fields -------------------------------------------------------------------------------
    def fields(self, name: str) -> list[Value]:
        """The columns a (possibly wildcard) field name refers to; unknown names give none."""
        if "*" in name or "?" in name:
            names = sorted(n for n in self.catalog.fields if fnmatch.fnmatchcase(n, name))
            if name == "@timestamp" or fnmatch.fnmatchcase("@timestamp", name):
                names = ["@timestamp", *(n for n in names if n != "@timestamp")]
        else:
            names = [name]
        out = []
        for n in names:
            value = self.eql.field(n)
            if value.kind != "null":
                out.append(value)
        return out

    def each_field(self, name: str, test: Callable[[Value], str | None]) -> str:
        """True when any value of any field named by ``name`` passes ``test`` (2-valued)."""
        parts: list[str] = []
        for value in self.fields(name):
            one = test(Value(sql="v", kind=value.kind)) if value.multi else test(value)
            if one is None:
                continue
            if value.multi:
                literal = _KEYWORD_EQUALS.fullmatch(one) if value.kind == "keyword" else None
                one = (
                    # A term on a keyword list: list_contains is much faster than a lambda.
                    f"list_contains({value.sql}, {literal[1]})"
                    if literal
                    else f"list_bool_or(list_transform({value.sql}, lambda v: {one}))"
                )
            parts.append(f"coalesce({one}, false)")
        return "(" + " OR ".join(parts) + ")" if parts else "false"

    # -- leaves ----------------------------------------------------------------------------------
    def equals(self, value: Value, wanted: Any, ci: bool = False) -> str | None:
        """SQL testing one scalar value against a JSON value, as a term query would."""
        if wanted is None:
            return None
        if value.kind == "date":
            millis = self.date_ms(wanted)
            return None if millis is None else f"{value.sql} = {millis}"
        if value.kind in ("long", "double"):
            number = _number(wanted)
            return None if number is None else f"{value.sql} = {number!r}"
        if value.kind == "bool":
            flag = _boolean(wanted)
            return None if flag is None else f"{value.sql} = {'true' if flag else 'false'}"
        text = _json_text(wanted)
        if ci:
            return f"lower({as_text(value)}) = {sql_string(text.lower())}"
        return f"{as_text(value)} = {sql_string(text)}"

    def pattern(self, value: Value, pattern: str, ci: bool = False) -> str:
        """``*``/``?`` wildcard pattern over the whole value."""
        return self.like(value, wildcard_to_like(pattern.lower() if ci else pattern), ci)

    @staticmethod
    def like(value: Value, like: str, ci: bool = False) -> str:
        subject = f"lower({as_text(value)})" if ci else as_text(value)
        return like_test(subject, like)

    def date_ms(self, value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return int(value)
        text = str(value).strip()
        if text.startswith("now") or "||" in text:
            try:
                return datetime_ms(parse_datemath(text, self.now))
            except ValueError:
                return None
        return parse_es_date_ms(text)


# ---------------------------------------------------------------------------------------------
# One function per clause kind.


def _single_field(compiler: DslCompiler, body: Any, clause: str) -> tuple[str, Any]:
    if not isinstance(body, Mapping):
        raise compiler.error(f"[{clause}] expects an object")
    items = [(k, v) for k, v in body.items() if k not in ("boost", "_name")]
    if len(items) != 1:
        raise compiler.error(f"[{clause}] expects exactly one field")
    return items[0]


def _term_level(
    compiler: DslCompiler, body: Any, clause: str, alias: str | None = None
) -> tuple[str, Any, bool]:
    """A term-level clause's field, value and ``case_insensitive``: ``{field: value}`` or
    ``{field: {"value": value, "case_insensitive": bool}}`` (``alias`` names the value too)."""
    name, spec = _single_field(compiler, body, clause)
    if not isinstance(spec, Mapping):
        return name, spec, False
    value = spec.get("value", spec.get(alias)) if alias else spec.get("value")
    return name, value, bool(spec.get("case_insensitive", False))


def _term(compiler: DslCompiler, body: Any) -> str:
    name, spec, ci = _term_level(compiler, body, "term")
    return compiler.each_field(name, lambda v: _equals(compiler, name, v, spec, ci))


def _equals(
    compiler: DslCompiler, name: str, v: Value, wanted: Any, ci: bool = False
) -> str | None:
    """A term (or ``match``) value: on an ``ip`` field an address or a CIDR block, compared as
    addresses (``::1`` is ``0:0::1``; ``10.0.0.0/8`` a range), as Elasticsearch's ``ip`` type
    does; otherwise the value itself."""
    if _is_ip_field(name) and isinstance(wanted, str):
        try:
            ipaddress.ip_network(wanted.strip(), strict=False)
        except ValueError:
            pass
        else:
            return _hex_in(v, compiler.eql.cidr_ranges([wanted.strip()]))
    return compiler.equals(v, wanted, ci)


def _terms(compiler: DslCompiler, body: Any) -> str:
    name, values = _single_field(compiler, body, "terms")
    if not isinstance(values, list):
        raise compiler.error("[terms] expects a list of values")

    def test(v: Value) -> str | None:
        parts = [p for p in (_equals(compiler, name, v, w) for w in values) if p is not None]
        return "(" + " OR ".join(parts) + ")" if parts else None

    return compiler.each_field(name, test)


def _is_ip_field(name: str) -> bool:
    """ECS maps ``*.ip`` fields (source.ip, host.ip, related.ip...) as ``ip``; the store has no
    mapping, so CIDR terms and ranges on them follow the ``ip`` type by this name."""
    return name == "ip" or name.endswith(".ip")


def _hex_in(v: Value, bounds: Sequence[tuple[str, str]]) -> str:
    """Whether an address lies in any ``(low, high)`` of 32-digit hex bounds."""
    listed = "[" + ", ".join(f"['{lo}', '{hi}']" for lo, hi in bounds) + "]"
    return f"eql_cidr_in(eql_ip_hex({as_text(v)}), {listed})"


def _ip_hex(compiler: DslCompiler, text: Any, step: int = 0) -> str:
    """An address as the store's hex form (IPv4 mapped into IPv6), moved by ``step``."""
    try:
        address = ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise compiler.error(f"[range] bound {text!r} is not an IP address") from None
    number = int(address) + step
    if address.version == 4:
        number |= 0xFFFF00000000
    return f"{max(number, 0):032x}"


def _ip_range(compiler: DslCompiler, name: str, spec: Mapping[str, Any]) -> str:
    """A range over an ``ip`` field compares addresses, not strings."""
    low, high = "0" * 32, "f" * 32
    if spec.get("gte", spec.get("from")) is not None:
        low = _ip_hex(compiler, spec.get("gte", spec.get("from")))
    if spec.get("gt") is not None:
        low = _ip_hex(compiler, spec["gt"], 1)
    if spec.get("lte", spec.get("to")) is not None:
        high = _ip_hex(compiler, spec.get("lte", spec.get("to")))
    if spec.get("lt") is not None:
        high = _ip_hex(compiler, spec["lt"], -1)
    return compiler.each_field(name, lambda v: _hex_in(v, [(low, high)]))


def _match(compiler: DslCompiler, body: Any) -> str:
    name, spec = _single_field(compiler, body, "match")
    if isinstance(spec, Mapping):
        spec = spec.get("query")
    return compiler.each_field(name, lambda v: _equals(compiler, name, v, spec))


def _match_phrase(compiler: DslCompiler, body: Any) -> str:
    return _match(compiler, body)


def _multi_match(compiler: DslCompiler, body: Any) -> str:
    wanted = body.get("query")
    names = body.get("fields") or ["*"]
    parts = [compiler.each_field(n, lambda v: compiler.equals(v, wanted)) for n in names]
    return "(" + " OR ".join(parts) + ")"


def _exists(compiler: DslCompiler, body: Any) -> str:
    name = body.get("field") if isinstance(body, Mapping) else None
    if not isinstance(name, str):
        raise compiler.error("[exists] expects a field")
    parts = [f"({v.sql} IS NOT NULL)" for v in compiler.fields(name)]
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _wildcard(compiler: DslCompiler, body: Any) -> str:
    name, spec, ci = _term_level(compiler, body, "wildcard", alias="wildcard")
    like = _lucene_wildcard_like(str(spec).lower() if ci else str(spec))
    return compiler.each_field(name, lambda v: compiler.like(v, like, ci))


def _lucene_wildcard_like(pattern: str) -> str:
    """Lucene's wildcard syntax as LIKE: ``*``/``?``, and ``\\x`` a literal x (Kibana escapes
    query_string's reserved characters in the patterns it sends)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            literal = pattern[i + 1]
            out.append("\\" + literal if literal in "%_\\" else literal)
            i += 2
            continue
        out.append({"*": "%", "?": "_", "%": "\\%", "_": "\\_", "\\": "\\\\"}.get(ch, ch))
        i += 1
    return "".join(out)


def _prefix(compiler: DslCompiler, body: Any) -> str:
    name, spec, ci = _term_level(compiler, body, "prefix")
    text = str(spec)

    def test(v: Value) -> str:
        subject = as_text(v)
        if ci:
            return f"starts_with(lower({subject}), {sql_string(text.lower())})"
        return f"starts_with({subject}, {sql_string(text)})"

    return compiler.each_field(name, test)


def _regexp(compiler: DslCompiler, body: Any) -> str:
    name, spec, ci = _term_level(compiler, body, "regexp")
    try:
        pattern = ("(?i)" if ci else "") + lucene_to_re2(str(spec))
    except PatternError as exc:
        raise compiler.error(f"invalid regular expression {spec!r}: {exc}") from None
    return compiler.each_field(
        name, lambda v: f"regexp_full_match({as_text(v)}, {sql_string(pattern)})"
    )


_RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "from": ">=", "to": "<="}


def _range(compiler: DslCompiler, body: Any) -> str:
    name, spec = _single_field(compiler, body, "range")
    if not isinstance(spec, Mapping):
        raise compiler.error("[range] expects bounds")
    bounds = [(op, spec[key]) for key, op in _RANGE_OPS.items() if spec.get(key) is not None]
    if bounds and _is_ip_field(name):
        return _ip_range(compiler, name, spec)

    def test(v: Value) -> str | None:
        parts: list[str] = []
        for op, bound in bounds:
            if v.kind == "date":
                millis = compiler.date_ms(bound)
                if millis is None:
                    return None
                parts.append(f"{v.sql} {op} {millis}")
            elif v.kind in ("long", "double"):
                number = _number(bound)
                if number is None:
                    return None
                parts.append(f"{v.sql} {op} {number!r}")
            else:
                parts.append(f"{as_text(v)} {op} {sql_string(_json_text(bound))}")
        return " AND ".join(parts) if parts else "true"

    return compiler.each_field(name, test)


_QS_TOKEN = re.compile(r"(?:\\.|[^\s\\])+", re.DOTALL)


def _query_string(compiler: DslCompiler, body: Any) -> str:
    query = body.get("query")
    if not isinstance(query, str):
        raise compiler.error("[query_string] expects a query")
    names = body.get("fields") or [body.get("default_field", "*")]
    terms = [_qs_pattern(compiler, token) for token in _QS_TOKEN.findall(query)]
    parts: list[str] = []
    for name in names:
        for pattern in terms:
            parts.append(compiler.each_field(name, _pattern_test(compiler, pattern)))
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _pattern_test(compiler: DslCompiler, like: str) -> Callable[[Value], str | None]:
    return lambda v: compiler.like(v, like)


def _qs_pattern(compiler: DslCompiler, token: str) -> str:
    """A query_string term as a LIKE pattern: ``*``/``?`` wildcards, ``\\x`` a literal x."""
    out: list[str] = []
    i = 0
    while i < len(token):
        ch = token[i]
        if ch == "\\" and i + 1 < len(token):
            literal = token[i + 1]
            out.append("\\" + literal if literal in "%_\\" else literal)
            i += 2
            continue
        if ch in '+-=&|><!(){}[]^"~:/' and not out:
            raise compiler.error(f"query_string syntax {token!r} is not supported")
        out.append({"*": "%", "?": "_", "%": "\\%", "_": "\\_"}.get(ch, ch))
        i += 1
    return "".join(out)


def _nested(compiler: DslCompiler, body: Any) -> str:
    # Without nested mappings, Elasticsearch flattens objects; the inner query sees full names.
    return compiler.query(body.get("query", {"match_all": {}}))


def _ids(compiler: DslCompiler, body: Any) -> str:
    values = body.get("values") if isinstance(body, Mapping) else None
    if not isinstance(values, list):
        raise compiler.error("[ids] expects a list of values")
    if not values:
        return "false"
    return "(_id IN (" + ", ".join(sql_string(str(v)) for v in values) + "))"


def _match_all(compiler: DslCompiler, body: Any) -> str:
    return "true"


def _match_none(compiler: DslCompiler, body: Any) -> str:
    return "false"


_CLAUSES: dict[str, Callable[[DslCompiler, Any], str]] = {
    "bool": DslCompiler.bool_,
    "term": _term,
    "terms": _terms,
    "match": _match,
    "match_phrase": _match_phrase,
    "multi_match": _multi_match,
    "exists": _exists,
    "wildcard": _wildcard,
    "prefix": _prefix,
    "regexp": _regexp,
    "range": _range,
    "query_string": _query_string,
    "nested": _nested,
    "ids": _ids,
    "match_all": _match_all,
    "match_none": _match_none,
}


def _minimum_should_match(value: Any, count: int) -> int:
    if isinstance(value, int):
        return value if value >= 0 else max(count + value, 0)
    text = str(value).strip()
    if text.endswith("%"):
        return int(count * int(text[:-1]) / 100)
    return int(text)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() and "." not in str(value) else number


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value)
    return {"true": True, "false": False}.get(text)


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dsl_clauses() -> Sequence[str]:
    """The clause kinds the embedded engine evaluates."""
    return tuple(_CLAUSES)
