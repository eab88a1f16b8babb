"""Kubernetes resource quantities (``500m``, ``1.5``, ``128Mi``, ``2G``) as numbers.

Parsing is ``kubernetes.utils.parse_quantity``; this module adds what it lets through but
Kubernetes rejects (whitespace, ``NaN``/``Infinity``, the ``K`` suffix, booleans, negative
values) and converts to the integer units the scheduler counts in: CPU millicores and
memory bytes, rounded up as the kubelet does. The integer forms are cached: a fleet repeats
the same few strings, and the scheduler reads them for every node and pod it loads.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

from kubernetes.utils import parse_quantity

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


# The largest quantity accepted, in base units (cores, bytes): Kubernetes keeps quantities
# as int64. Checked on the Decimal, before any conversion to an integer: math.ceil of
# "1e1000000" builds a million-digit integer, which held the event loop for 26 s.
MAX_QUANTITY = Decimal(2**63 - 1)
MAX_QUANTITY_TEXT = 64  # characters; any real quantity is far shorter


class QuantityError(ValueError):
    """A resource quantity that Kubernetes would not accept."""


def _invalid(q: object, why: str = "") -> QuantityError:
    shown = q if isinstance(q, str) else repr(q)
    return QuantityError(f'invalid quantity "{shown}"' + (f": {why}" if why else ""))


def parse(q: str | int | float) -> Decimal:
    """The quantity's value in base units (cores, bytes); QuantityError when malformed or negative."""
    if isinstance(q, bool) or not isinstance(q, (str, int, float, Decimal)):
        raise _invalid(q, "must be a string or a number")
    if isinstance(q, str) and (q != q.strip() or q.endswith("K")):
        # parse_quantity tolerates these; Kubernetes does not (only lower-case "k").
        raise _invalid(q)
    if isinstance(q, str) and len(q) > MAX_QUANTITY_TEXT:
        raise _invalid(q[:MAX_QUANTITY_TEXT] + "...", f"longer than {MAX_QUANTITY_TEXT} characters")
    try:
        value: Decimal = parse_quantity(q)  # type: ignore[no-untyped-call]  # kubernetes ships no types
    except (ValueError, ArithmeticError) as e:
        raise _invalid(q) from e
    if not value.is_finite():
        raise _invalid(q)
    if value < 0:
        raise _invalid(q, "must not be negative")
    if value > MAX_QUANTITY:
        raise _invalid(q, f"must be at most {MAX_QUANTITY} (2^63-1)")
    return value


# typed: True == 1 as a cache key, and booleans must stay refused.
@lru_cache(maxsize=4096, typed=True)
def cpu_millis(q: str | int | float) -> int:
    """CPU in millicores: ``"500m"`` -> 500, ``"1.5"`` -> 1500; fractions of a milli round up."""
    return math.ceil(parse(q) * 1000)


@lru_cache(maxsize=4096, typed=True)
def memory_bytes(q: str | int | float) -> int:
    """Memory in bytes: ``"128Mi"`` -> 134217728; fractions of a byte round up."""
    return math.ceil(parse(q))


def format_cpu(millis: int) -> str:
    """Millicores as users write them: 2000 -> ``"2"``, 250 -> ``"250m"``."""
    if millis < 0:
        raise ValueError(f"invalid cpu {millis}m: must not be negative")
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(nbytes: int) -> str:
    """Bytes with the largest exact binary suffix: 134217728 -> ``"128Mi"``, 1000 -> ``"1000"``."""
    if nbytes < 0:
        raise ValueError(f"invalid memory {nbytes}: must not be negative")
    for suffix, size in _BINARY:
        if nbytes and nbytes % size == 0:
            return f"{nbytes // size}{suffix}"
    return str(nbytes)
