"""Cordoned (spec.unschedulable) and NotReady nodes take no new pods."""

from __future__ import annotations

from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import NODE_CORDONED, NODE_NOT_READY, Status


class NodeCondition:
    name = "NodeCondition"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if facts.unschedulable:
            return Status.unschedulable(NODE_CORDONED)
        if not facts.ready:
            return Status.unschedulable(NODE_NOT_READY)
        return None


PLUGIN = NodeCondition()
