"""Timestamps as Kubernetes writes and reads them: RFC 3339 in UTC, ``2024-05-01T12:00:00Z``
for object times, with microseconds (``...:00.123456Z``) where order within one second
matters (Lease renewals, pods made in one burst). The one place that formats or parses them."""

from __future__ import annotations

import datetime as dt

_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
_MICROS = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(t: dt.datetime) -> str:
    """``t`` in UTC to the second (a naive ``t`` is taken as UTC)."""
    return _utc(t).strftime(_SECONDS)


def format_micro(t: dt.datetime) -> str:
    """``t`` in UTC to the microsecond (Kubernetes' MicroTime)."""
    return _utc(t).strftime(_MICROS)


def format_epoch(epoch: float) -> str:
    return format_time(dt.datetime.fromtimestamp(epoch, dt.timezone.utc))


def now() -> str:
    """The current time, to the second."""
    return format_time(dt.datetime.now(dt.timezone.utc))


def now_micro() -> str:
    """The current time, to the microsecond: objects made in one burst still order."""
    return format_micro(dt.datetime.now(dt.timezone.utc))


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 timestamp (``Z`` or an offset, optional fraction of up to nine digits, as
    Docker writes) as an aware datetime; no offset means UTC. Raises ValueError."""
    head, dot, frac = text.partition(".")
    if dot:
        # Python parses at most microseconds; Docker and Go write nanoseconds.
        digits = len(frac) - len(frac.lstrip("0123456789"))
        frac = frac[:min(digits, 6)] + frac[digits:]
        text = f"{head}.{frac}"
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def try_parse_time(value: object) -> dt.datetime | None:
    """Like :func:`parse_time`, None for anything that is not such a timestamp."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def epoch(value: object, *, default: float = 0.0) -> float:
    """Seconds since the epoch of a timestamp, ``default`` when absent or malformed."""
    t = try_parse_time(value)
    return t.timestamp() if t is not None else default


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)
