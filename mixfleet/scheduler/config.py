"""Cluster-wide scheduler settings (frozen; one per control plane)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixfleet.api.quantity import cpu_millis, memory_bytes
from mixfleet.scheduler.requirements import STRATEGIES


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each score counts; every score is on a 0..100 scale before weighting.
    The defaults follow kube-scheduler's (taints 3, node affinity 2, pod affinity 2,
    resources 1, image locality 1). Isolation preference outweighs packing so that an
    ``auto`` pod takes Hyper-V only where no process-isolation host has room."""

    strategy: float = 1.0
    image_locality: float = 1.0
    node_affinity: float = 2.0
    taint_toleration: float = 3.0
    anti_affinity: float = 2.0
    isolation_preference: float = 3.0


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    strategy: str = "binpack"  # binpack | spread; a pod's spec.schedulingStrategy overrides it
    # Added to a Hyper-V pod's requests on nodes that do not report
    # status.platform.hypervOverhead (a node class that does report it overrides this).
    hyperv_overhead_cpu: str = "100m"
    hyperv_overhead_memory: str = "512Mi"
    weights: Weights = field(default_factory=Weights)
    # Image holders scanned explicitly per pod; above this the search widens its bound instead.
    image_holder_scan_limit: int = 256
    # Parsed pod templates kept; the cache is cleared when full (templates are cheap to redo).
    template_cache_size: int = 4096

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")

    @property
    def default_overhead(self) -> tuple[int, int]:
        return cpu_millis(self.hyperv_overhead_cpu), memory_bytes(self.hyperv_overhead_memory)
