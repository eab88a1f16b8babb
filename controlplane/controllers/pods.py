"""Pure functions over pods and owner references, shared by the controllers and mixctl.

"Active" pods count towards a ReplicaSet's replicas; "available" ones count towards a
rollout's budget: Running, not being deleted, and Ready when the pod has a readiness check
(the node agent sets condition Ready / containerStatuses[].ready).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from controlplane.objects import Obj

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' vowel-free suffix alphabet


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(n))


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    return not deleting(pod) and phase(pod) not in ("Succeeded", "Failed")


def _condition(pod: Obj, type_: str) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def has_readiness_check(pod: Obj) -> bool:
    return any(c.get("readinessProbe") for c in (pod.get("spec") or {}).get("containers") or [])


def is_ready(pod: Obj) -> bool:
    if phase(pod) != "Running":
        return False
    cond = _condition(pod, "Ready")
    if cond is not None:
        return cond.get("status") == "True"
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if statuses:
        return all(s.get("ready") for s in statuses)
    return not has_readiness_check(pod)


def is_available(pod: Obj) -> bool:
    return is_active(pod) and is_ready(pod)


def created_at(obj: Obj) -> float:
    """creationTimestamp as seconds since the epoch (0 when absent or malformed)."""
    raw = str((obj.get("metadata") or {}).get("creationTimestamp") or "")
    try:
        return dt.datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return 0.0


def now_precise() -> str:
    """RFC 3339 with microseconds: pods made in one burst still order by creation."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def deletion_rank(pod: Obj) -> tuple[int, float, str]:
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
    return state, -created_at(pod), str((pod.get("metadata") or {}).get("name"))


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == (owner.get("metadata") or {}).get("uid")


def owned_by(obj: Obj, owner: Obj) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    return any(r.get("uid") == uid for r in (obj.get("metadata") or {}).get("ownerReferences") or [])


def owner_ref(owner: Obj) -> dict[str, Any]:
    m = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def tolerates(pod: Obj, taint: dict[str, Any]) -> bool:
    """Whether the pod tolerates ``taint`` forever (a tolerationSeconds bound does not)."""
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") not in (None, "", taint.get("effect")):
            continue
        if t.get("tolerationSeconds") is not None:
            continue
        if t.get("operator") == "Exists" and not t.get("key"):
            return True
        if t.get("key") != taint.get("key"):
            continue
        if t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", ""):
            return True
    return False
