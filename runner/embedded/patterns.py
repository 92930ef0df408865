"""Pattern languages translated for DuckDB: EQL/KQL wildcards and Lucene regular expressions.

* Wildcards (EQL ``:``/``like``, KQL ``*``): ``*`` is any run of characters (``/`` and newlines
  included), ``?`` one character, over the whole value.  EQL has no escape for them, so every
  ``*`` and ``?`` is a wildcard; LIKE's own ``%``, ``_`` and ``\\`` are escaped.
* Lucene regular expressions (EQL ``regex``, which Elasticsearch runs as a ``regexp`` query
  with all optional operators on) become anchored RE2 patterns: ``.`` matches any character
  (newlines too), ``^`` and ``$`` are ordinary characters, ``"..."`` is a literal string,
  ``@`` is any string, ``#`` the empty language, ``<n-m>`` a number interval, and ``\\d``
  ``\\s`` ``\\w`` (and their negations) are Lucene's classes.  Complement (``~``) and
  intersection (``&``) have no RE2 equivalent: such a pattern is refused with its position.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PatternError", "lucene_to_re2", "wildcard_to_like"]


class PatternError(ValueError):
    """A pattern the engine cannot run; ``offset`` is the 0-based position in the pattern."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def wildcard_to_like(pattern: str) -> str:
    """A LIKE pattern (escape character ``\\``) for a ``*``/``?`` wildcard pattern."""
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


_RE2_SPECIAL = set("\\.+*?()|[]{}^$")
_CLASS_SPECIAL = set("\\]^-[")
_SHORTHAND = {
    "d": "0-9",
    "s": " \\t\\n\\r\\f\\x0B",
    "w": "a-zA-Z0-9_",
}
_MAX_INTERVAL = 2000


def _lit(ch: str) -> str:
    if ch in _RE2_SPECIAL:
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    return ch


def _class_lit(ch: str) -> str:
    return "\\" + ch if ch in _CLASS_SPECIAL else ch


@dataclass(slots=True)
class _Parser:
    text: str
    pos: int = 0

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def take(self) -> str:
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def error(self, message: str) -> PatternError:
        return PatternError(message, self.pos)

    # unionexp ::= interexp ( '|' interexp )*
    def union(self) -> str:
        parts = [self.inter()]
        while self.peek() == "|":
            self.take()
            parts.append(self.inter())
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    def inter(self) -> str:
        left = self.concat()
        if self.peek() == "&":
            raise self.error(
                "the intersection operator '&' is not supported by the embedded engine"
            )
        return left

    def concat(self) -> str:
        parts: list[str] = []
        while (ch := self.peek()) is not None and ch not in "|)&":
            parts.append(self.repeat())
        return "".join(parts)

    def repeat(self) -> str:
        atom = self.complement()
        while (ch := self.peek()) is not None and ch in "?*+{":
            if ch == "{":
                start = self.pos
                self.take()
                body = ""
                while (c := self.peek()) is not None and c != "}":
                    body += self.take()
                if self.peek() != "}" or not _valid_bounds(body):
                    self.pos = start
                    raise self.error("malformed repetition {...}")
                self.take()
                low, _, high = body.partition(",")
                # Lucene builds an empty automaton for {3,1}; RE2 would refuse the pattern.
                empty = bool(high) and int(high) < int(low)
                atom = r"(?:\b\B)" if empty else f"(?:{atom}){{{body}}}"
            else:
                self.take()
                atom = f"(?:{atom}){ch}"
        return atom

    def complement(self) -> str:
        if self.peek() == "~":
            raise self.error("the complement operator '~' is not supported by the embedded engine")
        return self.char_class()

    def char_class(self) -> str:
        if self.peek() != "[":
            return self.simple()
        start = self.pos
        self.take()
        negate = False
        if self.peek() == "^":
            self.take()
            negate = True
        items: list[str] = []
        while (ch := self.peek()) is not None and ch != "]":
            low = self.class_char()
            if (
                self.peek() == "-"
                and self.pos + 1 < len(self.text)
                and self.text[self.pos + 1] != "]"
            ):
                self.take()
                high = self.class_char()
                items.append(f"{low}-{high}")
            else:
                items.append(low)
        if self.peek() != "]":
            self.pos = start
            raise self.error("unterminated character class")
        self.take()
        if not items:
            return "[^\\x00-\\x{10FFFF}]" if not negate else "(?s:.)"
        return ("[^" if negate else "[") + "".join(items) + "]"

    def class_char(self) -> str:
        ch = self.take()
        if ch == "\\":
            if self.peek() is None:
                raise self.error("dangling escape")
            esc = self.take()
            if esc in _SHORTHAND:
                return _SHORTHAND[esc]
            return _class_lit(esc)
        return _class_lit(ch)

    def simple(self) -> str:
        ch = self.peek()
        if ch is None:
            raise self.error("unexpected end of pattern")
        if ch == ".":
            self.take()
            return "(?s:.)"
        if ch == "@":
            self.take()
            return "(?s:.*)"
        if ch == "#":
            self.take()
            return "[^\\x00-\\x{10FFFF}]"
        if ch == '"':
            start = self.pos
            self.take()
            chunk = ""
            while (c := self.peek()) is not None and c != '"':
                chunk += self.take()
            if self.peek() != '"':
                self.pos = start
                raise self.error("unterminated quoted string")
            self.take()
            return "".join(_lit(c) for c in chunk)
        if ch == "(":
            start = self.pos
            self.take()
            if self.peek() == ")":
                self.take()
                return ""
            inner = self.union()
            if self.peek() != ")":
                self.pos = start
                raise self.error("unbalanced parenthesis")
            self.take()
            return f"(?:{inner})"
        if ch == "<":
            return self.interval()
        if ch in "*+?{)|":
            raise self.error(f"unexpected '{ch}'")
        self.take()
        if ch == "\\":
            if self.peek() is None:
                raise self.error("dangling escape")
            esc = self.take()
            if esc in _SHORTHAND:
                return f"[{_SHORTHAND[esc]}]"
            if esc.lower() in _SHORTHAND and esc.isupper():
                return f"[^{_SHORTHAND[esc.lower()]}]"
            return _lit(esc)
        return _lit(ch)

    def interval(self) -> str:
        start = self.pos
        self.take()
        body = ""
        while (c := self.peek()) is not None and c != ">":
            body += self.take()
        if self.peek() != ">":
            self.pos = start
            raise self.error("unterminated <...>")
        self.take()
        low_text, sep, high_text = body.partition("-")
        if not sep or not low_text.isdigit() or not high_text.isdigit():
            self.pos = start
            raise self.error("named automata <name> are not supported")
        low, high = sorted((int(low_text), int(high_text)))
        if high - low > _MAX_INTERVAL:
            self.pos = start
            raise self.error("numeric interval too wide for the embedded engine")
        width = len(low_text) if len(low_text) == len(high_text) else 0
        numbers = [str(n).zfill(width) if width else str(n) for n in range(low, high + 1)]
        # Lucene also accepts extra leading zeros when the bounds have different widths.
        prefix = "0*" if not width else ""
        return f"{prefix}(?:" + "|".join(numbers) + ")"


def _valid_bounds(body: str) -> bool:
    low, sep, high = body.partition(",")
    if not low.isdigit():
        return False
    return not sep or high == "" or high.isdigit()


def lucene_to_re2(pattern: str) -> str:
    """An RE2 pattern matching exactly what the Lucene ``pattern`` matches (whole value)."""
    parser = _Parser(pattern)
    body = parser.union()
    if parser.pos != len(pattern):
        raise parser.error(f"unexpected '{pattern[parser.pos]}'")
    return body
