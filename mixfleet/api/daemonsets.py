"""Facts about DaemonSets (apps/v1) that the controller, validation and mixctl read the same
way: which node a daemon pod is for, the tolerations every daemon pod gets, the rolling
update budget, when a rollout is complete.

As Kubernetes' DaemonSet controller has done since 1.12, a daemon pod is not bound by the
controller: it is pinned to its node by a required node-affinity term on the node's name
(``matchFields metadata.name In [node]``) and placed by the scheduler, which so checks its
resources and chooses the Windows isolation and image for that node's build exactly as for
any pod.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from mixfleet.api.types import ObjView
from mixfleet.api.workloads import template_hash

# The label that says which template a daemon pod was made from (Kubernetes' name).
REVISION_HASH = "controller-revision-hash"
NODE_NAME_FIELD = "metadata.name"

# Kubernetes' AddOrUpdateDaemonPodTolerations: a node agent's pod stays on a node that is
# not ready, unreachable, short of resources or cordoned.
DAEMON_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)


def revision_hash(ds: ObjView) -> str:
    return template_hash((ds.get("spec") or {}).get("template") or {})


def pinned_node(pod: ObjView) -> str | None:
    """The node a daemon pod is for: where it is bound, else its node-affinity pin."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == NODE_NAME_FIELD and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


def pin_to_node(pod_spec: dict[str, Any], node: str) -> dict[str, Any]:
    """A copy of ``pod_spec`` that only ``node`` can take (Kubernetes'
    ReplaceDaemonSetPodNodeNameNodeAffinity): the required node-affinity terms become one
    term on the node's name (the controller has already checked the template's own terms
    against the node), preferred terms stay; the daemon tolerations are added."""
    spec = copy.deepcopy(pod_spec)
    affinity = spec.setdefault("affinity", {}) or {}
    spec["affinity"] = affinity
    node_affinity = affinity.setdefault("nodeAffinity", {}) or {}
    affinity["nodeAffinity"] = node_affinity
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node]}]}]
    }
    return with_daemon_tolerations(spec)


def with_daemon_tolerations(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """``pod_spec`` (changed in place and returned) with the daemon tolerations it lacks."""
    tolerations = list(pod_spec.get("tolerations") or [])
    for t in DAEMON_TOLERATIONS:
        if not any(o.get("key") == t["key"] and o.get("effect") == t["effect"] for o in tolerations):
            tolerations.append(dict(t))
    pod_spec["tolerations"] = tolerations
    return pod_spec


def template_pod(ds: ObjView) -> dict[str, Any]:
    """A pod as the DaemonSet's template makes it, with the daemon tolerations but not yet
    pinned to a node: what the controller checks each node against."""
    tmpl = (ds.get("spec") or {}).get("template") or {}
    meta = ds.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": meta.get("namespace", "default"),
                     "labels": copy.deepcopy(dict((tmpl.get("metadata") or {}).get("labels") or {}))},
        "spec": with_daemon_tolerations(copy.deepcopy(dict(tmpl.get("spec") or {}))),
    }


def _resolve(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def strategy(ds: ObjView) -> str:
    return str(((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def surge_and_unavailable(ds: ObjView, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods for ``desired`` nodes (Kubernetes: surge rounds
    up, unavailable rounds up too for DaemonSets, and both zero would stall, so 1)."""
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", 0), desired, round_up=True)
    unavailable = _resolve(rolling.get("maxUnavailable", 1), desired, round_up=True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def rollout_complete(ds: ObjView) -> bool:
    """What ``mixctl rollout status ds/x`` waits for (kubectl's DaemonSetStatusViewer)."""
    meta, st = ds.get("metadata") or {}, ds.get("status") or {}
    desired = int(st.get("desiredNumberScheduled", 0))
    return (
        int(st.get("observedGeneration", 0)) >= int(meta.get("generation", 1))
        and int(st.get("updatedNumberScheduled", 0)) >= desired
        and int(st.get("numberAvailable", 0)) >= desired
    )
