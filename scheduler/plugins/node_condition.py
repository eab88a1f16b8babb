"""Cordoned (spec.unschedulable) and NotReady nodes take no new pods."""

from __future__ import annotations

from scheduler.plugins.base import ClassState, Context
from scheduler.nodes import ClassFacts
from scheduler.requirements import PodRequirements
from scheduler.status import NODE_CORDONED, NODE_NOT_READY, Status


class NodeCondition:
    name = "NodeCondition"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if facts.unschedulable:
            return Status.unschedulable(NODE_CORDONED)
        if not facts.ready:
            return Status.unschedulable(NODE_NOT_READY)
        return None


PLUGIN = NodeCondition()
