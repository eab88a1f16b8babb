"""Ages and timestamps the way kubectl shows them (``5s``, ``3m20s``, ``2h``, ``4d``)."""

from __future__ import annotations

from datetime import datetime, timezone

from mixfleet.api.times import try_parse_time

UNKNOWN = "<unknown>"


def format_age(seconds: float) -> str:
    """kubectl's HumanDuration: more precision for young things, less for old ones."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return _pair(minutes, "m", s % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _pair(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _pair(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _pair(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}{small}{small_unit}" if small else f"{big}{big_unit}"


def age(value: object, *, now: datetime) -> str:
    """The age of a timestamp at ``now``, ``<unknown>`` when there is none."""
    ts = try_parse_time(value)
    if ts is None:
        return UNKNOWN
    return format_age((now - ts).total_seconds())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
