# ruff: noqa: E501  (the pattern regexes stay one line each, as upstream writes them)
"""GROK (with the standard pattern names) and DISSECT, as ES|QL applies them to one string."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

# The legacy Grok pattern set Elasticsearch ships (the commonly used part), Oniguruma syntax.
# Long regexes are kept on one line each, as in the upstream pattern files.
GROK_PATTERNS: Mapping[str, str] = {
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "EMAILLOCALPART": r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,64}(?:\.[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,62}){0,63}",
    "EMAILADDRESS": r"%{EMAILLOCALPART}@%{HOSTNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?<![0-9.+-])(?>[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "BASE16NUM": r"(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))",
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": r"(?>(?<!\\)(?>\"(?>\\.|[^\\\"]+)+\"|\"\"|(?>'(?>\\.|[^\\']+)+')|''|(?>`(?>\\.|[^\\`]+)+`)|``))",
    "QS": r"%{QUOTEDSTRING}",
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "MAC": r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})",
    "CISCOMAC": r"(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})",
    "WINDOWSMAC": r"(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})",
    "COMMONMAC": r"(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})",
    "IPV6": r"(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|::)(?:%.+)?",
    "IPV4": r"(?<![0-9])(?:(?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]))(?![0-9])",
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(?:\.?|\b)",
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})",
    "HOSTPORT": r"%{IPORHOST}:%{POSINT}",
    "PATH": r"(?:%{UNIXPATH}|%{WINPATH})",
    "UNIXPATH": r"(/[\w_%!$@:.,+~-]*)+",
    "TTY": r"(?:/dev/(pts|tty([pq])?)(\w+)?/?(?:[0-9]+))",
    "WINPATH": r"(?>[A-Za-z]+:|\\)(?:\\[^\\?*]*)+",
    "URIPROTO": r"[A-Za-z]([A-Za-z0-9+\-.]+)+",
    "URIHOST": r"%{IPORHOST}(?::%{POSINT})?",
    "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+",
    "URIPARAM": r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*",
    "URIPATHPARAM": r"%{URIPATH}(?:%{URIPARAM})?",
    "URI": r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?",
    "MONTH": r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b",
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "DAY": r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    "YEAR": r"(?>\d\d){1,2}",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
    "TIME": r"(?!<[0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "ISO8601_SECOND": r"%{SECOND}",
    "TIMESTAMP_ISO8601": r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    "DATE_US": r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}",
    "DATE_EU": r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}",
    "DATE": r"%{DATE_US}|%{DATE_EU}",
    "DATESTAMP": r"%{DATE}[- ]%{TIME}",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
    "LOGLEVEL": r"([Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
}

_REFERENCE = re.compile(r"%\{(\w+)(?::([\w.@\[\]]+))?(?::(int|float|long|double|boolean))?\}")
_ATOMIC = re.compile(r"\(\?>")
# Not after an escaping backslash (an escaped backslash, ``\\(?<x>``, leaves it a group).
_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?<([A-Za-z_][\w.@]*)>")


class GrokError(ValueError):
    pass


@functools.cache
def compile_grok(pattern: str) -> tuple[re.Pattern[str], tuple[tuple[str, str, str], ...]]:
    """The regex and its captures ``(group, field, type)`` in pattern order."""
    captures: list[tuple[str, str, str]] = []

    def expand(text: str, depth: int) -> str:
        if depth > 20:
            raise GrokError("grok pattern nests too deep")

        def replace(m: re.Match[str]) -> str:
            name, field, kind = m.group(1), m.group(2), m.group(3) or "keyword"
            if name not in GROK_PATTERNS:
                raise GrokError(f"Unable to find pattern [{name}] in Grok's pattern dictionary")
            body = expand(GROK_PATTERNS[name], depth + 1)
            if field is None:
                return f"(?:{body})"
            group = f"g{len(captures)}"
            captures.append((group, field, kind))
            return f"(?P<{group}>{body})"

        return _REFERENCE.sub(replace, text)

    def named(m: re.Match[str]) -> str:
        # An Oniguruma named group written in the pattern itself is a keyword column.
        group = f"g{len(captures)}"
        captures.append((group, m.group(2), "keyword"))
        return f"{m.group(1)}(?P<{group}>"

    # Named groups of the pattern as written, then the %{NAME:field} references.
    pattern = _NAMED_GROUP.sub(named, pattern)
    expanded = expand(pattern, 0)
    try:
        return re.compile(expanded), tuple(captures)
    except re.error as exc:
        raise GrokError(f"Invalid GROK pattern [{pattern}]: {exc}") from None


def grok_fields(pattern: str) -> tuple[tuple[str, str], ...]:
    """The columns a GROK pattern adds: (name, type), each name once, in order."""
    seen: dict[str, str] = {}
    for _, field, kind in compile_grok(pattern)[1]:
        seen.setdefault(field, kind)
    return tuple(seen.items())


def grok(pattern: str, text: str) -> dict[str, object] | None:
    regex, captures = compile_grok(pattern)
    match = regex.search(text)
    if match is None:
        return None
    found: dict[str, list[object]] = {}
    for group, field, kind in captures:
        raw = match.group(group)
        if raw is None:
            continue
        value: object = raw
        if kind in ("int", "long"):
            value = int(raw)
        elif kind in ("float", "double"):
            value = float(raw)
        elif kind == "boolean":
            value = raw.lower() == "true"
        found.setdefault(field, []).append(value)
    return {f: (v[0] if len(v) == 1 else v) for f, v in found.items()}


# ---- DISSECT ------------------------------------------------------------------------------

_KEY = re.compile(r"%\{([^}]*)\}")


@functools.cache
def dissect_parts(pattern: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(keys, delimiters after each key, text before the first key)."""
    keys: list[str] = []
    delimiters: list[str] = []
    prefix = ""
    position = 0
    for m in _KEY.finditer(pattern):
        literal = pattern[position : m.start()]
        if keys:
            delimiters.append(literal)
        else:
            prefix = literal
        keys.append(m.group(1))
        position = m.end()
    delimiters.append(pattern[position:])
    return tuple(keys), tuple(delimiters), prefix


