"""CPU, memory and pod slots: allocatable minus what bound and assumed pods request.

A Hyper-V pod is charged its requests plus the node class's utility-VM overhead
(``status.platform.hypervOverhead``, else SchedulerConfig's default); the plan computes
that charge per class. The search inlines the same comparison on the snapshot's arrays
(it is the hot loop); this function is the reference and gives the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixfleet.scheduler.status import (
    INSUFFICIENT_CPU,
    INSUFFICIENT_MEMORY,
    TOO_MANY_PODS,
    Status,
)

if TYPE_CHECKING:
    from mixfleet.scheduler.snapshot import Snapshot


def fits(snap: Snapshot, node: int, cpu: int, memory: int) -> Status | None:
    if snap.free_cpu[node] < cpu:
        return Status.unschedulable(INSUFFICIENT_CPU)
    if snap.free_mem[node] < memory:
        return Status.unschedulable(INSUFFICIENT_MEMORY)
    if snap.free_pods[node] < 1:
        return Status.unschedulable(TOO_MANY_PODS)
    return None
