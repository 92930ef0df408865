"""Reading fields out of documents the way Kibana's JavaScript does.

Kibana's alert code reads values with lodash (``get``), compares them with ``===`` and
``SameValueZero``, and turns them into text with ``Array.prototype.join``.  The helpers here
reproduce those semantics on Python's JSON values (dict, list, str, int, float, bool, None), so
that what our alerts say matches what Kibana's would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any


def lodash_get(doc: Mapping[str, Any] | None, path: str) -> Any:
    """lodash ``get(doc, path)``: a literal key ``path`` wins, else walk the dotted segments.

    ``{"host.name": "a"}`` and ``{"host": {"name": "a"}}`` both give ``"a"``; a mix such as
    ``{"host": {"os.name": ...}}`` is not resolved (nor is it by lodash).  Missing -> None.
    """
    if doc is None:
        return None
    if path in doc:
        return doc[path]
    current: Any = doc
    for segment in path.split("."):
        if isinstance(current, Mapping):
            if segment not in current:
                return None
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return None
    return current


def fields_view(source: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What Elasticsearch's ``fields: ["*"]`` option returns for a ``_source``: every leaf under
    its full dotted name, values always in a list, arrays (also of objects) flattened, nulls and
    empty arrays left out.

    Type coercion by the index mapping (a ``"443"`` string in a ``long`` field comes back as
    ``443``) and multi-fields cannot be reproduced without the mapping and are not attempted.
    """
    out: dict[str, list[Any]] = {}
    for name, value in _leaves("", source):
        out.setdefault(name, []).append(value)
    return out


def _leaves(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _leaves(f"{prefix}.{key}" if prefix else str(key), child)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(prefix, item)
    elif value is not None and prefix:
        yield prefix, value


def is_plain_object(value: Any) -> bool:
    """lodash ``isPlainObject`` for JSON values: a JSON object."""
    return isinstance(value, Mapping)


def same_value_zero(a: Any, b: Any) -> bool:
    """JavaScript ``SameValueZero`` (also ``===`` here) between two JSON values.

    Objects and arrays compare by reference in JavaScript; two documents parsed from JSON never
    share one, so containers are never equal.  ``true`` is not ``1``; ``1`` is ``1.0``.
    """
    if isinstance(a, Mapping | list) or isinstance(b, Mapping | list):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or (math.isnan(a) and math.isnan(b))  # SameValueZero: NaN is NaN
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and bool(a == b)


def js_string(value: Any) -> str:
    """``String(value)`` as ``Array.prototype.join`` applies it to each element."""
    if value is None:
        return ""  # join() writes null and undefined as empty strings
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(js_string(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def js_number(value: float) -> str:
    """ECMAScript ``Number::toString`` for a float (shortest round-trip digits)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digit_tuple).rstrip("0")
    assert isinstance(exponent, int)  # finite values only, checked above
    exponent += len("".join(str(d) for d in digit_tuple)) - len(digits)
    k = len(digits)
    n = exponent + k  # the decimal point sits after n digits
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text
