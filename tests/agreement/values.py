"""Values for one field that pass (or fail) a set of leaf tests.

:func:`holds` is the generator's own reading of each test, with Elasticsearch's documented
semantics (a field with several values passes when one does); it only decides which value to
propose: the backends under test decide what matches.  :func:`solve` proposes values from the
positive tests (for a case-insensitive test, first with the letters' case swapped, so the
backends' case folding is exercised) and from the negated ones near values (the case-swapped
literal for a case-sensitive one, the bound itself for a range), and keeps the first value that
passes every test.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import re
import re._constants as sre_c  # type: ignore[import-not-found]  # stdlib parser, no stubs
import re._parser as sre_parse  # type: ignore[import-not-found]  # stdlib, no stubs
from collections.abc import Iterator, Sequence
from typing import Any

from tests.agreement.formula import (
    Cidr,
    Compare,
    Equals,
    Leaf,
    Length,
    Pattern,
    Present,
    Regex,
    Scalar,
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # the field is left out of the document
Value = Any  # a scalar, a list of scalars, or MISSING

NUMERIC_NAMES = {"port", "pid", "ppid", "pgid", "bytes", "packets", "exit_code", "size",
                  "status_code", "args_count", "count", "risk_score", "uid_int", "duration",
                  "sequence", "entropy", "depth"}  # fmt: skip
_DATE_PATTERNS = ("*.timestamp", "*_timestamp", "*.not_after", "*.not_before", "*.accessed",
                  "created", "*.created", "*.installed", "*.creation_date", "*.ctime", "*.mtime",
                  "ingested", "*.ingested", "*.start", "*.end", "@timestamp")  # fmt: skip
DATE_VALUE = "2024-04-30T10:00:00.000Z"


def is_ip_field(name: str) -> bool:
    return name == "ip" or name.endswith((".ip", "_ip"))


def is_date_field(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in _DATE_PATTERNS)


def kind_of(name: str, tests: Sequence[Leaf]) -> str:
    """``ip``, ``date``, ``number``, ``bool`` or ``string``: what the field's values are."""
    if is_ip_field(name) or any(isinstance(t.test, Cidr) for t in tests):
        return "ip"
    if is_date_field(name):
        return "date"
    literals = [v for t in tests if isinstance(t.test, Equals) for v in t.test.values]
    if any(isinstance(t.test, Compare) for t in tests):
        return "number"
    if literals and all(isinstance(v, bool) for v in literals if v is not None):
        return "bool"
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in literals):
        return "number"
    leaf = name.rsplit(".", 1)[-1]
    if leaf in NUMERIC_NAMES and literals and all(_number(v) is not None for v in literals):
        return "number"
    return "string"


def _number(value: Scalar) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return None


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@functools.lru_cache(maxsize=65536)
def _compiled(pattern: str, flags: int, glob: bool, qmark: bool) -> re.Pattern[str] | None:
    try:
        return re.compile(_glob_regex(pattern, qmark) if glob else pattern, flags)
    except re.error:
        return None


def _fullmatch(pattern: str, text: str, flags: int, *, glob: bool, qmark: bool = True) -> bool:
    compiled = _compiled(pattern, flags, glob, qmark)
    return compiled is not None and compiled.fullmatch(text) is not None


