"""Reading a value list file for ``runner lists import``: one value a line, as Kibana's list
import takes it (blank lines skipped, surrounding whitespace trimmed).  Values are checked
against the list type; a bad line is reported with its file and line and left out."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from runner.errors import ValueListError
from runner.exceptions.model import LIST_TYPES

_NUMERIC = ("byte", "short", "integer", "long", "float", "half_float", "double")


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadValues:
    values: tuple[str, ...]
    problems: tuple[str, ...] = ()  # "file:line: reason" of each line left out


def check_type(kind: str) -> None:
    if kind not in LIST_TYPES:
        raise ValueListError(
            f"unknown field type {kind!r} (expected one of {', '.join(LIST_TYPES)})"
        )


def read_list_file(path: Path, kind: str) -> ReadValues:
    check_type(kind)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueListError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueListError(f"{path}: cannot read: {exc}") from None
    values: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if not value:
            continue
        reason = invalid(value, kind)
        if reason:
            problems.append(f"{path}:{number}: {reason}")
        else:
            values.append(value)
    return ReadValues(values=tuple(values), problems=tuple(problems))


def read_values(path: Path, kind: str) -> tuple[str, ...]:
    """The values, or an error naming every bad line (rule test cases must be exact)."""
    read = read_list_file(path, kind)
    if read.problems:
        raise ValueListError("; ".join(read.problems))
    return read.values


def invalid(value: str, kind: str) -> str | None:
    """Why ``value`` cannot be a ``kind`` list item (None when it can)."""
    if kind == "ip":
        return None if _is_address(value) else f"{value!r} is not an IP address"
    if kind == "ip_range":
        if "-" in value:
            low, _, high = value.partition("-")
            ok = _is_address(low) and _is_address(high)
            return None if ok else f"{value!r} is not an address range (a-b)"
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return f"{value!r} is not a CIDR range or address"
        return None
    if kind in _NUMERIC:
        try:
            float(value)
        except ValueError:
            return f"{value!r} is not a number"
    if kind == "boolean" and value not in ("true", "false"):
        return f"{value!r} is not true or false"
    return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True
