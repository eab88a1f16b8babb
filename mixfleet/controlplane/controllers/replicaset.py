"""The ReplicaSet controller: keeps ``spec.replicas`` active pods for each ReplicaSet.

Pods are created from the template as ``<rs>-<5 random chars>``, owned by the ReplicaSet
(controller ownerReference). Scaling down removes the pods that matter least first
(unscheduled, pending, not ready, then the newest). Each sync commits its pod creations and
deletions together with the ReplicaSet's new status in one transaction guarded by the
ReplicaSet's revision, so two writers cannot both act on the same observation.
"""

from __future__ import annotations

import copy

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.types import Obj
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller, split_key
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import cache_key
from mixfleet.controlplane.registry import (
    ObjectNotFoundError,
    Registry,
    deletion_effect,
)
from mixfleet.store.base import Op
from mixfleet.util import log

_log = log.get("controllers.replicaset")

BURST = 100  # pod writes per transaction (etcd allows 128 ops)
EVENTS_PER_SYNC = 10


def pod_from_template(rs: Obj) -> Obj:
    tmpl = rs["spec"].get("template") or {}
    tmeta = tmpl.get("metadata") or {}
    m = rs["metadata"]
    pod_meta = {
        "name": f"{m['name']}-{objects.random_suffix()}",
        "namespace": m.get("namespace", "default"),
        "labels": copy.deepcopy(tmeta.get("labels") or {}),
        "ownerReferences": [objects.owner_reference(rs)],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": copy.deepcopy(tmpl.get("spec") or {})}


def deletion_op(pod: Obj) -> Op:
    """Delete a pod the way the registry does: a pod running on a node is only marked, so
    its agent stops it gracefully and then finalises the deletion."""
    marked = deletion_effect(pod) if P.is_active(pod) else None
    return writes.delete_op(pod) if marked is None else writes.update_op(marked)


def replicaset_status(rs: Obj, active: list[Obj]) -> dict:
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": len(active),
        "readyReplicas": sum(1 for p in active if P.is_ready(p)),
        "availableReplicas": sum(1 for p in active if P.is_available(p)),
        "observedGeneration": int(rs["metadata"].get("generation", 1)),
    }
    return status


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    primary_kind = "ReplicaSet"
    workers = 2

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        super().__init__(registry, informers)
        informers.on("ReplicaSet", lambda t, rs: self.queue.add(cache_key(rs)))
        informers.on("Pod", self._on_pod)

    def _on_pod(self, type_: str, pod: Obj) -> None:
        ref = objects.controller_of(pod)
        if ref and ref.get("kind") == "ReplicaSet":
            self.queue.add(f"{pod['metadata'].get('namespace', 'default')}/{ref['name']}")

    async def _create_op(self, rs: Obj) -> tuple[Op, Obj]:
        try:
            return writes.create_op(pod_from_template(rs))
        except InvalidObjectError as e:
            # Retried with backoff by the queue; the user sees why on the ReplicaSet.
            await self.events.record(rs, type=WARNING, reason="FailedCreate",
                                     message=f"Error creating: {e}")
            raise

    async def sync(self, key: str) -> float | None:
        ns, name = split_key(key)
        try:
            rs = await self.registry.get("ReplicaSet", name, ns)
        except ObjectNotFoundError:
            return None  # its pods are the garbage collector's
        pods, _ = await self.registry.list("Pod", namespace=ns)
        mine = [p for p in pods if objects.is_owned_by(p, rs)]
        active = [p for p in mine if P.is_active(p)]
        want = int(rs["spec"].get("replicas", 1))
        ops: list[Op] = []
        created: list[Obj] = []
        removed: list[Obj] = []
        if not P.deleting(rs):
            diff = want - len(active)
            if diff > 0:
                for _ in range(min(diff, BURST)):
                    op, pod = await self._create_op(rs)
                    ops.append(op)
                    created.append(pod)
            elif diff < 0:
                removed = sorted(active, key=P.deletion_rank)[: min(-diff, BURST)]
                ops.extend(deletion_op(p) for p in removed)
        gone = {p["metadata"]["name"] for p in removed}
        after = [p for p in active if p["metadata"]["name"] not in gone] + created
        status = replicaset_status(rs, after)
        if not ops and status == (rs.get("status") or {}):
            return None
        await writes.commit(
            self.registry, [writes.update_op(writes.with_status(rs, status)), *ops], why=key
        )
        if created or removed:
            _log.info("replicaset.scaled", replicaset=key, created=len(created),
                      deleted=len(removed), replicas=want)
        await self._record(rs, "SuccessfulCreate", "Created", created)
        await self._record(rs, "SuccessfulDelete", "Deleted", removed)
        return None

    async def _record(self, rs: Obj, reason: str, verb: str, pods: list[Obj]) -> None:
        """One event per pod, as Kubernetes does, but a big burst is summed up in one, so
        scaling to thousands is not slowed down by thousands of event writes."""
        names = [p["metadata"]["name"] for p in pods]
        for name in names[:EVENTS_PER_SYNC]:
            await self.events.record(rs, type=NORMAL, reason=reason, message=f"{verb} pod: {name}")
        if len(names) > EVENTS_PER_SYNC:
            await self.events.record(rs, type=NORMAL, reason=reason,
                                     message=f"{verb} {len(names) - EVENTS_PER_SYNC} more pods")
