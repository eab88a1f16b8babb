"""The Deployment controller's decisions as pure functions: how
far each ReplicaSet may be scaled in a rolling update, and the Deployment's status.

Availability counts come from pods (read fresh), capped by each ReplicaSet's spec.replicas:
a ReplicaSet that is about to lose pods never lends its surplus to the budget, so the
number of available pods cannot dip below ``replicas - maxUnavailable`` because of a
status that has not caught up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from mixfleet.api import times
from mixfleet.api.types import ObjView
from mixfleet.api.workloads import (
    surge_and_unavailable,
)


@dataclass(frozen=True, slots=True)
class RSState:
    name: str
    replicas: int  # spec.replicas
    active: int  # pods counted by the ReplicaSet
    available: int  # available pods, at most ``replicas``

    @staticmethod
    def of(name: str, replicas: int, active: int, available: int) -> "RSState":
        return RSState(name, replicas, active, min(available, replicas))


def plan_rolling(
    *, replicas: int, surge: int, unavailable: int, new: RSState, old: list[RSState]
) -> dict[str, int]:
    """New spec.replicas per ReplicaSet name (only those that change). ``old`` is oldest
    first. One step per sync, as Kubernetes does: scale the new set up, or else the old
    ones down; the sync that follows sees the result and takes the next step."""
    if new.replicas > replicas:
        return {new.name: replicas}
    if new.replicas < replicas:
        total = new.replicas + sum(o.replicas for o in old)
        up = min(replicas + surge - total, replicas - new.replicas)
        if up > 0:
            return {new.name: new.replicas + up}
    return _scale_down_old(replicas=replicas, unavailable=unavailable, new=new, old=old)


def _scale_down_old(
    *, replicas: int, unavailable: int, new: RSState, old: list[RSState]
) -> dict[str, int]:
    if not any(o.replicas for o in old):
        return {}
    min_available = replicas - unavailable
    all_total = new.replicas + sum(o.replicas for o in old)
    budget = all_total - min_available - (new.replicas - new.available)
    if budget <= 0:
        return {}
    out: dict[str, int] = {}
    cur = list(old)
    # Unavailable old pods go first: removing them costs no availability.
    for i, o in enumerate(cur):
        drop = min(budget, o.replicas - o.available)
        if drop > 0:
            cur[i] = replace(o, replicas=o.replicas - drop)
            out[o.name] = cur[i].replicas
            budget -= drop
    available = new.available + sum(min(o.available, o.replicas) for o in cur)
    can_drop = min(available - min_available, budget)
    for i, o in enumerate(cur):
        if can_drop <= 0:
            break
        drop = min(o.replicas, can_drop)
        if drop > 0:
            cur[i] = replace(o, replicas=o.replicas - drop)
            out[o.name] = cur[i].replicas
            can_drop -= drop
    return out


def plan_recreate(*, replicas: int, new: RSState, old: list[RSState]) -> dict[str, int]:
    """Recreate: every old pod is gone before the new set is scaled up."""
    downs = {o.name: 0 for o in old if o.replicas}
    if downs:
        return downs
    if any(o.active for o in old):
        return {}
    return {new.name: replicas} if new.replicas != replicas else {}


_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


def deployment_status(
    deployment: ObjView, *, new: RSState | None, all_states: list[RSState], ready: int,
    now: float,
) -> dict[str, Any]:
    """The Deployment's status. ``now`` (epoch seconds) times progress: a rollout whose
    counts have not moved for progressDeadlineSeconds is reported ProgressDeadlineExceeded."""
    spec = deployment.get("spec") or {}
    want = int(spec.get("replicas", 1))
    _, unavailable = surge_and_unavailable(deployment)
    total = sum(s.active for s in all_states)
    available = sum(s.available for s in all_states)
    updated = new.active if new else 0
    complete = new is not None and updated == want and total == want and available >= want
    counts = {"replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
              "availableReplicas": available}
    old_status = deployment.get("status") or {}
    old = old_status.get("conditions") or []
    minimum = available >= want - unavailable
    conditions = [
        _condition(old, "Available", minimum,
                   "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                   "Deployment has minimum availability." if minimum
                   else "Deployment does not have minimum availability."),
        _progressing(deployment, old, new.name if new else "", complete=complete, now=now,
                     moved=any(old_status.get(k) != counts[k] for k in _COUNTS)),
    ]
    return {
        "observedGeneration": int((deployment.get("metadata") or {}).get("generation", 1)),
        **counts,
        "unavailableReplicas": max(total - available, 0),
        "conditions": conditions,
    }


def progress_deadline(deployment: ObjView) -> float | None:
    """Seconds from now until an unfinished rollout times out (None: nothing to time)."""
    cond = next((c for c in (deployment.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Progressing"), None)
    if cond is None or cond.get("reason") != "ReplicaSetUpdated":
        return None
    limit = int((deployment.get("spec") or {}).get("progressDeadlineSeconds", 600))
    return times.epoch(cond.get("lastUpdateTime"), default=time.time()) + limit - time.time()


def _progressing(d: ObjView, old: list[dict], rs_name: str, *, complete: bool, now: float,
                 moved: bool) -> dict:
    prev = next((c for c in old if c.get("type") == "Progressing"), {})
    last_update = prev.get("lastUpdateTime") if prev and not moved else None
    last_update = last_update or times.format_epoch(now)
    limit = int((d.get("spec") or {}).get("progressDeadlineSeconds", 600))
    if complete:
        cond = _condition(old, "Progressing", True, "NewReplicaSetAvailable",
                          f'ReplicaSet "{rs_name}" has successfully progressed.')
    elif prev.get("reason") == "ProgressDeadlineExceeded" and not moved:
        return prev
    elif now - times.epoch(last_update, default=time.time()) > limit:
        cond = _condition(old, "Progressing", False, "ProgressDeadlineExceeded",
                          f'ReplicaSet "{rs_name}" has timed out progressing.')
    else:
        cond = _condition(old, "Progressing", True, "ReplicaSetUpdated",
                          f'ReplicaSet "{rs_name}" is progressing.')
    return {**cond, "lastUpdateTime": last_update}


def _condition(old: list[dict], type_: str, ok: bool, reason: str, message: str) -> dict:
    status = "True" if ok else "False"
    prev = next((c for c in old if c.get("type") == type_), None)
    if prev and prev.get("status") == status and prev.get("reason") == reason:
        since = prev.get("lastTransitionTime")
    else:
        since = times.now()
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since}
