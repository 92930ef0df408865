"""ES|QL scalar functions over Python values, with Elasticsearch's null and multi-value rules.

A value is None (null), a scalar, or a list of two or more scalars (a multi-value).  A null
argument makes the result null; a single-value function given a multi-value answers null
(Elasticsearch adds a warning).  Dates are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.timeutil import parse_absolute

Value = Any
Function = Callable[..., Value]


def values(value: Value) -> list[Any]:
    """Every value of a field (none for null)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def pack(items: Sequence[Any]) -> Value:
    """A list of values back to a field value: null, one scalar, or a multi-value."""
    kept = [v for v in items if v is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kept


def single(value: Value) -> Value:
    return None if isinstance(value, list) else value


def to_datetime(value: Value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            return parse_absolute(value)
        except ValueError:
            return None
    return None


def to_string(value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return str(value)


def _strict(fn: Callable[..., Value]) -> Function:
    """Null or multi-valued arguments give null."""

    def wrapped(*args: Value) -> Value:
        if any(a is None or isinstance(a, list) for a in args):
            return None
        return fn(*args)

    return wrapped


def _number(value: Value) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return None


def _to_integer(value: Value) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    number = _number(value)
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        return None
    return int(number)


def _to_double(value: Value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        return float(value.timestamp() * 1000)
    number = _number(value)
    return None if number is None else float(number)


def _to_boolean(value: Value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, int | float):
        return value != 0
    return None


def _to_ip(value: Value) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _mv(fn: Callable[..., Value]) -> Function:
    """A multi-value function: sees every value of its first argument."""

    def wrapped(value: Value, *rest: Value) -> Value:
        items = values(value)
        if not items:
            return None
        return fn(items, *rest)

    return wrapped


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    return (3, str(value))


def _mv_slice(items: list[Any], start: Value, end: Value = None) -> Value:
    n = len(items)
    s = int(start)
    e = s if end is None else int(end)
    if s < 0:
        s += n
    if e < 0:
        e += n
    if s >= n or e < 0 or s > e:
        return None
    return pack(items[max(s, 0) : min(e, n - 1) + 1])


def _mv_dedupe(items: list[Any]) -> Value:
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return pack(seen)


def _concat(*args: Value) -> Value:
    if any(a is None or isinstance(a, list) for a in args):
        return None
    return "".join(to_string(a) or "" for a in args)


def _coalesce(*args: Value) -> Value:
    for arg in args:
        if arg is not None:
            return arg
    return None


def _greatest(*args: Value) -> Value:
    items = [v for a in args for v in values(a)]
    if any(a is None for a in args) or not items:
        return None
    return max(items, key=_sort_key)


def _least(*args: Value) -> Value:
    items = [v for a in args for v in values(a)]
    if any(a is None for a in args) or not items:
        return None
    return min(items, key=_sort_key)


def _round(value: Value, digits: Value = 0) -> Value:
    if value is None or digits is None or isinstance(value, list):
        return None
    d = int(digits)
    if isinstance(value, int) and not isinstance(value, bool):
        if d >= 0:
            return value
        factor = 10 ** (-d)
        return int(math.floor(abs(value) / factor + 0.5) * factor) * (1 if value >= 0 else -1)
    factor = 10.0**d
    scaled = abs(float(value)) * factor
    result = math.floor(scaled + 0.5) / factor
    return result if value >= 0 else -result


def _substring(text: str, start: int, length: Value = None) -> str:
    begin = int(start) - 1 if int(start) > 0 else max(len(text) + int(start), 0)
    if length is None:
        return text[begin:]
    return text[begin : begin + max(int(length), 0)]


def _locate(text: str, sub: str, start: Value = None) -> int:
    begin = max(int(start) - 1, 0) if start is not None else 0
    return text.find(sub, begin) + 1


def _split(text: str, delimiter: str) -> Value:
    return pack(text.split(delimiter)) if delimiter else pack(list(text))


def _replace(text: str, regex: str, replacement: str) -> Value:
    import re

    java_groups = re.sub(r"\$(\d+)", r"\\\1", replacement)
    try:
        return re.sub(regex, java_groups, text)
    except re.error:
        return None  # an invalid regex: null, as Elasticsearch (with a warning)


def _from_base64(text: str) -> Value:
    # Java's strict decoder: invalid input, or bytes that are not UTF-8, give null.
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
    except ValueError:
        return None


def _url_decode(text: str) -> Value:
    import re

    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        return None  # Java's URLDecoder rejects a malformed escape
    try:
        return urllib.parse.unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return None


def _cidr_match(ip: Value, *blocks: Value) -> Value:
    if ip is None or isinstance(ip, list):
        return None
    try:
        address = ipaddress.ip_address(str(ip))
    except ValueError:
        return None
    for block in (v for b in blocks for v in values(b)):
        try:
            if address in ipaddress.ip_network(str(block), strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


_TRUNC_UNITS = {
    "year",
    "quarter",
    "month",
    "week",
    "day",
    "hour",
    "minute",
    "second",
    "millisecond",
}


def date_trunc(span: Any, value: Value) -> Value:
    """``DATE_TRUNC(1 hour, date)``: ``span`` is a (count, unit) pair."""
    date = to_datetime(single(value))
    if date is None or span is None:
        return None
    count, unit = span
    date = date.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    if unit in ("year", "quarter", "month"):
        months = {"year": 12, "quarter": 3, "month": 1}[unit] * count
        total = date.year * 12 + date.month - 1
        total -= total % months
        return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)
    if unit == "week":
        # Weeks start on Monday; 1970-01-05 was one.
        step = timedelta(weeks=count)
        start = datetime(1970, 1, 5, tzinfo=UTC)
        return start + ((date - start) // step) * step
    seconds = {"day": 86400, "hour": 3600, "minute": 60, "second": 1, "millisecond": 0.001}[unit]
    step = timedelta(seconds=seconds * count)
    return epoch + ((date - epoch) // step) * step


_DIFF_UNITS = {
    **dict.fromkeys(("year", "years", "yy", "yyyy"), "year"),
    **dict.fromkeys(("quarter", "quarters", "qq", "q"), "quarter"),
    **dict.fromkeys(("month", "months", "mm", "m"), "month"),
    **dict.fromkeys(("dayofyear", "dy", "y"), "day"),
    **dict.fromkeys(("day", "days", "dd", "d"), "day"),
    **dict.fromkeys(("week", "weeks", "wk", "ww"), "week"),
    **dict.fromkeys(("weekday", "weekdays", "dw"), "day"),
    **dict.fromkeys(("hour", "hours", "hh"), "hour"),
    **dict.fromkeys(("minute", "minutes", "mi", "n"), "minute"),
    **dict.fromkeys(("second", "seconds", "ss", "s"), "second"),
    **dict.fromkeys(("millisecond", "milliseconds", "ms"), "millisecond"),
    **dict.fromkeys(("microsecond", "microseconds", "mcs"), "microsecond"),
    **dict.fromkeys(("nanosecond", "nanoseconds", "ns"), "nanosecond"),
}


def _date_diff(unit: str, start: Value, end: Value) -> Value:
    a, b = to_datetime(start), to_datetime(end)
    canonical = _DIFF_UNITS.get(str(unit).lower())
    if a is None or b is None or canonical is None:
        return None
    if canonical in ("year", "quarter", "month"):
        months = (b.year - a.year) * 12 + (b.month - a.month)
        if months > 0 and (b.day, b.time()) < (a.day, a.time()):
            months -= 1
        elif months < 0 and (b.day, b.time()) > (a.day, a.time()):
            months += 1
        return int(months / {"year": 12, "quarter": 3, "month": 1}[canonical])
    micro = (b - a) // timedelta(microseconds=1)
    per = {
        "week": 604_800_000_000,
        "day": 86_400_000_000,
        "hour": 3_600_000_000,
        "minute": 60_000_000,
        "second": 1_000_000,
        "millisecond": 1_000,
        "microsecond": 1,
    }
    if canonical == "nanosecond":
        return micro * 1000
    return int(micro / per[canonical])


def _date_format(*args: Value) -> Value:
    date = to_datetime(args[-1])
    if date is None:
        return None
    if len(args) == 1:
        return to_string(date)
    java = str(args[0])
    mapping = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"),
               ("ss", "%S"), ("SSS", "{ms}")]  # fmt: skip
    for java_token, python_token in mapping:
        java = java.replace(java_token, python_token)
    return date.strftime(java).replace("{ms}", f"{date.microsecond // 1000:03d}")


def _json_path(path: str) -> list[str | int] | None:
    """``$.a.b``, ``a[0]``, ``['a.b'].c``: the keys and indices of a JSON path."""
    import re

    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    parts: list[str | int] = []
    token = re.compile(r"""\.?([^.\[\]'"]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")
    position = 0
    while position < len(text):
        m = token.match(text, position)
        if m is None:
            return None
        name, index, single_quoted, double_quoted = m.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(next(p for p in (name, single_quoted, double_quoted) if p is not None))
        position = m.end()
    return parts


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


def _json_extract(text: Value, path: Value) -> Value:
    import json

    parts = _json_path(str(path))
    try:
        current = json.loads(str(text), object_pairs_hook=_first_key_wins)
    except ValueError:
        return None
    if parts is None:
        return None
    for part in parts:
        in_object = isinstance(current, dict) and isinstance(part, str) and part in current
        in_array = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if not (in_object or in_array):
            return None
        current = current[part]
    if current is None:
        return None
    if isinstance(current, bool):
        return "true" if current else "false"
    return current if isinstance(current, str) else json.dumps(current, separators=(",", ":"))


def _mv_sum(items: list[Any]) -> Value:
    numbers = [_number(v) for v in items]
    if any(n is None for n in numbers):
        return None
    return sum(n for n in numbers if n is not None)


def _mv_avg(items: list[Any]) -> Value:
    total = _mv_sum(items)
    return None if total is None else total / len(items)


def _mv_median(items: list[Any]) -> Value:
    ordered = sorted(items, key=_sort_key)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    low, high = ordered[middle - 1], ordered[middle]
    if isinstance(low, int) and isinstance(high, int):
        return (low + high) // 2
    return (low + high) / 2


def _mv_sort(items: list[Any], order: Value = "ASC") -> Value:
    return pack(sorted(items, key=_sort_key, reverse=str(order).upper() == "DESC"))


def _mv_contains(superset: Value, subset: Value) -> Value:
    if subset is None:
        return True
    return all(v in values(superset) for v in values(subset))


def _mv_intersection(a: Value, b: Value) -> Value:
    right = values(b)
    return _mv_dedupe([v for v in values(a) if v in right]) if a is not None else None


def _abs(value: Value) -> Value:
    return abs(value) if isinstance(value, int | float) else None


FUNCTIONS: dict[str, Function] = {
    "to_lower": lambda v: pack([str(x).lower() for x in values(v)]),
    "to_upper": lambda v: pack([str(x).upper() for x in values(v)]),
    "to_string": lambda v: None if v is None else pack([to_string(x) for x in values(v)]),
    "to_str": lambda v: None if v is None else pack([to_string(x) for x in values(v)]),
    "to_integer": lambda v: pack([_to_integer(x) for x in values(v)]),
    "to_int": lambda v: pack([_to_integer(x) for x in values(v)]),
    "to_long": lambda v: pack([_to_integer(x) for x in values(v)]),
    "to_double": lambda v: pack([_to_double(x) for x in values(v)]),
    "to_dbl": lambda v: pack([_to_double(x) for x in values(v)]),
    "to_boolean": lambda v: pack([_to_boolean(x) for x in values(v)]),
    "to_bool": lambda v: pack([_to_boolean(x) for x in values(v)]),
    "to_ip": lambda v: pack([_to_ip(x) for x in values(v)]),
    "to_datetime": lambda v: pack([to_datetime(x) for x in values(v)]),
    "to_dt": lambda v: pack([to_datetime(x) for x in values(v)]),
    "length": _strict(lambda s: len(str(s))),
    "trim": _strict(lambda s: str(s).strip()),
    "ltrim": _strict(lambda s: str(s).lstrip()),
    "rtrim": _strict(lambda s: str(s).rstrip()),
    "starts_with": _strict(lambda s, p: str(s).startswith(str(p))),
    "ends_with": _strict(lambda s, p: str(s).endswith(str(p))),
    "substring": _strict(_substring),
    "locate": _strict(_locate),
    "split": _strict(_split),
    "replace": _strict(_replace),
    "concat": _concat,
    "coalesce": _coalesce,
    "greatest": _greatest,
    "least": _least,
    "round": _round,
    "abs": _strict(_abs),
    "from_base64": _strict(_from_base64),
    "to_base64": _strict(lambda s: base64.b64encode(str(s).encode()).decode()),
    "url_decode": _strict(_url_decode),
    "url_encode": _strict(lambda s: urllib.parse.quote_plus(str(s))),
    "cidr_match": _cidr_match,
    "date_diff": _strict(_date_diff),
    "date_format": _strict(_date_format),
    "json_extract": _strict(_json_extract),
    "mv_count": lambda v: len(values(v)) if v is not None else None,
    "mv_first": _mv(lambda items: items[0]),
    "mv_last": _mv(lambda items: items[-1]),
    "mv_min": _mv(lambda items: min(items, key=_sort_key)),
    "mv_max": _mv(lambda items: max(items, key=_sort_key)),
    "mv_sum": _mv(_mv_sum),
    "mv_avg": _mv(_mv_avg),
    "mv_median": _mv(_mv_median),
    "mv_dedupe": _mv(_mv_dedupe),
    "mv_sort": _mv(_mv_sort),
    "mv_slice": _mv(_mv_slice),
    "mv_concat": lambda v, sep: (
        None if v is None or sep is None else str(sep).join(to_string(x) or "" for x in values(v))
    ),
    "mv_contains": _mv_contains,
    "mv_intersection": _mv_intersection,
    "md5": _strict(lambda s: __import__("hashlib").md5(str(s).encode()).hexdigest()),
    "sha1": _strict(lambda s: __import__("hashlib").sha1(str(s).encode()).hexdigest()),
    "sha256": _strict(lambda s: __import__("hashlib").sha256(str(s).encode()).hexdigest()),
}
