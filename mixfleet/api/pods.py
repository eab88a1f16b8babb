"""Facts about a pod that every component derives the same way: its phase, readiness and
availability, the OS and isolation it asks for, its identity key, the order pods are removed
in, whether it tolerates a taint. Shared by the API, the scheduler, the controllers, the node
agents and mixctl; none of these mutate the pod they are given.

"Active" pods count towards a ReplicaSet's replicas; "available" ones count towards a
rollout's budget: Running, not being deleted, and Ready when the pod has a readiness check
(the node agent sets condition Ready / containerStatuses[].ready).
"""

from __future__ import annotations

from mixfleet.api import objects, times
from mixfleet.api.objects import as_map
from mixfleet.api.taints import Toleration, TolerationError
from mixfleet.api.types import ObjView

ISOLATION_ANNOTATION = "experimental.windows.kubernetes.io/isolation-type"
RUNTIME_CLASS_ISOLATION = {"runhcs-wcow-process": "process", "runhcs-wcow-hypervisor": "hyperv"}
OS_LABEL = "kubernetes.io/os"


def key(pod: ObjView) -> str:
    """The pod's identity where one is needed before the API assigned a uid (scheduler
    bookkeeping, container labels): its uid, else ``namespace/name``. (On the scheduler's
    hot path: a few dict reads, no helpers.)"""
    md = pod.get("metadata") or {}
    uid = md.get("uid")
    if uid:
        return str(uid)
    return f"{md.get('namespace') or 'default'}/{md.get('name') or ''}"


class PodFactError(ValueError):
    """A pod field holds a value no component can act on; the message names the field."""


OSES = ("linux", "windows")
ISOLATIONS = ("process", "hyperv", "auto")


def pod_os(pod: ObjView) -> str:
    """``linux`` or ``windows``: the first of spec.platform.os, spec.os.name and the
    ``kubernetes.io/os`` node selector that is set, else linux. Works on pods and pod
    templates; raises PodFactError when the deciding field holds another value."""
    spec = as_map(pod.get("spec"))
    for path, value in (
        ("spec.platform.os", as_map(spec.get("platform")).get("os")),
        ("spec.os.name", as_map(spec.get("os")).get("name")),
        (f"spec.nodeSelector[{OS_LABEL}]", as_map(spec.get("nodeSelector")).get(OS_LABEL)),
    ):
        if value:
            if value not in OSES:
                raise PodFactError(f"{path}: {value!r} is not linux or windows")
            return str(value)
    return "linux"


def isolation(pod: ObjView) -> str | None:
    """``process``, ``hyperv`` or ``auto`` as the pod asks, or None when it does not say.
    spec.platform.isolation wins over runtimeClassName, which wins over the old annotation
    (whose one documented value, ``hyperv``, is read in any case, as Windows reads names).
    Raises PodFactError for an unknown spec.platform.isolation."""
    spec = as_map(pod.get("spec"))
    explicit = as_map(spec.get("platform")).get("isolation")
    if explicit:
        if explicit not in ISOLATIONS:
            raise PodFactError(f"spec.platform.isolation: {explicit!r} is not one of {', '.join(ISOLATIONS)}")
        return str(explicit)
    from_class = RUNTIME_CLASS_ISOLATION.get(spec.get("runtimeClassName") or "")
    if from_class:
        return from_class
    if str(objects.annotations(pod).get(ISOLATION_ANNOTATION, "")).lower() == "hyperv":
        return "hyperv"
    return None


def phase(pod: ObjView) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def deleting(obj: ObjView) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_active(pod: ObjView) -> bool:
    return not deleting(pod) and phase(pod) not in ("Succeeded", "Failed")


def has_readiness_check(pod: ObjView) -> bool:
    return any(c.get("readinessProbe") for c in (pod.get("spec") or {}).get("containers") or [])


def is_ready(pod: ObjView) -> bool:
    if phase(pod) != "Running":
        return False
    cond = objects.condition(pod, "Ready")
    if cond is not None:
        return cond.get("status") == "True"
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if statuses:
        return all(s.get("ready") for s in statuses)
    return not has_readiness_check(pod)


def is_available(pod: ObjView) -> bool:
    return is_active(pod) and is_ready(pod)


def deletion_rank(pod: ObjView) -> tuple[int, float, str]:
    """Sort key: the pod to remove first sorts first when scaling down. Unscheduled, then
    pending, then not ready, then ready; among equals the newest goes first."""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        state = 0
    elif phase(pod) != "Running":
        state = 1
    elif not is_ready(pod):
        state = 2
    else:
        state = 3
    return state, -times.epoch((pod.get("metadata") or {}).get("creationTimestamp")), str((pod.get("metadata") or {}).get("name"))


def tolerates(pod: ObjView, taint: ObjView) -> bool:
    """Whether the pod tolerates ``taint`` forever (a tolerationSeconds bound does not; a
    toleration that cannot be matched tolerates nothing)."""
    key, value, effect = (str(taint.get(k) or "") for k in ("key", "value", "effect"))
    for raw in (pod.get("spec") or {}).get("tolerations") or []:
        try:
            t = Toleration.parse(raw)
        except TolerationError:
            continue
        if t.seconds is None and t.tolerates(key, value, effect):
            return True
    return False
