"""Elasticsearch dates in Python, matching the ``es_date_ms`` SQL macro the loader uses.

The default date format is ``strict_date_optional_time||epoch_millis``: an ISO 8601 date with
optional time, fraction and zone (no zone means UTC), or epoch milliseconds as a number or a
numeric string.  A 4-digit string is a year, since the date format is tried first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["datetime_ms", "parse_es_date_ms"]

_ISO = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?)?)?)?"
    r"(?P<z>Z|z|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def datetime_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware (or UTC-naive) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_es_date_ms(text: str) -> int | None:
    """Epoch milliseconds for an Elasticsearch date string, or None when it is not one."""
    stripped = text.strip()
    iso = _ISO.fullmatch(stripped)
    if iso is not None and (len(stripped) == 4 or iso["mo"] is not None):
        return _iso_ms(iso)
    if _EPOCH.fullmatch(stripped):
        return int(float(stripped) // 1) if "." in stripped else int(stripped)
    return None


def _iso_ms(match: re.Match[str]) -> int | None:
    fraction = (match["f"] or "0")[:6].ljust(6, "0")
    try:
        value = datetime(
            int(match["y"]),
            int(match["mo"] or 1),
            int(match["d"] or 1),
            int(match["h"] or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
            int(fraction),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    millis = datetime_ms(value)
    zone = match["z"]
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        millis -= sign * (hours * 60 + minutes) * 60_000
    return millis
