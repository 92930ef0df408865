"""Query DSL evaluated over one document with its index's mapping, as Elasticsearch does.

* ``term``/``terms``: the value as the field type reads it: exact on ``keyword``/``wildcard``,
  against the analysed tokens on ``text`` (so mixed case never matches), numbers, dates (epoch
  or ISO), booleans, ip addresses (a CIDR matches the range); ``case_insensitive`` honoured.
* ``match``: ``text`` fields analyse the query and OR (or AND, ``operator``) its tokens;
  ``keyword`` fields take the whole value; numbers/dates/booleans parse it (an unparseable
  value is a 400 ``query_shard_exception`` unless ``lenient``).  ``match_phrase`` needs the
  tokens in order.
* ``wildcard``/``prefix``/``regexp``: over the whole value of ``keyword``/``wildcard``
  fields, over each token of ``text`` fields (the pattern lower-cased by the normalizer).
* ``query_string``: Lucene's classic syntax (terms split on whitespace, ``AND``/``OR``/``NOT``,
  ``+``/``-``, parentheses, quoted phrases, ``field:`` prefixes, ``\\`` escapes), every term
  joined by ``default_operator`` (OR); a term with ``*``/``?`` is a wildcard query; ``*`` alone
  is ``exists``.  ``default_field``/``fields`` with ``*`` covers every mapped field leniently.
* ``range`` (dates with date math, numbers, strings), ``exists`` (any value, an object name
  tests its sub-fields), ``bool`` (``minimum_should_match`` 1 without must/filter, else 0),
  ``ids``, ``match_all``, ``match_none``, ``nested`` (needs a ``nested`` mapping),
  ``multi_match`` (``best_fields``/``phrase``, lenient).
* A field that is not mapped matches nothing.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.timeutil import parse_datemath
from tests.elastic.engine.mappings import (
    INTEGER_TYPES,
    KEYWORD_TYPES,
    NUMERIC_TYPES,
    TEXT_TYPES,
    FieldType,
    IndexMapping,
    analyze,
    iter_objects,
    parse_date_ms,
)


class DslError(Exception):
    """A request Elasticsearch refuses: HTTP status, error type and reason."""

    def __init__(self, reason: str, kind: str = "query_shard_exception", status: int = 400):
        super().__init__(reason)
        self.kind, self.reason, self.status = kind, reason, status


@dataclass(frozen=True)
class Doc:
    index: str
    id: str
    source: Mapping[str, Any]


class Evaluator:
    def __init__(self, mapping: IndexMapping, now: datetime) -> None:
        self.mapping = mapping
        self.now = now

    # --- structure -----------------------------------------------------------------------
    def matches(self, query: Mapping[str, Any], doc: Doc) -> bool:
        if not isinstance(query, Mapping) or len(query) != 1:
            raise DslError(f"[_na] query malformed, expected one clause: {query!r}",
                           "parsing_exception")  # fmt: skip
        ((kind, body),) = query.items()
        handler = _CLAUSES.get(kind)
        if handler is None:
            raise DslError(f"unknown query [{kind}]", "parsing_exception")
        return handler(self, body, doc)

    def bool_(self, body: Mapping[str, Any], doc: Doc) -> bool:
        def listed(key: str) -> list[Any]:
            value = body.get(key, [])
            return value if isinstance(value, list) else [value]

        if not all(self.matches(q, doc) for q in listed("must") + listed("filter")):
            return False
        if any(self.matches(q, doc) for q in listed("must_not")):
            return False
        should = listed("should")
        if not should:
            return True
        default = 0 if listed("must") or listed("filter") else 1
        wanted = _minimum(body.get("minimum_should_match", default), len(should))
        return sum(self.matches(q, doc) for q in should) >= wanted

    # --- fields ------------------------------------------------------------------------------
    def typed(self, name: str) -> FieldType | None:
        return self.mapping.field_type(name)

    def values(self, doc: Doc, name: str) -> list[Any]:
        return self.mapping.values(doc.source, name)

    def any_value(self, doc: Doc, name: str, test: Callable[[FieldType, Any], bool]) -> bool:
        ftype = self.typed(name)
        if ftype is None or ftype.nested or not ftype.index:
            return False
        return any(test(ftype, v) for v in self.values(doc, name))

    # --- one value against one query value ---------------------------------------------------
    def term_equal(self, ftype: FieldType, value: Any, wanted: Any, ci: bool = False,
                   lenient: bool = False) -> bool:  # fmt: skip
        kind = ftype.type
        if kind in TEXT_TYPES:
            tokens = analyze(str(value))
            text = _text(wanted)
            return (text.lower() if ci else text) in tokens
        if kind in KEYWORD_TYPES or kind in ("flattened", "version"):
            left, right = _text(value), _text(wanted)
            return left.lower() == right.lower() if ci else left == right
        if kind in NUMERIC_TYPES:
            number = self.number(wanted, kind, lenient)
            return number is not None and _float(value) == number
        if kind in ("date", "date_nanos"):
            wanted_ms = self.date(wanted, lenient)
            return wanted_ms is not None and parse_date_ms(value) == wanted_ms
        if kind == "boolean":
            flag = _flag(wanted)
            if flag is None:
                if lenient:
                    return False
                raise DslError(f"Can't parse boolean value [{wanted}], expected [true] or [false]")
            return _flag(value) == flag
        if kind == "ip":
            return _ip_match(value, wanted, lenient)
        return False

    def number(self, wanted: Any, kind: str, lenient: bool) -> float | None:
        try:
            number = float(_text(wanted))
        except ValueError:
            if lenient:
                return None
            raise DslError(f'failed to create query: For input string: "{_text(wanted)}"') from None
        if kind in INTEGER_TYPES and not number.is_integer():
            return None
        return number

    def date(self, wanted: Any, lenient: bool = False) -> int | None:
        text = _text(wanted).strip()
        ms: int | None
        if text.startswith("now") or "||" in text:
            try:
                ms = int(parse_datemath(text, self.now).timestamp() * 1000)
            except ValueError:
                ms = None
        else:
            ms = parse_date_ms(wanted)
        if ms is None and not lenient:
            raise DslError(f"failed to parse date field [{text}] with format "
                           "[strict_date_optional_time||epoch_millis]")  # fmt: skip
        return ms

    def wildcard(self, ftype: FieldType, value: Any, pattern: str, ci: bool = False) -> bool:
        if ftype.type in TEXT_TYPES:
            rx = _glob_re(pattern.lower())
            return any(rx.fullmatch(t) for t in analyze(str(value)))
        if ftype.type in KEYWORD_TYPES:
            rx = _glob_re(pattern, ci)
            return rx.fullmatch(_text(value)) is not None
        return False


# ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value))


def _ip_match(value: Any, wanted: Any, lenient: bool) -> bool:
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return False
    text = _text(wanted)
    try:
        if "/" in text:
            return address in ipaddress.ip_network(text, strict=False)
        return address == ipaddress.ip_address(text)
    except ValueError:
        if lenient:
            return False
        raise DslError(f"'{text}' is not an IP string literal.") from None


def _glob_re(pattern: str, ci: bool = False) -> re.Pattern[str]:
    """``*``/``?`` wildcards, ``\\`` escapes the next character."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ci else 0))


