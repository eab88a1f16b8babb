"""What ``Scheduler.schedule`` returns: a Placement or an Unschedulable, never an exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mixfleet.scheduler.status import Code


@dataclass(frozen=True, slots=True)
class Placement:
    node_name: str
    isolation: str | None  # "process" | "hyperv" for Windows, None for Linux
    images: dict[str, str]  # container name -> image to run
    score: float
    # What the pod is charged on the node (requests plus any Hyper-V overhead).
    cpu_millis: int = 0
    memory_bytes: int = 0

    def binding(self) -> dict[str, Any]:
        """The ``spec.binding`` the node agent follows (docs/MANIFESTS.md); ``isolation`` is
        left out for Linux pods."""
        out: dict[str, Any] = {"images": dict(self.images)}
        if self.isolation is not None:
            out["isolation"] = self.isolation
        return out


@dataclass(frozen=True, slots=True)
class Unschedulable:
    message: str  # "0/12 nodes are available: 7 node OS is windows, pod needs linux; ..."
    reasons: dict[str, int] = field(default_factory=dict)
    code: Code = Code.UNSCHEDULABLE  # UNRESOLVABLE when waiting cannot help, ERROR for a bad pod

    @property
    def resolvable(self) -> bool:
        """False when no node could ever fit as things stand (e.g. only OS/build mismatch)."""
        return self.code is Code.UNSCHEDULABLE
