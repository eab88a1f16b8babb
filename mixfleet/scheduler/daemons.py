"""Which nodes should run a DaemonSet's pod, and why not the others (Kubernetes'
``NodeShouldRunDaemonPod``, with Mixfleet's platform checks).

The DaemonSet controller asks this before it makes a pod for a node. The scheduler's own
class filters that no waiting can change run on the pod template (daemon tolerations
included, not yet pinned) once per node class: OS and architecture, nodeSelector and
required node affinity, Windows build and isolation, kernel version, taints. A node that
fails one is *skipped*, with that filter's reason, so a Windows DaemonSet lands on every
Windows node whose build can run its image and says why it left out the others. What may
change (readiness, cordon, disk pressure, free resources) is not checked here: the pod is
made, pinned to its node, and waits at the scheduler, which says why (Kubernetes likewise
leaves resources to the scheduler since 1.12).

Taints follow Kubernetes: an untolerated NoExecute taint, like any mismatch above, means
the node's pod must go; an untolerated NoSchedule taint only means no new pod is made there,
and one already running stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mixfleet.scheduler.config import SchedulerConfig
from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins import kernel, node_affinity, os_arch, windows_build
from mixfleet.scheduler.plugins.base import ClassFilter, ClassState, Context
from mixfleet.scheduler.plugins.taints import tolerated
from mixfleet.scheduler.requirements import PodRequirements, RequirementError, parse
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import NODE_SELECTOR, UNTOLERATED_TAINT

# In the scheduler's order (scheduler/registry.py), so a node is skipped for the reason the
# scheduler would give first; taints come after, since NoSchedule alone keeps a running pod.
PLATFORM_FILTERS: tuple[ClassFilter, ...] = (
    os_arch.PLUGIN,
    node_affinity.PLUGIN,
    windows_build.PLUGIN,
    kernel.PLUGIN,
)


@dataclass(frozen=True, slots=True)
class Verdict:
    should_run: bool  # a daemon pod is made for this node
    should_continue: bool  # a daemon pod already there may stay
    reason: str = ""  # why not, when should_run is False

    @property
    def skipped(self) -> bool:
        return not self.should_run


RUN = Verdict(True, True)
NODE_NAME = "the template's nodeName is {node}"


def node_verdicts(
    pod: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]], *, config: SchedulerConfig | None = None
) -> dict[str, Verdict]:
    """A verdict for each Node object in ``nodes``, by node name, for a pod made from the
    DaemonSet's template (not pinned)."""
    config = config or SchedulerConfig()
    snap = Snapshot.build(nodes, [], config=config)
    try:
        req = parse(pod)
    except RequirementError as e:
        bad = Verdict(False, False, f"pod cannot be scheduled: {e}")
        return {n.name: bad for n in snap.nodes}
    ctx = Context(snap, config)
    by_class: dict[int, Verdict] = {}
    out: dict[str, Verdict] = {}
    per_node = node_affinity.PLUGIN.active(req)  # a hostname selector in the template
    wanted = str((pod.get("spec") or {}).get("nodeName") or "")  # Kubernetes: that node only
    for i, node in enumerate(snap.nodes):
        cls = snap.node_class[i]
        verdict = by_class.get(cls)
        if verdict is None:
            verdict = by_class[cls] = _class_verdict(req, snap.classes[cls].facts, ctx)
        if wanted and node.name != wanted:
            verdict = Verdict(False, False, NODE_NAME.format(node=wanted))
        elif per_node and verdict.should_continue and not node_affinity.required_match(req, node.labels):
            verdict = Verdict(False, False, NODE_SELECTOR)
        out[node.name] = verdict
    return out


def _class_verdict(req: PodRequirements, facts: ClassFacts, ctx: Context) -> Verdict:
    for f in PLATFORM_FILTERS:
        status = f.filter_class(req, facts, ClassState(), ctx)
        if status is not None:
            return Verdict(False, False, _with_images(req, status.reason) if f is windows_build.PLUGIN
                           else status.reason)
    untolerated = [t for t in facts.taints if t.effect in ("NoSchedule", "NoExecute") and not tolerated(req, t)]
    if not untolerated:
        return RUN
    worst = next((t for t in untolerated if t.effect == "NoExecute"), untolerated[0])
    shown = f"{worst.key}: {worst.value}" if worst.value else worst.key
    return Verdict(False, worst.effect != "NoExecute", UNTOLERATED_TAINT.format(taint=shown))


def _with_images(req: PodRequirements, reason: str) -> str:
    """A build mismatch names the image(s) it is about."""
    images = sorted({image for _, image in req.containers})
    return f"image {', '.join(images)}: {reason}" if images else reason