def _glob_regex(pattern: str, qmark: bool) -> str:
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?" and qmark:
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _scalar_holds(leaf: Leaf, value: Scalar) -> bool:
    test = leaf.test
    if isinstance(test, Present):
        return True
    if isinstance(test, Equals):
        for wanted in test.values:
            if wanted is None:
                continue
            a, b = _text(value), _text(wanted)
            if (a.lower() == b.lower()) if test.ci else (a == b):
                return True
        return False
    flags = re.DOTALL | (re.IGNORECASE if getattr(test, "ci", False) else 0)
    if isinstance(test, Pattern):
        text = _text(value)
        return any(_fullmatch(p, text, flags, glob=True, qmark=test.qmark) for p in test.patterns)
    if isinstance(test, Regex):
        text = _text(value)
        return any(_fullmatch(p, text, flags, glob=False) for p in test.patterns)
    if isinstance(test, Compare):
        number = _number(value)
        if number is None:
            return False
        return {"<": number < test.value, "<=": number <= test.value, ">": number > test.value,
                ">=": number >= test.value}[test.op]  # fmt: skip
    if isinstance(test, Cidr):
        try:
            address = ipaddress.ip_address(_text(value))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(n, strict=False) for n in test.networks)
    size = len(_text(value))
    return {"==": size == test.value, "<": size < test.value, "<=": size <= test.value,
            ">": size > test.value, ">=": size >= test.value}[test.op]  # fmt: skip


def holds(leaf: Leaf, value: Value) -> bool:
    """Whether ``value`` passes the (un-negated) test of ``leaf``."""
    if value is MISSING:
        return False
    if isinstance(value, list):
        return any(_scalar_holds(leaf, v) for v in value)
    return _scalar_holds(leaf, value)


def passes(leaf: Leaf, value: Value) -> bool:
    """Whether ``value`` satisfies ``leaf``, negation included (a missing field fails every
    negated test but ``Present``: null never matches, as in EQL and ES|QL)."""
    if not leaf.negated:
        return holds(leaf, value)
    if isinstance(leaf.test, Present):
        return value is MISSING
    return value is not MISSING and not holds(leaf, value)


# --- proposing values ----------------------------------------------------------------------


def flip_case(text: str) -> str:
    return "".join(c.swapcase() if c.isascii() and c.isalpha() else c for c in text)


def _typed(value: Scalar, kind: str) -> Scalar:
    if kind == "string" and isinstance(value, bool):
        return _text(value)  # `f:(true or "Enabled")`: a keyword field, not a boolean one
    if kind == "number":
        number = _number(value)
        return number if number is not None else value
    if kind == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


_FILLERS = ("", "x", "agreement", "0", "1", "10")


def _fill(pattern: str, filler: str, qmark: bool) -> str:
    out = pattern.replace("*", filler)
    return out.replace("?", "x") if qmark else out


