"""The node's OS and CPU architecture must be the image's; Linux on Windows only via LCOW.

The architecture a pod needs is learned from the images node agents report: when every
node holding the pod's images reports one architecture, that is the one required (an image
seen on two architectures is multi-arch and constrains nothing). Explicit
``kubernetes.io/arch`` selectors are the node-affinity plugin's job.
"""

from __future__ import annotations

from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import NODE_ARCH, NODE_OS, Status


class OsArch:
    name = "OsArch"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if facts.os != req.os and not (req.os == "linux" and facts.os == "windows" and facts.lcow):
            return Status.unresolvable(NODE_OS.format(node=facts.os, pod=req.os))
        for _, image in req.containers:
            info = ctx.snap.image(image)
            if info is not None and len(info.archs) == 1 and facts.arch not in info.archs:
                return Status.unresolvable(NODE_ARCH.format(node=facts.arch, pod=next(iter(info.archs))))
        return None


PLUGIN = OsArch()
