"""The claim controller: Kubernetes' pvc-protection controller, and a claim's Bound status.

A claim being deleted keeps its ``kubernetes.io/pvc-protection`` finalizer while a pod uses
it: a pod bound to a node, not Succeeded or Failed (a pending pod cannot be scheduled with a
claim being deleted, so it holds nothing). Once none does, the finalizer goes and, with no
other finalizer left, the claim is removed; the node agent then removes its data. Before
letting a claim go the pods are listed from the store, as Kubernetes' controller asks the
API server when its cache shows no user: a pod the cache has not seen yet must not lose
its data.

A claim bound to a node by its annotation but not ``Bound`` in its status (a user who
named the node up front) is given the status the scheduler would have written. A claim not
bound yet whose pod a user bound to a node by ``spec.nodeName`` (the scheduler never saw
it, so never bound the claim) is bound to that pod's node, the oldest such pod's if several,
as Kubernetes' volume controller does for pods that bypass the scheduler.

Keys are claim cache keys; a pod's events enqueue the claims its volumes name.
"""

from __future__ import annotations

from mixfleet.api import claims
from mixfleet.api.types import ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller, split_key
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.informer import NAMESPACE, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import Registry, Write
from mixfleet.util import log

_log = log.get("controllers.claims")

DONE_PHASES = ("Succeeded", "Failed")


def uses(pod: ObjView, name: str) -> bool:
    """Does ``pod`` hold claim ``name`` (of its namespace) as pvc-protection counts it?"""
    return (
        bool((pod.get("spec") or {}).get("nodeName"))
        and (pod.get("status") or {}).get("phase") not in DONE_PHASES
        and name in claims.pod_claims(pod)
    )


class ClaimController(Controller):
    name = "claim-controller"
    primary_kind = claims.KIND

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        super().__init__(registry, informers)
        self.pods = informers.on("Pod", self._on_pod)
        informers.on(claims.KIND, lambda _t, claim: self.queue.add(cache_key(claim)))

    def _on_pod(self, type_: str, pod: ObjView) -> None:
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        for name in claims.pod_claims(pod):
            self.queue.add(f"{ns}/{name}")

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        claim = self.primary.get(key)
        if claim is None:
            return None
        if claims.deleting(claim):
            await self._release(key, claim)
        elif claims.selected_node(claim) is None:
            node = self._node_of_bound_pod(key)
            if node is not None:
                await self.commit(key, [writes.update(claim, claims.bound_to(thaw(claim), node))])
                _log.info("claim.bound", claim=key, node=node, by="spec.nodeName")
        elif (claim.get("status") or {}).get("phase") != claims.BOUND:
            await self.commit(key, [writes.update(claim, writes.with_status(claim, claims.bound_status(claim)))])
        return None

    def _node_of_bound_pod(self, key: str) -> str | None:
        ns, name = split_key(key)
        users = [p for p in self.pods.by_index(NAMESPACE, ns) if uses(p, name)]
        users.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
        return str(users[0]["spec"]["nodeName"]) if users else None

    async def _release(self, key: str, claim: ObjView) -> None:
        finalizers = list((claim.get("metadata") or {}).get("finalizers") or ())
        if claims.PROTECTION_FINALIZER not in finalizers:
            return
        ns, name = split_key(key)
        if any(uses(p, name) for p in self.pods.by_index(NAMESPACE, ns)):
            return  # a pod's deletion enqueues the claim again
        fresh, _ = await self.registry.list("Pod", namespace=ns)
        users = sorted(p["metadata"]["name"] for p in fresh if uses(p, name))
        if users:
            _log.info("claim.in_use", claim=key, pods=users)
            return
        rest = [f for f in finalizers if f != claims.PROTECTION_FINALIZER]
        write: Write
        if rest:
            new = thaw(claim)
            new["metadata"]["finalizers"] = rest
            write = writes.update(claim, new)
        else:
            write = writes.delete(claim)
        await self.commit(key, [write])
        _log.info("claim.released", claim=key, node=claims.selected_node(claim))
