"""Durations, Elasticsearch date math and absolute times.

Rules carry ``interval = "5m"`` and ``from = "now-9m"``; the CLI takes ``--now``, ``--from``,
``--since`` as ISO 8601 or date math.  All datetimes in the runner are timezone-aware UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from runner.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$")
_DURATION_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
# Elasticsearch date-math units (case matters: M is month, m is minute; H and h are hours).
_MATH_OP = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")


class TimeParseError(UsageError):
    """A duration, date-math expression or timestamp that cannot be read."""


def parse_duration(text: str) -> timedelta:
    """``"5m"`` -> 5 minutes.  Units: ms, s, m, h, d, w."""
    match = _DURATION.match(text)
    if match is None:
        raise TimeParseError(
            f"invalid duration {text!r}: expected a number and a unit (ms, s, m, h, d, w), e.g. 5m"
        )
    try:
        return int(match.group(1)) * _DURATION_UNITS[match.group(2)]
    except OverflowError:
        raise TimeParseError(f"invalid duration {text!r}: too long") from None


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: 300 s -> ``"5m"``."""
    ms = round(value.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_datemath(text: str, now: datetime) -> datetime:
    """Evaluate Elasticsearch date math such as ``now-9m``, ``now-1d/d`` against ``now``.

    An expression may also start from an absolute time followed by ``||``
    (``2024-01-01||+1d``), as Elasticsearch allows.
    """
    expr = text.strip()
    if expr.startswith("now"):
        anchor, rest = now, expr[3:]
    elif "||" in expr:
        head, rest = expr.split("||", 1)
        anchor = parse_absolute(head)
    else:
        raise TimeParseError(f"invalid date math {text!r}: must start with 'now' or 'DATE||'")
    pos = 0
    result = anchor
    while pos < len(rest):
        match = _MATH_OP.match(rest, pos)
        if match is None:
            raise TimeParseError(
                f"invalid date math {text!r} at {rest[pos:]!r}: expected +N<unit>, -N<unit> "
                "or /<unit> (units y M w d h H m s)"
            )
        sign, amount, unit, round_unit = match.groups()
        if round_unit is not None:
            result = _round_down(result, round_unit)
        else:
            delta = int(amount) if sign == "+" else -int(amount)
            try:
                result = _shift(result, delta, unit)
            except (OverflowError, ValueError):
                raise TimeParseError(
                    f"invalid date math {text!r}: {sign}{amount}{unit} leaves the supported "
                    "years 1-9999"
                ) from None
        pos = match.end()
    return result


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An absolute time (ISO 8601 or epoch milliseconds) or date math relative to ``now``."""
    stripped = text.strip()
    if stripped.startswith("now") or "||" in stripped:
        return parse_datemath(stripped, now or utcnow())
    return parse_absolute(stripped)


def parse_absolute(text: str) -> datetime:
    """ISO 8601 (a missing zone means UTC, as in Elasticsearch) or epoch milliseconds."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d{10,}", stripped):
        try:
            return datetime.fromtimestamp(int(stripped) / 1000, tz=UTC)
        except (OverflowError, ValueError, OSError):
            raise TimeParseError(
                f"invalid time {text!r}: epoch milliseconds outside the years 1-9999"
            ) from None
    try:
        value = datetime.fromisoformat(stripped.replace("z", "Z"))
    except ValueError:
        raise TimeParseError(
            f"invalid time {text!r}: expected ISO 8601 (2024-05-01T12:00:00Z), epoch "
            "milliseconds, or date math (now-1h)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat(value: datetime) -> str:
    """Elasticsearch's canonical form: UTC with milliseconds and ``Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _shift(value: datetime, amount: int, unit: str) -> datetime:
    if unit in ("y", "M"):
        months = amount * (12 if unit == "y" else 1)
        index = value.month - 1 + months
        year, month = value.year + index // 12, index % 12 + 1
        day = min(value.day, calendar.monthrange(year, month)[1])
        return value.replace(year=year, month=month, day=day)
    # _MATH_OP admits only date-math units here: w d h H m s.
    step = _DURATION_UNITS["h" if unit == "H" else unit]
    return value + amount * step


def _round_down(value: datetime, unit: str) -> datetime:
    if unit == "y":
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        start = value - timedelta(days=value.weekday())
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit in ("h", "H"):
        return value.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return value.replace(second=0, microsecond=0)
    return value.replace(microsecond=0)
