"""Kubernetes quantities as integers: CPU in millicores, memory in bytes.

A tiny local helper over ``kubernetes.utils.parse_quantity`` so the scheduler does not wait
on ``api/``; results are cached because a fleet repeats the same few strings.
"""

from __future__ import annotations

import math
from functools import lru_cache

from kubernetes.utils import parse_quantity


class QuantityError(ValueError):
    """A resource quantity that Kubernetes would not accept."""


@lru_cache(maxsize=4096)
def cpu_millis(value: str | int | float) -> int:
    """``"250m"`` -> 250, ``"2"`` -> 2000 (rounded up, as the kubelet does)."""
    return math.ceil(_parse(value) * 1000)


@lru_cache(maxsize=4096)
def memory_bytes(value: str | int | float) -> int:
    """``"512Mi"`` -> 536870912."""
    return math.ceil(_parse(value))


def _parse(value: str | int | float):  # -> Decimal
    try:
        return parse_quantity(value)
    except (ValueError, TypeError) as e:
        raise QuantityError(f"invalid quantity {value!r}") from e
