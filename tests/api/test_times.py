"""Timestamps: one formatter and parser for every component (RFC 3339, UTC)."""

from __future__ import annotations

import datetime as dt

import pytest

from mixfleet.api import times

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, expected", [
    pytest.param("2026-11-26T08:16:44Z", dt.datetime(2026, 11, 26, 8, 16, 44, tzinfo=UTC), id="seconds"),
    pytest.param("2026-11-26T08:16:44.123456789Z", dt.datetime(2026, 11, 26, 8, 16, 44, 123456, tzinfo=UTC),
                 id="docker-nanoseconds"),
    pytest.param("2026-11-26T10:16:44+02:00", dt.datetime(2026, 11, 26, 8, 16, 44, tzinfo=UTC), id="offset"),
    pytest.param("2026-11-26T08:16:44", dt.datetime(2026, 11, 26, 8, 16, 44, tzinfo=UTC), id="naive-is-utc"),
])
def test_parse(text: str, expected: dt.datetime) -> None:
    """Kubernetes', Docker's and Go's timestamps parse to the same aware instant."""
    assert times.parse_time(text) == expected


def test_format_round_trips_and_orders() -> None:
    """Seconds and microsecond forms round-trip; microsecond stamps order within a second."""
    t = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert times.format_time(t) == "2026-01-02T03:04:05Z"
    assert times.format_micro(t) == "2026-01-02T03:04:05.678901Z"
    assert times.parse_time(times.format_micro(t)) == t
    assert times.format_epoch(t.timestamp()) == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize("value", [None, "", "yesterday", 42])
def test_malformed_is_none_or_default(value: object) -> None:
    """Absent or malformed timestamps read as None (or the given default), never raise."""
    assert times.try_parse_time(value) is None
    assert times.epoch(value, default=7.0) == 7.0
