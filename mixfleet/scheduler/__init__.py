"""Mixfleet's placement library: pure Python over a snapshot of nodes (no gRPC, Docker or store).

    cfg = SchedulerConfig(strategy="binpack")
    snap = Snapshot.build(nodes, pods, config=cfg)
    result = Scheduler(cfg).schedule(pod, snap, seed=uid)   # Placement | Unschedulable
    snap.assume(pod, result)                                 # the next decision sees it

Layout: ``registry.py`` lists the pipeline; ``plugins/`` holds one module per check or
score; ``versions.py`` the Windows build rules; ``snapshot.py`` the indexes; ``plan.py``
the per-template class verdicts; ``search.py`` the walk; ``explain.py`` the message.
"""

from mixfleet.scheduler.config import SchedulerConfig, Weights
from mixfleet.scheduler.results import Placement, Unschedulable
from mixfleet.scheduler.scheduler import Scheduler
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import Code, Status

__all__ = ["Code", "Placement", "Scheduler", "SchedulerConfig", "Snapshot", "Status", "Unschedulable", "Weights"]