@functools.lru_cache(maxsize=8192)
def regex_strings(pattern: str, limit: int = 3) -> list[str]:
    """Strings the regular expression matches (one per branch choice, up to ``limit``)."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return []
    out = []
    for choice in range(limit):
        try:
            text = _gen(list(parsed), choice)
        except _CannotGenerate:
            continue
        if text not in out:
            out.append(text)
    return out


class _CannotGenerate(Exception):
    pass


def _gen(items: Sequence[Any], choice: int) -> str:
    out = []
    for op, arg in items:
        if op is sre_c.LITERAL:
            out.append(chr(arg))
        elif op is sre_c.NOT_LITERAL:
            out.append("a" if chr(arg) != "a" else "b")
        elif op is sre_c.ANY:
            out.append("a")
        elif op is sre_c.IN:
            out.append(_in_class(arg))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            low, _high, sub = arg
            out.append(_gen(list(sub), choice) * low)
        elif op is sre_c.SUBPATTERN:
            out.append(_gen(list(arg[-1]), choice))
        elif op is sre_c.ATOMIC_GROUP:
            out.append(_gen(list(arg), choice))
        elif op is sre_c.BRANCH:
            branches = arg[1]
            out.append(_gen(list(branches[choice % len(branches)]), choice))
        elif op is sre_c.AT:
            continue
        elif op is sre_c.CATEGORY:
            out.append(_category(arg))
        else:
            raise _CannotGenerate(str(op))
    return "".join(out)


def _category(category: Any) -> str:
    name = str(category)
    if "NOT_DIGIT" in name or "NOT_SPACE" in name:
        return "a"
    if "NOT_WORD" in name:
        return "-"
    if "DIGIT" in name:
        return "0"
    if "SPACE" in name:
        return " "
    return "a"


def _in_class(items: Sequence[Any]) -> str:
    negate = any(op is sre_c.NEGATE for op, _ in items)
    allowed: list[str] = []
    for op, arg in items:
        if op is sre_c.LITERAL:
            allowed.append(chr(arg))
        elif op is sre_c.RANGE:
            allowed.append(chr(arg[0]))
        elif op is sre_c.CATEGORY:
            allowed.append(_category(arg))
    if not negate:
        if not allowed:
            raise _CannotGenerate("empty class")
        return allowed[0]
    for candidate in "aqz0_-x":
        if not re.fullmatch(_class_regex(items), candidate):
            continue
        return candidate
    raise _CannotGenerate("negated class")


def _class_regex(items: Sequence[Any]) -> str:
    # Rebuild the negated class to test candidates against it.
    parts = []
    for op, arg in items:
        if op is sre_c.LITERAL:
            parts.append(re.escape(chr(arg)))
        elif op is sre_c.RANGE:
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif op is sre_c.CATEGORY:
            parts.append({"DIGIT": r"\d", "SPACE": r"\s", "WORD": r"\w"}.get(
                str(arg).rsplit("_", 1)[-1], ""))  # fmt: skip
    return "[^" + "".join(parts) + "]"


def _positive(leaf: Leaf, kind: str, reverse: bool = False) -> Iterator[Scalar]:
    test = leaf.test
    if isinstance(test, Equals):
        for value in test.values[::-1] if reverse else test.values:
            if value is None:
                continue
            typed = _typed(value, kind)
            if test.ci and isinstance(typed, str):
                yield flip_case(typed)
            yield typed
    elif isinstance(test, Pattern):
        for pattern in test.patterns[::-1] if reverse else test.patterns:
            for filler in _FILLERS:
                text = _fill(pattern, filler, test.qmark)
                if test.ci:
                    yield flip_case(text)
                yield text
    elif isinstance(test, Regex):
        for pattern in test.patterns[::-1] if reverse else test.patterns:
            for text in regex_strings(pattern):
                if test.ci:
                    yield flip_case(text)
                yield text
    elif isinstance(test, Compare):
        step = 1 if isinstance(test.value, int) else 0.5
        yield {"<": test.value - step, "<=": test.value, ">": test.value + step,
               ">=": test.value}[test.op]  # fmt: skip
    elif isinstance(test, Cidr):
        for network in test.networks:
            try:
                net = ipaddress.ip_network(network, strict=False)
            except ValueError:
                continue
            yield str(net.network_address + 1 if net.num_addresses > 2 else net.network_address)
    elif isinstance(test, Length):
        size = {"==": test.value, "<": test.value - 1, "<=": test.value, ">": test.value + 1,
                ">=": test.value}[test.op]  # fmt: skip
        if size >= 0:
            yield "a" * size
    else:
        yield from _defaults(kind)


def _merged(positive: Sequence[Leaf]) -> Iterator[str]:
    """One value for several patterns (``*a*`` and ``*b*``: ``ab``; ``.*a.*`` and ``.*b.*``
    likewise): patterns anchored at the start first, those anchored at the end last."""
    parts: list[tuple[str, bool, bool]] = []  # (text, open start, open end)
    for leaf in positive:
        test = leaf.test
        if isinstance(test, Pattern):
            pattern = test.patterns[0]
            parts.append((_fill(pattern, "", test.qmark), pattern.startswith("*"),
                          pattern.endswith("*")))  # fmt: skip
        elif isinstance(test, Regex):
            pattern = test.patterns[0]
            texts = regex_strings(pattern)
            if texts:
                parts.append((texts[0], pattern.startswith(".*"), pattern.endswith(".*")))
    if len(parts) < 2:
        return
    ordered = sorted(parts, key=lambda p: (p[1], not p[2]))
    yield "".join(p[0] for p in ordered)


def _near(leaf: Leaf, kind: str) -> Iterator[Scalar]:
    """Values close to what a negated leaf excludes."""
    test = leaf.test
    if isinstance(test, Equals):
        for value in test.values:
            if value is None:
                continue
            typed = _typed(value, kind)
            if isinstance(typed, str):
                if not test.ci and flip_case(typed) != typed:
                    yield flip_case(typed)
                yield typed + "x"
                yield "x" + typed
            elif isinstance(typed, int | float) and not isinstance(typed, bool):
                yield typed + 1
    elif isinstance(test, Pattern):
        for pattern in test.patterns:
            text = _fill(pattern, "", test.qmark)
            for i, char in enumerate(text):
                if char.isalnum():
                    yield text[:i] + ("b" if char.lower() == "a" else "a") + text[i + 1 :]
                    break
    elif isinstance(test, Compare):
        step = 1 if isinstance(test.value, int) else 0.5
        yield {"<": test.value, "<=": test.value + step, ">": test.value,
               ">=": test.value - step}[test.op]  # fmt: skip
    elif isinstance(test, Cidr):
        yield "203.0.113.7"
        yield "198.51.100.7"
        yield "2001:db8::7"


def _defaults(kind: str) -> Iterator[Scalar]:
    if kind == "ip":
        yield from ("192.0.2.77", "198.51.100.8", "2001:db8::8")
    elif kind == "number":
        yield from (987654, 12345, 3)
    elif kind == "bool":
        yield from (True, False)
    elif kind == "date":
        yield DATE_VALUE
    else:
        yield from ("agreement-other", "Agreement Value 2")


def _valid(value: Scalar, kind: str) -> bool:
    if kind == "ip":
        try:
            ipaddress.ip_address(_text(value))
        except ValueError:
            return False
    if kind == "number":
        return _number(value) is not None
    if kind == "date":
        return value == DATE_VALUE
    return True


UNSAT: Any = object()


def solve(name: str, tests: Sequence[Leaf], *, multi: bool = True, reverse: bool = False) -> Value:
    """A value for field ``name`` satisfying every leaf, MISSING, or UNSAT (``reverse``: try
    a leaf's values last first)."""
    positive = [t for t in tests if not t.negated]
    negative = [t for t in tests if t.negated]
    if any(isinstance(t.test, Present) for t in negative):
        return MISSING if not positive else UNSAT
    kind = kind_of(name, tests)
    seen: set[str] = set()

    def candidates() -> Iterator[Scalar]:
        for leaf in positive:
            yield from _positive(leaf, kind, reverse)
        yield from _merged(positive)
        for leaf in negative:
            yield from _near(leaf, kind)
        yield from _defaults(kind)

    for value in candidates():
        key = f"{type(value).__name__}:{value}"
        if key in seen or not _valid(value, kind):
            continue
        seen.add(key)
        if all(passes(t, value) for t in tests):
            return value
    if not (multi and len(positive) > 1 and all(t.multi_ok for t in tests)):
        return UNSAT
    # Several values: each positive test passed by one of them, no negated test by any.
    chosen: list[Scalar] = []
    for leaf in positive:
        if any(holds(leaf, v) for v in chosen):
            continue
        found = next((v for v in _positive(leaf, kind) if _valid(v, kind) and holds(leaf, v)
                      and not any(holds(n, v) for n in negative)), UNSAT)  # fmt: skip
        if found is UNSAT:
            return UNSAT
        chosen.append(found)
    return chosen if len(chosen) > 1 else chosen[0]


def near_miss(
    name: str, tests: Sequence[Leaf], flipped: Leaf, *, multi: bool = True, reverse: bool = False
) -> Value:
    """A value for ``name`` that fails ``flipped`` and satisfies the field's other tests."""
    inverted = [t for t in tests if t is not flipped]
    inverted.append(Leaf(field=flipped.field, test=flipped.test, negated=not flipped.negated,
                         multi_ok=flipped.multi_ok))  # fmt: skip
    return solve(name, inverted, multi=multi, reverse=reverse)
