"""A node's own check of a pod bound to it, before anything starts (the kubelet's
``canAdmitPod`` with the scheduler's GeneralPredicates): the scheduler's filters, run on
this one node against the pods it already admitted.

A pod whose ``spec.nodeName`` a user set never went through the scheduler, so nothing else
checks that the node can run it: a Windows pod bound to a Linux node would otherwise wait
in ContainerCreating for ever. A pod the scheduler bound (``spec.binding`` set) keeps the
scheduler's platform verdict and choices, and only its resources are checked again. The node agent calls :func:`admit` for each new pod; a
:class:`Rejected` pod is marked Failed with the reason and message (kubelet's
``OutOfcpu``, ``NodeAffinity``, ...), an :class:`Admitted` one runs with the isolation and
images chosen here, exactly as the scheduler would have chosen them on this node.

Checked: OS and architecture, nodeSelector and required node affinity, Windows build and
isolation (auto tries process, then Hyper-V), kernel version, then CPU, memory and pod
slots (Hyper-V overhead included). Not checked, as the kubelet does not either: the node's
readiness and cordon, and taints (they steer the scheduler; the kubelet enforces only
NoExecute taints, which Mixfleet's node lifecycle controller handles by evicting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mixfleet.api.pods import key as pod_uid
from mixfleet.scheduler.config import SchedulerConfig
from mixfleet.scheduler.plugins import kernel, node_affinity, os_arch, resources, windows_build
from mixfleet.scheduler.plugins.base import ClassFilter, ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements, RequirementError, parse
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import INSUFFICIENT_CPU, INSUFFICIENT_MEMORY, Status

# In the scheduler's order (scheduler/registry.py), so the first failure is the same one the
# scheduler would have reported for this node. The value is the reason in pod status.
FILTERS: tuple[tuple[ClassFilter, str], ...] = (
    (os_arch.PLUGIN, "NodeAffinity"),  # kubernetes.io/os and arch are node labels, as in Kubernetes
    (node_affinity.PLUGIN, "NodeAffinity"),
    (windows_build.PLUGIN, "WindowsBuild"),
    (kernel.PLUGIN, "KernelVersion"),
)
INVALID = "UnexpectedAdmissionError"  # kubelet's reason when admission itself cannot decide


@dataclass(frozen=True, slots=True)
class Admitted:
    """Run the pod with this isolation (None: Linux) and these images, by container name."""

    isolation: str | None
    images: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # OutOfcpu, OutOfmemory, OutOfpods, NodeAffinity, WindowsBuild, KernelVersion
    message: str


def admit(
    pod: Mapping[str, Any],
    node: Mapping[str, Any],
    admitted: Iterable[Mapping[str, Any]],
    *,
    config: SchedulerConfig | None = None,
) -> Admitted | Rejected:
    """Whether ``node`` (a Node object) can run ``pod``, next to the ``admitted`` pods bound
    there (pods done or not bound to it count for nothing; ``pod`` itself is skipped)."""
    config = config or SchedulerConfig()
    name = str((node.get("metadata") or {}).get("name", ""))
    try:
        req = parse(pod)
    except RequirementError as e:
        return Rejected(INVALID, f"Pod was rejected: {e}")
    uid = pod_uid(pod)
    snap = Snapshot.build([node], [p for p in admitted if pod_uid(p) != uid], config=config)
    if not snap.nodes:
        return Rejected(INVALID, f"Pod was rejected: node {name} cannot be read")
    binding = (pod.get("spec") or {}).get("binding")
    if binding:
        # The scheduler placed it: its platform verdict stands (it saw every node's images,
        # this node only its own); what may have changed since is what is free here.
        state = ClassState(binding.get("isolation"), dict(binding.get("images") or {}))
    else:
        state = ClassState()
        refused = _platform(req, snap, state, config)
        if refused is not None:
            return Rejected(refused[0], f"Pod was rejected: node {name}: {refused[1]}")
    cpu, memory = req.cpu_millis, req.memory_bytes
    if state.isolation == "hyperv":
        oc, om = snap.overhead(0)
        cpu, memory = cpu + oc, memory + om
    status = resources.fits(snap, 0, cpu, memory)
    if status is not None:
        return _out_of(status, snap, name, cpu, memory)
    return Admitted(state.isolation, dict(state.images))


def _platform(
    req: PodRequirements, snap: Snapshot, state: ClassState, config: SchedulerConfig
) -> tuple[str, str] | None:
    """(reason, why) of the first filter the node fails; None when all pass (``state``
    then holds the isolation and images chosen)."""
    ctx, facts = Context(snap, config), snap.class_facts(0)
    for plugin, reason in FILTERS:
        status = plugin.filter_class(req, facts, state, ctx)
        if status is None and plugin is node_affinity.PLUGIN and node_affinity.PLUGIN.active(req):
            status = node_affinity.PLUGIN.filter_node(req, 0, snap)  # a hostname selector
        if status is not None:
            return reason, status.reason
    return None


def _out_of(status: Status, snap: Snapshot, name: str, cpu: int, memory: int) -> Rejected:
    """kubelet's wording: ``didn't have enough resource: cpu, requested: 2000m, used:
    7000m, capacity: 8000m`` (CPU in millicores, memory in bytes)."""
    n = snap.nodes[0]
    unit = ""
    if status.reason == INSUFFICIENT_CPU:
        what, asked, cap, free, unit = "cpu", cpu, n.cpu, snap.free_cpu[0], "m"
    elif status.reason == INSUFFICIENT_MEMORY:
        what, asked, cap, free = "memory", memory, n.memory, snap.free_mem[0]
    else:
        what, asked, cap, free = "pods", 1, n.pods, snap.free_pods[0]
    message = (
        f"Pod was rejected: node {name} didn't have enough resource: {what}, "
        f"requested: {asked}{unit}, used: {cap - free}{unit}, capacity: {cap}{unit}"
    )
    return Rejected(f"OutOf{what}", message)