def dissect_fields(pattern: str) -> tuple[str, ...]:
    names: list[str] = []
    for key in dissect_parts(pattern)[0]:
        name = _dissect_name(key)
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _dissect_name(key: str) -> str | None:
    name = key.removesuffix("->")
    if not name or name.startswith(("?", "*", "&")):
        return None
    name = name.lstrip("+")
    return name.split("/", 1)[0]


def dissect(pattern: str, text: str, append_separator: str = "") -> dict[str, str] | None:
    keys, delimiters, prefix = dissect_parts(pattern)
    if not text.startswith(prefix):
        return None
    position = len(prefix)
    found: dict[str, str] = {}
    appended: dict[str, list[tuple[int, int, str]]] = {}
    for key, delimiter in zip(keys, delimiters, strict=True):
        last = delimiter == "" and key is keys[-1]
        if last:
            value, position = text[position:], len(text)
        else:
            end = text.find(delimiter, position) if delimiter else len(text)
            if end < 0:
                return None
            value = text[position:end]
            position = end + len(delimiter)
            if key.endswith("->"):
                while delimiter and text.startswith(delimiter, position):
                    position += len(delimiter)
        name = _dissect_name(key)
        if name is None:
            continue
        if key.lstrip().startswith("+"):
            # %{+name/N}: appended in the order of N, then of appearance.
            order = key.rsplit("/", 1)[1] if "/" in key else ""
            rank = int(order) if order.isdigit() else 0
            if name in found and name not in appended:
                appended[name] = [(-1, -1, found[name])]  # a plain %{name} before it
            appended.setdefault(name, []).append((rank, len(appended.get(name, [])), value))
            found.setdefault(name, "")
        else:
            found[name] = value
    if position < len(text) and delimiters[-1] != "":
        return None
    for name, parts in appended.items():
        found[name] = append_separator.join(v for _, _, v in sorted(parts))
    return found
