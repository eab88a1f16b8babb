"""Force-deleting a pod whose node cannot stop it (the node is lost, or gone): the pod is
marked Failed with the reason first, so a watcher and its events say why, then deleted at
once (grace 0: no agent is there to confirm a graceful stop). Its ReplicaSet replaces it.

Shared by the node lifecycle controller (a node stopped heartbeating) and the pod garbage
collector (a node was deleted)."""

from __future__ import annotations

from mixfleet.api import pods as P
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers.queue import Requeue
from mixfleet.controlplane.events import WARNING, EventRecorder
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import (
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
)
from mixfleet.util import log

_log = log.get("controllers.evict")


async def force_delete(
    registry: Registry,
    events: EventRecorder,
    pod: ObjView,
    *,
    node: str,
    reason: str,
    message: str,
) -> int:
    """Mark ``pod`` Failed (``reason``, ``message``) and delete it with grace 0, each a CAS
    on the revision read; returns the revision of the delete (0: it was gone already).
    A pod that changed meanwhile raises Requeue: sync again from fresh state."""
    m = pod["metadata"]
    ref = f"{m.get('namespace')}/{m['name']}"
    try:
        if P.phase(pod) not in ("Succeeded", "Failed"):
            failed: Obj = thaw(pod)
            st = failed.setdefault("status", {})
            st.update(phase="Failed", reason=reason, message=message)
            pod = await registry.update(failed, status_only=True)
        done = await registry.delete(
            "Pod", m["name"], m.get("namespace", ""), grace_period_seconds=0,
            precondition_resource_version=pod["metadata"]["resourceVersion"],
        )
    except ObjectNotFoundError:
        return 0  # already gone
    except StaleObjectError as e:
        raise Requeue(f"deleting {ref}: {e}") from e
    _log.warning("pod.evicted", pod=ref, node=node, reason=reason)
    await events.record(pod, type=WARNING, reason=reason,
                        message=f"{message}: marked Failed and deleted")
    return int(done["metadata"]["resourceVersion"])
