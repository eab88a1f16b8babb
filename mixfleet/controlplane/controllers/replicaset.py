"""The ReplicaSet controller: keeps ``spec.replicas`` active pods for each ReplicaSet.

Pods are created from the template as ``<rs>-<5 random chars>``, owned by the ReplicaSet
(controller ownerReference). Scaling down removes the pods that matter least first
(unscheduled, pending, not ready, then the newest). A sync reads the ReplicaSet and its pods
(by owner uid) from the informers, and commits its pod creations and deletions together with
the ReplicaSet's new status in one registry transaction guarded by the ReplicaSet's
revision, so two writers cannot both act on the same observation; it waits until the
caches show its previous commit before deciding again.

A ReplicaSet being deleted, or whose Deployment is being deleted or gone, creates no pods:
the garbage collector is about to remove it, and every pod made meanwhile would be one
more to stop (Kubernetes' controller likewise leaves a ReplicaSet with a deletionTimestamp
alone). A Deployment missing from the cache because the cache lags only delays a scale-up:
its arrival syncs the ReplicaSet again.
"""

from __future__ import annotations

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import OWNER, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import Registry, Write
from mixfleet.util import log

_log = log.get("controllers.replicaset")

BURST = 100  # pod creations per transaction (etcd allows 128 ops; a create is one compare)
# Pod deletions per transaction: each is a CAS, two compares in etcd, with the ReplicaSet's
# own update (two more) within etcd's 128.
DELETE_BURST = 60
EVENTS_PER_SYNC = 10


def pod_from_template(rs: ObjView) -> Obj:
    tmpl = rs["spec"].get("template") or {}
    tmeta = tmpl.get("metadata") or {}
    m = rs["metadata"]
    pod_meta = {
        "name": f"{m['name']}-{objects.random_suffix()}",
        "namespace": m.get("namespace", "default"),
        "labels": thaw(tmeta.get("labels") or {}),
        "ownerReferences": [objects.owner_reference(rs)],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = thaw(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": thaw(tmpl.get("spec") or {})}


def _new_pods(rs: ObjView, n: int, *, taken: set[str]) -> list[Obj]:
    """``n`` pods with names distinct from each other and from ``taken``: with 5 random
    characters, 10,000 pods made 100 at a time drew the same name twice in one batch now
    and then, and the store refuses a transaction that writes one key twice."""
    pods: list[Obj] = []
    names = set(taken)
    while len(pods) < n:
        pod = pod_from_template(rs)
        if pod["metadata"]["name"] not in names:
            names.add(pod["metadata"]["name"])
            pods.append(pod)
    return pods


def replicaset_status(rs: ObjView, active: list[ObjView]) -> dict:
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
        self.pods = informers.on("Pod", self._on_pod)
        self.deployments = informers.on("Deployment", self._on_deployment)

    def _on_deployment(self, type_: str, d: ObjView) -> None:
        if type_ == "ADDED":  # a ReplicaSet that waited for its Deployment to show
            for rs in self.primary.by_index(OWNER, objects.uid(d)):
                self.queue.add(cache_key(rs))

    def _owner_going(self, rs: ObjView) -> bool:
        """Whether the Deployment that controls ``rs`` is being deleted or is not there."""
        ref = objects.controller_of(rs)
        if not ref or ref.get("kind") != "Deployment":
            return False
        d = self.deployments.get(f"{objects.namespace(rs) or 'default'}/{ref.get('name')}")
        return d is None or objects.uid(d) != ref.get("uid") or P.deleting(d)

    def _on_pod(self, type_: str, pod: ObjView) -> None:
        ref = objects.controller_of(pod)
        if ref and ref.get("kind") == "ReplicaSet":
            self.queue.add(f"{pod['metadata'].get('namespace', 'default')}/{ref['name']}")

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        rs = self.primary.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None  # its pods are the garbage collector's
        mine = [p for p in self.pods.by_index(OWNER, objects.uid(rs)) if objects.is_owned_by(p, rs)]
        active = [p for p in mine if P.is_active(p)]
        want = int(rs["spec"].get("replicas", 1))
        ops: list[Write] = []
        new_pods: list[Obj] = []
        removed: list[ObjView] = []
        if not P.deleting(rs):
            diff = want - len(active)
            if diff > 0 and self._owner_going(rs):
                _log.debug("replicaset.owner_deleted", replicaset=key, missing=diff)
            elif diff > 0:
                new_pods = _new_pods(rs, min(diff, BURST), taken={p["metadata"]["name"] for p in mine})
                ops.extend(writes.create(p) for p in new_pods)
            elif diff < 0:
                removed = sorted(active, key=P.deletion_rank)[: min(-diff, DELETE_BURST)]
                ops.extend(writes.delete(p) for p in removed)
        gone = {p["metadata"]["name"] for p in removed}
        after = [p for p in active if p["metadata"]["name"] not in gone] + new_pods
        status = replicaset_status(rs, after)
        if not ops and status == (rs.get("status") or {}):
            return None
        try:
            result = await self.commit(
                key, [writes.update(rs, writes.with_status(rs, status)), *ops]
            )
        except InvalidObjectError as e:
            # Nothing was written; retried with backoff by the queue, and the user sees
            # why on the ReplicaSet.
            if new_pods:
                await self.events.record(rs, type=WARNING, reason="FailedCreate",
                                         message=f"Error creating: {e}")
            raise
        created = [o for o in result.objects[1 : 1 + len(new_pods)] if o is not None]
        if created or removed:
            _log.info("replicaset.scaled", replicaset=key, created=len(created),
                      deleted=len(removed), replicas=want)
        await self._record(rs, "SuccessfulCreate", "Created", created)
        await self._record(rs, "SuccessfulDelete", "Deleted", removed)
        return None

    async def _record(
        self, rs: ObjView, reason: str, verb: str, pods: list[Obj] | list[ObjView]
    ) -> None:
        """One event per pod, as Kubernetes does, but a big burst is summed up in one, so
        scaling to thousands is not slowed down by thousands of event writes."""
        names = [p["metadata"]["name"] for p in pods]
        for name in names[:EVENTS_PER_SYNC]:
            await self.events.record(rs, type=NORMAL, reason=reason, message=f"{verb} pod: {name}")
        if len(names) > EVENTS_PER_SYNC:
            await self.events.record(rs, type=NORMAL, reason=reason,
                                     message=f"{verb} {len(names) - EVENTS_PER_SYNC} more pods")
