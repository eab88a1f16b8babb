"""Helpers shared by the scheduler tests."""

from __future__ import annotations

from collections.abc import Iterable

from mixfleet.scheduler import (
    Placement,
    Scheduler,
    SchedulerConfig,
    Snapshot,
    Unschedulable,
)


def place(pod: dict, nodes: Iterable[dict], *, pods: Iterable[dict] = (), strategy: str = "binpack", seed: str = "") -> Placement | Unschedulable:
    """Schedule one pod over a fresh snapshot of ``nodes`` with ``pods`` bound."""
    cfg = SchedulerConfig(strategy=strategy)
    return Scheduler(cfg).schedule(pod, Snapshot.build(list(nodes), list(pods), config=cfg), seed=seed)


def node_of(result: Placement | Unschedulable) -> str | None:
    return result.node_name if isinstance(result, Placement) else None


def place_batch(pods: Iterable[dict], nodes: Iterable[dict], *, strategy: str = "binpack") -> list[Placement | Unschedulable]:
    """Schedule ``pods`` one after another over one snapshot, assuming each placement."""
    cfg = SchedulerConfig(strategy=strategy)
    snap, sched = Snapshot.build(list(nodes), [], config=cfg), Scheduler(cfg)
    results = []
    for pod in pods:
        result = sched.schedule(pod, snap)
        if isinstance(result, Placement):
            snap.assume(pod, result)
        results.append(result)
    return results
