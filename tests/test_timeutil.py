from datetime import UTC, datetime, timedelta

import pytest

from runner.timeutil import (
    TimeParseError,
    format_duration,
    isoformat,
    parse_datemath,
    parse_duration,
    parse_time,
)

NOW = datetime(2024, 3, 31, 12, 30, 15, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("90s", timedelta(seconds=90)),
        ("1h", timedelta(hours=1)),
        ("14d", timedelta(days=14)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "5", "m5", "5 minutes", "-5m", "5y", "1000000000d"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(TimeParseError, match="invalid duration"):
        parse_duration(bad)


def test_format_duration_shortest_exact_unit() -> None:
    assert format_duration(timedelta(seconds=300)) == "5m"
    assert format_duration(timedelta(seconds=90)) == "90s"
    assert format_duration(timedelta(days=2)) == "2d"
    assert format_duration(timedelta(milliseconds=1500)) == "1500ms"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("now", NOW),
        ("now-9m", NOW - timedelta(minutes=9)),
        ("now-14d", NOW - timedelta(days=14)),
        ("now+1h", NOW + timedelta(hours=1)),
        ("now/d", datetime(2024, 3, 31, tzinfo=UTC)),
        ("now-1M/d", datetime(2024, 2, 29, tzinfo=UTC)),  # month arithmetic clamps the day
        ("now-1y", NOW.replace(year=2023)),
        ("now-1d-2h", NOW - timedelta(days=1, hours=2)),
        ("2024-01-01T00:00:00Z||+1d", datetime(2024, 1, 2, tzinfo=UTC)),
    ],
)
def test_parse_datemath(expr: str, expected: datetime) -> None:
    assert parse_datemath(expr, NOW) == expected


@pytest.mark.parametrize(
    "bad", ["now-", "now-9", "now*2", "yesterday", "now-9x", "now-100000000000d", "now+9000y"]
)
def test_parse_datemath_rejects(bad: str) -> None:
    with pytest.raises(TimeParseError):
        parse_datemath(bad, NOW)


def test_parse_time_accepts_iso_epoch_and_math() -> None:
    assert parse_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("2024-05-01T14:00:00+02:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    # No zone means UTC, as in Elasticsearch.
    assert parse_time("2024-05-01T12:00:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("1714564800000") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("now-1h", NOW) == NOW - timedelta(hours=1)


def test_isoformat_is_utc_milliseconds_z() -> None:
    assert isoformat(NOW) == "2024-03-31T12:30:15.250Z"


def test_epoch_milliseconds_outside_python_s_years_are_a_parse_error() -> None:
    with pytest.raises(TimeParseError, match="outside the years"):
        parse_time("99999999999999999999")
