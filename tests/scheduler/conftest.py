"""Helpers shared by the scheduler tests."""

from __future__ import annotations

from collections.abc import Iterable

from scheduler import Placement, Scheduler, SchedulerConfig, Snapshot, Unschedulable


def place(pod: dict, nodes: Iterable[dict], *, pods: Iterable[dict] = (), strategy: str = "binpack", seed: str = "") -> Placement | Unschedulable:
    """Schedule one pod over a fresh snapshot of ``nodes`` with ``pods`` bound."""
    cfg = SchedulerConfig(strategy=strategy)
    return Scheduler(cfg).schedule(pod, Snapshot.build(list(nodes), list(pods), config=cfg), seed=seed)


def node_of(result: Placement | Unschedulable) -> str | None:
    return result.node_name if isinstance(result, Placement) else None
