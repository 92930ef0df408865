"""``query_string``: Lucene's classic query syntax, evaluated per field type.

The query splits on whitespace into clauses joined by ``default_operator`` (``OR``), with
``AND``/``OR``/``NOT``/``&&``/``||``/``!``, ``+``/``-``, parentheses, quoted phrases and
``field:`` prefixes; Lucene's ``addClause`` decides each clause's occurrence.  A term holding
an unescaped ``*``/``?`` is a wildcard query (``*`` alone: ``exists``); other terms are
analysed as ``match`` on each field (several tokens joined by ``default_operator``).  A query
of only negative clauses matches everything else (Elasticsearch adds a ``match_all``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.elastic.engine.mappings import KEYWORD_TYPES, TEXT_TYPES
from tests.elastic.engine.query_dsl import Doc, DslError, Evaluator, _expand, match_field

MUST, SHOULD, MUST_NOT = "must", "should", "must_not"


@dataclass
class Term:
    field: str | None
    raw: str  # with escapes
    quoted: bool = False


@dataclass
class Group:
    field: str | None
    clauses: list[tuple[str, Term | Group]] = field(default_factory=list)


def _unescape(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _has_wildcard(raw: str) -> bool:
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] in "*?":
            return True
        i += 1
    return False


class _Parser:
    def __init__(self, text: str, operator: str) -> None:
        self.text, self.pos, self.and_default = text, 0, operator.upper() == "AND"

    def error(self, what: str) -> DslError:
        return DslError(f"Failed to parse query [{self.text}]: {what}", "query_shard_exception")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def word(self) -> str:
        """Up to unescaped whitespace or parenthesis."""
        start = self.pos
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch.isspace() or ch in "()":
                break
            if ch == '"' and self.pos > start:
                break
            self.pos += 1
        return self.text[start : self.pos]

    def group(self, fld: str | None, closing: bool) -> Group:
        group = Group(field=fld)
        conj: str | None = None
        while True:
            self.skip()
            if self.pos >= len(self.text):
                if closing:
                    raise self.error("missing ')'")
                return group
            if self.text[self.pos] == ")":
                if not closing:
                    raise self.error("unexpected ')'")
                self.pos += 1
                return group
            mods = None
            if self.text[self.pos] in "+-!" and self.pos + 1 < len(self.text):
                mods = "+" if self.text[self.pos] == "+" else "-"
                self.pos += 1
            else:
                save = self.pos
                token = self.word()
                if token in ("AND", "&&", "OR", "||"):
                    conj = "AND" if token in ("AND", "&&") else "OR"
                    continue
                if token == "NOT":
                    mods = "-"
                else:
                    self.pos = save
            node = self.clause(fld)
            self.add(group.clauses, conj, mods, node)
            conj = None

    def clause(self, fld: str | None) -> Term | Group:
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            self.pos += 1
            return self.group(fld, closing=True)
        if self.pos < len(self.text) and self.text[self.pos] == '"':
            return Term(field=fld, raw=self.phrase(), quoted=True)
        token = self.word()
        name, rest = _split_field(token)
        if name is not None:
            if rest == "":
                return self.clause(name)
            return Term(field=name, raw=rest)
        if not token:
            raise self.error(f"unexpected character at {self.pos}")
        return Term(field=fld, raw=token)

    def phrase(self) -> str:
        self.pos += 1
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] != '"':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        if self.pos >= len(self.text):
            raise self.error("unterminated phrase")
        raw = self.text[start : self.pos]
        self.pos += 1
        return raw

    def add(self, clauses: list[tuple[str, Term | Group]], conj: str | None, mods: str | None,
            node: Term | Group) -> None:  # fmt: skip
        if clauses and conj == "AND" and clauses[-1][0] != MUST_NOT:
            clauses[-1] = (MUST, clauses[-1][1])
        if clauses and self.and_default and conj == "OR" and clauses[-1][0] != MUST_NOT:
            clauses[-1] = (SHOULD, clauses[-1][1])
        prohibited = mods == "-"
        if not self.and_default:
            required = mods == "+" or (conj == "AND" and not prohibited)
        else:
            required = not prohibited and conj != "OR"
        occur = MUST_NOT if prohibited else MUST if required else SHOULD
        clauses.append((occur, node))


def _split_field(token: str) -> tuple[str | None, str]:
    i = 0
    while i < len(token):
        if token[i] == "\\":
            i += 2
            continue
        if token[i] == ":" and i > 0:
            return _unescape(token[:i]), token[i + 1 :]
        i += 1
    return None, token


def evaluate(ev: Evaluator, body: Mapping[str, Any], doc: Doc) -> bool:
    query = body.get("query")
    if not isinstance(query, str):
        raise DslError("[query_string] requires 'query' field", "parsing_exception")
    spec = list(body.get("fields") or [body.get("default_field", "*")])
    lenient = bool(body.get("lenient")) or any("*" in s for s in spec)
    operator = str(body.get("default_operator", "or"))
    tree = _Parser(query, operator).group(None, closing=False)
    return _group(ev, tree, doc, spec, lenient, operator)


def _group(ev: Evaluator, group: Group, doc: Doc, spec: list[str], lenient: bool,
           operator: str) -> bool:  # fmt: skip
    musts = [n for o, n in group.clauses if o == MUST]
    shoulds = [n for o, n in group.clauses if o == SHOULD]
    nots = [n for o, n in group.clauses if o == MUST_NOT]

    def one(node: Term | Group) -> bool:
        if isinstance(node, Group):
            inner = [node.field] if node.field else spec
            return _group(ev, node, doc, inner, lenient, operator)
        return _term(ev, node, doc, [node.field] if node.field else spec, lenient, operator)

    if not group.clauses:
        return False
    if not all(one(n) for n in musts) or any(one(n) for n in nots):
        return False
    if shoulds and not musts:
        return any(one(n) for n in shoulds)
    return True


def _term(ev: Evaluator, term: Term, doc: Doc, spec: list[str], lenient: bool,
          operator: str) -> bool:  # fmt: skip
    names = _expand(ev, spec)
    lenient = lenient or any("*" in s for s in spec)
    if not term.quoted and _has_wildcard(term.raw):
        for name in names:
            ftype = ev.typed(name)
            if ftype is None or not ftype.index:
                continue
            if term.raw == "*":
                if ev.values(doc, name):
                    return True
                continue
            if ftype.type not in TEXT_TYPES and ftype.type not in KEYWORD_TYPES:
                if lenient:
                    continue
                raise DslError(f"Can only use wildcard queries on keyword and text fields - not "
                               f"on [{name}] which is of type [{ftype.type}]")  # fmt: skip
            if ev.any_value(doc, name, lambda t, v: ev.wildcard(t, v, term.raw)):
                return True
        return False
    value = _unescape(term.raw)
    for name in names:
        ftype = ev.typed(name)
        if ftype is None:
            continue
        if ftype.type in TEXT_TYPES and not term.quoted and operator.lower() == "and":
            if _all_tokens(ev, name, value, doc):
                return True
            continue
        if match_field(ev, name, value, doc, phrase=term.quoted, lenient=lenient):
            return True
    return False


def _all_tokens(ev: Evaluator, name: str, value: str, doc: Doc) -> bool:
    from tests.elastic.engine.mappings import analyze

    wanted = analyze(value)
    return bool(wanted) and any(
        all(w in analyze(str(v)) for w in wanted) for v in ev.values(doc, name)
    )
