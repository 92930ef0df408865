"""Items with value lists too large (or of a type) to inline, applied to the found events
after the search, as Kibana's ``filterEventsAgainstList`` does:

* items are applied one after the other to the events still included;
* an event is excluded by an item when every ``list`` entry holds for it (``included``: a
  value of the field is in the list; ``excluded``: the field has values and one is in the
  list, as Kibana's ``partitionEvents``), and every ``match``/``match_any``/``exists`` entry
  of the item holds too (exact comparison of the field's values; ``wildcard`` and
  ``nested`` entries are not checked there, as in Kibana's ``matchesScalarEntries``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from runner.docfields import field_values
from runner.exceptions.model import Entry, ExceptionItem
from runner.lists.model import ValueList


def excluded_by(
    source: Mapping[str, Any], items: Sequence[ExceptionItem], lists: Mapping[str, ValueList]
) -> ExceptionItem | None:
    """The first post-search item that excludes this event, if any."""
    for item in items:
        if _excludes(item, source, lists):
            return item
    return None


def _excludes(
    item: ExceptionItem, source: Mapping[str, Any], lists: Mapping[str, ValueList]
) -> bool:
    list_entries = [e for e in item.entries if e.type == "list"]
    for entry in list_entries:
        assert entry.list is not None
        values = [_text(v) for v in field_values(source, entry.field)]
        hit = any(in_list(v, lists[entry.list.id]) for v in values)
        if entry.operator == "included" and not hit:
            return False
        if entry.operator == "excluded" and (not values or hit):
            return False
    return all(_scalar_holds(e, source) for e in item.entries if e.type != "list")


def _scalar_holds(entry: Entry, source: Mapping[str, Any]) -> bool:
    values = [_text(v) for v in field_values(source, entry.field)]
    if entry.type == "match":
        matched = entry.value in values
    elif entry.type == "match_any":
        matched = any(v in (entry.value or ()) for v in values)
    elif entry.type == "exists":
        matched = bool(values)
    else:
        return True
    return matched if entry.operator == "included" else not matched


def in_list(value: str, value_list: ValueList) -> bool:
    kind = value_list.type
    if kind == "ip_range":
        return _in_ip_ranges(value, value_list.values)
    if kind == "ip":
        address = _address(value)
        return address is not None and any(_address(v) == address for v in value_list.values)
    if kind == "text":
        # A text list is analysed: the event value matches an item holding all its tokens.
        tokens = set(_tokens(value))
        return bool(tokens) and any(tokens <= set(_tokens(v)) for v in value_list.values)
    if kind in ("long", "integer", "short", "byte", "double", "float", "half_float"):
        number = _number(value)
        return number is not None and any(_number(v) == number for v in value_list.values)
    return value in value_list.values


def _in_ip_ranges(value: str, ranges: Sequence[str]) -> bool:
    address = _address(value)
    if address is None:
        return False
    for item in ranges:
        if "-" in item:
            low, _, high = item.partition("-")
            lo, hi = _address(low), _address(high)
            same = lo is not None and hi is not None and lo.version == hi.version == address.version
            if same and lo <= address <= hi:  # type: ignore[operator]  # same version checked
                return True
            continue
        try:
            network = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_TOKEN = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
