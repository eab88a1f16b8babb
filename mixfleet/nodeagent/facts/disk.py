"""Disk pressure: the free space of the directories a node fills (the engine's data root,
where images and container layers go, and the agent's own state), against a threshold.

Kubernetes' kubelet reports the ``DiskPressure`` node condition when ``nodefs.available``
or ``imagefs.available`` falls under its eviction threshold (10% and 15% by default); the
scheduler then keeps new pods away. Mixfleet uses one threshold for every watched path: a
node whose disk is full starts no container anyway, it only fails them one by one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Iterable

DEFAULT_MIN_FREE_FRACTION = 0.10  # kubelet's nodefs.available<10%


@dataclass(frozen=True, slots=True)
class DiskReport:
    pressure: bool
    message: str  # which path is short of space and how short, or "" without pressure


def disk_report(paths: Iterable[str], *, min_free_fraction: float = DEFAULT_MIN_FREE_FRACTION) -> DiskReport:
    """Pressure when any existing path's filesystem has less than ``min_free_fraction`` of
    its size free. Paths that do not exist here (an engine on another host) are skipped."""
    short = []
    for path in dict.fromkeys(p for p in paths if p):  # once each, in order
        if not os.path.isdir(path):
            continue
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            continue
        if usage.total and usage.free < usage.total * min_free_fraction:
            short.append(
                f"{path}: {_size(usage.free)} free of {_size(usage.total)} "
                f"({usage.free * 100 // usage.total}%, under {min_free_fraction:.0%})"
            )
    return DiskReport(bool(short), "; ".join(short))


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f}Gi" if n >= 1 << 30 else f"{n / (1 << 20):.1f}Mi"
