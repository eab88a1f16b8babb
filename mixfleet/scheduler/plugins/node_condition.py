"""Cordoned (spec.unschedulable) and NotReady nodes take no new pods.

As Kubernetes' NodeUnschedulable plugin does, a pod that tolerates the
``node.kubernetes.io/unschedulable:NoSchedule`` taint may still go to a cordoned node:
DaemonSet pods carry that toleration (api/daemonsets.py), so a node agent's pod is made
on a cordoned node too.
"""

from __future__ import annotations

from mixfleet.scheduler.nodes import ClassFacts, Taint
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.plugins.taints import tolerated
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import NODE_CORDONED, NODE_NOT_READY, Status

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


class NodeCondition:
    name = "NodeCondition"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if facts.unschedulable and not tolerated(req, UNSCHEDULABLE_TAINT):
            return Status.unschedulable(NODE_CORDONED)
        if not facts.ready:
            return Status.unschedulable(NODE_NOT_READY)
        return None


PLUGIN = NodeCondition()