def _minimum(value: Any, count: int) -> int:
    if isinstance(value, int):
        return value if value >= 0 else max(count + value, 0)
    text = str(value).strip()
    if text.endswith("%"):
        percent = int(text[:-1])
        return int(count * percent / 100) if percent >= 0 else count + int(count * percent / 100)
    return int(text)


def _one_field(body: Any, clause: str) -> tuple[str, Any]:
    if not isinstance(body, Mapping):
        raise DslError(f"[{clause}] query malformed, no start_object", "parsing_exception")
    items = [(k, v) for k, v in body.items() if k not in ("boost", "_name")]
    if len(items) != 1:
        raise DslError(f"[{clause}] query doesn't support multiple fields", "parsing_exception")
    return items[0]


def _term_args(body: Any, clause: str, alias: str = "value") -> tuple[str, Any, bool]:
    name, spec = _one_field(body, clause)
    if isinstance(spec, Mapping):
        return name, spec.get("value", spec.get(alias)), bool(spec.get("case_insensitive"))
    return name, spec, False


# --- clauses ---------------------------------------------------------------------------------


def _term(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, wanted, ci = _term_args(body, "term")
    return ev.any_value(doc, name, lambda t, v: ev.term_equal(t, v, wanted, ci))


def _terms(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, values = _one_field(body, "terms")
    if not isinstance(values, list):
        raise DslError("[terms] query does not support [" + name + "]", "parsing_exception")
    return ev.any_value(doc, name, lambda t, v: any(ev.term_equal(t, v, w) for w in values))


def _match_field(ev: Evaluator, name: str, spec: Any, doc: Doc, phrase: bool = False,
                 lenient: bool = False) -> bool:  # fmt: skip
    options = spec if isinstance(spec, Mapping) else {"query": spec}
    query = options.get("query")
    lenient = lenient or bool(options.get("lenient"))
    ftype = ev.typed(name)
    if ftype is None or ftype.nested or not ftype.index or query is None:
        return False
    if ftype.type in TEXT_TYPES:
        wanted = analyze(_text(query))
        if not wanted:
            return False
        for value in ev.values(doc, name):
            tokens = analyze(str(value))
            if phrase or options.get("type") == "phrase":
                if any(tokens[i : i + len(wanted)] == wanted for i in range(len(tokens))):
                    return True
            elif str(options.get("operator", "or")).lower() == "and":
                if all(w in tokens for w in wanted):
                    return True
            elif any(w in tokens for w in wanted):
                return True
        return False
    if ftype.type in ("date", "date_nanos") and not lenient:
        ev.date(query)
    return ev.any_value(doc, name, lambda t, v: ev.term_equal(t, v, query, lenient=lenient))


def _match(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, spec = _one_field(body, "match")
    return _match_field(ev, name, spec, doc)


def _match_phrase(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, spec = _one_field(body, "match_phrase")
    return _match_field(ev, name, spec, doc, phrase=True)


def _expand(ev: Evaluator, names: list[str]) -> list[str]:
    out: list[str] = []
    for boosted in names:
        name = boosted.split("^", 1)[0]
        out += ev.mapping.matching(name) if "*" in name or "?" in name else [name]
    return list(dict.fromkeys(out))


def _multi_match(ev: Evaluator, body: Any, doc: Doc) -> bool:
    names = _expand(ev, list(body.get("fields") or ["*"]))
    lenient = bool(body.get("lenient")) or "*" in (body.get("fields") or ["*"])
    phrase = body.get("type") == "phrase"
    spec = {"query": body.get("query"), "operator": body.get("operator", "or")}
    return any(_match_field(ev, n, spec, doc, phrase=phrase, lenient=lenient) for n in names)


def _exists(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name = body.get("field") if isinstance(body, Mapping) else None
    if not isinstance(name, str):
        raise DslError("[exists] must be provided with a [field]", "parsing_exception")
    names = _expand(ev, [name])
    if not any(ev.typed(n) for n in names):
        names = ev.mapping.matching(f"{name}.*")  # an object: any of its fields
    return any(ev.any_value(doc, n, lambda t, v: True) for n in names)


def _wildcard(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, pattern, ci = _term_args(body, "wildcard", alias="wildcard")
    return ev.any_value(doc, name, lambda t, v: ev.wildcard(t, v, str(pattern), ci))


def _prefix(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, text, ci = _term_args(body, "prefix")
    escaped = re.sub(r"([*?\\])", r"\\\1", str(text)) + "*"
    return ev.any_value(doc, name, lambda t, v: ev.wildcard(t, v, escaped, ci))


def _regexp(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, pattern, ci = _term_args(body, "regexp")
    try:
        rx = re.compile(str(pattern), re.DOTALL | (re.IGNORECASE if ci else 0))
    except re.error as exc:
        raise DslError(f"invalid regular expression [{pattern}]: {exc}") from None

    def test(ftype: FieldType, value: Any) -> bool:
        if ftype.type in TEXT_TYPES:
            return any(rx.fullmatch(t) for t in analyze(str(value)))
        return ftype.type in KEYWORD_TYPES and rx.fullmatch(_text(value)) is not None

    return ev.any_value(doc, name, test)


_BOUNDS = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
           "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}  # fmt: skip


def _range(ev: Evaluator, body: Any, doc: Doc) -> bool:
    name, spec = _one_field(body, "range")
    if not isinstance(spec, Mapping):
        raise DslError("[range] query malformed, no start_object", "parsing_exception")
    spec = dict(spec)
    if "from" in spec:
        spec.setdefault("gte" if spec.get("include_lower", True) else "gt", spec["from"])
    if "to" in spec:
        spec.setdefault("lte" if spec.get("include_upper", True) else "lt", spec["to"])
    bounds = [(op, spec[op]) for op in _BOUNDS if spec.get(op) is not None]
    ftype = ev.typed(name)
    if ftype is None:
        return False
    if ftype.type in ("date", "date_nanos"):
        limits = [(op, ev.date(b)) for op, b in bounds]

        def date_test(t: FieldType, v: Any) -> bool:
            ms = parse_date_ms(v)
            return ms is not None and all(_BOUNDS[op](ms, b) for op, b in limits)

        return ev.any_value(doc, name, date_test)
    if ftype.type in NUMERIC_TYPES:
        numbers = [(op, ev.number(b, "double", False)) for op, b in bounds]

        def number_test(t: FieldType, v: Any) -> bool:
            x = _float(v)
            return x is not None and all(_BOUNDS[op](x, b) for op, b in numbers)

        return ev.any_value(doc, name, number_test)
    if ftype.type == "ip":
        return ev.any_value(doc, name, lambda t, v: all(
            _BOUNDS[op](ipaddress.ip_address(str(v)), ipaddress.ip_address(str(b)))
            for op, b in bounds))  # fmt: skip
    texts = [(op, _text(b)) for op, b in bounds]
    return ev.any_value(doc, name, lambda t, v: all(
        _BOUNDS[op](str(v).lower() if t.type in TEXT_TYPES else _text(v), b)
        for op, b in texts))  # fmt: skip


def _ids(ev: Evaluator, body: Any, doc: Doc) -> bool:
    return doc.id in [str(v) for v in body.get("values", [])]


def _nested(ev: Evaluator, body: Any, doc: Doc) -> bool:
    path = str(body.get("path"))
    ftype = ev.typed(path)
    if ftype is None or not ftype.nested:
        if body.get("ignore_unmapped"):
            return False
        raise DslError(f"[nested] failed to find nested object under path [{path}]")
    inner = body.get("query", {"match_all": {}})
    return any(
        ev.matches(inner, Doc(doc.index, doc.id, _rooted(path, obj)))
        for obj in iter_objects(doc.source, path)
    )


def _rooted(path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(obj)
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _query_string(ev: Evaluator, body: Any, doc: Doc) -> bool:
    from tests.elastic.engine.query_string import evaluate

    return evaluate(ev, body, doc)


_CLAUSES: dict[str, Callable[[Evaluator, Any, Doc], bool]] = {
    "bool": Evaluator.bool_,
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
    "ids": _ids,
    "nested": _nested,
    "query_string": _query_string,
    "match_all": lambda ev, body, doc: True,
    "match_none": lambda ev, body, doc: False,
}


def match_field(ev: Evaluator, name: str, query: Any, doc: Doc, *, phrase: bool,
                lenient: bool) -> bool:  # fmt: skip
    """``match``/``match_phrase`` of ``query`` on one field (query_string uses it)."""
    return _match_field(ev, name, {"query": query}, doc, phrase=phrase, lenient=lenient)


def glob_matches(pattern: str, subject: str) -> bool:
    return fnmatch.fnmatchcase(subject, pattern)
