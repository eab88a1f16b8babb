"""Linux pods with spec.platform.minKernelVersion need a host kernel at least that new."""

from __future__ import annotations

from mixfleet.api.versions import kernel_at_least
from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import KERNEL_TOO_OLD, KERNEL_UNKNOWN, Status


class Kernel:
    name = "Kernel"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if req.min_kernel is None or req.os != "linux" or facts.os != "linux":
            return None
        if facts.kernel is None:
            return Status.unresolvable(KERNEL_UNKNOWN)
        if not kernel_at_least(facts.kernel, req.min_kernel):
            node, pod = (".".join(map(str, v)) for v in (facts.kernel, req.min_kernel))
            return Status.unresolvable(KERNEL_TOO_OLD.format(node=node, pod=pod))
        return None


PLUGIN = Kernel()
