"""A node whose agent reports DiskPressure takes no new pods: one with a full disk cannot
pull images or write container layers, so a pod placed there would only fail to start.

As Kubernetes does (TaintNodesByCondition), a pod that tolerates the
``node.kubernetes.io/disk-pressure:NoSchedule`` taint may still go there. Pods already on
the node stay: evicting them is the agent's business, not the scheduler's.
"""

from __future__ import annotations

from mixfleet.scheduler.nodes import ClassFacts, Taint
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.plugins.taints import tolerated
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import NODE_DISK_PRESSURE, Status

DISK_PRESSURE_TAINT = Taint("node.kubernetes.io/disk-pressure", "", "NoSchedule")


class DiskPressure:
    name = "DiskPressure"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if facts.disk_pressure and not tolerated(req, DISK_PRESSURE_TAINT):
            return Status.unschedulable(NODE_DISK_PRESSURE)
        return None


PLUGIN = DiskPressure()
