"""The pod garbage collector: removes pods bound to a Node that no longer exists.

Kubernetes' PodGC (``gcOrphaned``) does the same: a pod bound to a missing node has no agent
to run it, stop it or finalize its deletion, so it would show "Running" for ever while its
ReplicaSet, counting it, never replaces it. Each such pod is marked Failed (reason
``DeletionByPodGC``) and deleted at once with grace 0 (controllers/evict.py); its ReplicaSet
then creates a replacement, which the scheduler places on a node that exists. A deleted
node's agent re-registers its Node (nodeagent/agent.py) and stops the containers of the
pods that are gone, as it does for any orphaned container.

Keys are node names. A node's DELETED event enqueues it at once; the resync enqueues every
node name that pods in the cache are bound to but the node cache lacks (a pod created with
``spec.nodeName`` of a node that never registered, or a deletion the watch missed). Those
wait ``quarantine`` seconds first, as PodGC's quarantine does, so an agent that is just
registering, or a node cache that is behind, is not mistaken for a missing node. Before
deleting anything the node's absence is confirmed with a fresh read: the caches may lag.
"""

from __future__ import annotations

import time

from mixfleet.api.types import ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.evict import force_delete
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.informer import NODE, cache_key
from mixfleet.controlplane.registry import ObjectNotFoundError, Registry
from mixfleet.util import log

_log = log.get("controllers.podgc")

REASON = "DeletionByPodGC"
QUARANTINE_SECONDS = 40.0  # Kubernetes' PodGC waits 40 s before trusting a node's absence


class PodGarbageCollector(Controller):
    name = "pod-garbage-collector"
    primary_kind = "Node"
    resync_seconds = 10.0

    def __init__(
        self, registry: Registry, informers: SharedInformers, *,
        quarantine: float = QUARANTINE_SECONDS,
    ) -> None:
        super().__init__(registry, informers)
        self.quarantine = quarantine
        self.pods = informers.informer("Pod")
        # node name -> when it was first found missing (monotonic); a node seen deleted
        # counts as missing since long enough: its deletion is a fact, not a lagging cache.
        self._missing_since: dict[str, float] = {}
        informers.on("Node", self._on_node)

    def _on_node(self, type_: str, node: ObjView) -> None:
        name = str(node["metadata"]["name"])
        if type_ == "DELETED":
            self._missing_since[name] = time.monotonic() - self.quarantine
            self.queue.add(name)
        else:
            self._missing_since.pop(name, None)

    def resync_keys(self) -> list[str]:
        return [n for n in self.pods.index_values(NODE) if self.primary.get(n) is None]

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        if self.primary.get(key) is not None:
            self._missing_since.pop(key, None)
            return None
        orphans = self.pods.by_index(NODE, key)
        if not orphans:
            self._missing_since.pop(key, None)
            return None
        since = self._missing_since.setdefault(key, time.monotonic())
        wait = self.quarantine - (time.monotonic() - since)
        if wait > 0:
            return wait
        try:
            await self.registry.get("Node", key)
            return None  # it exists: the node cache is behind (or the agent re-registered)
        except ObjectNotFoundError:
            pass
        await self._delete_all(key, orphans)
        return None

    async def _delete_all(self, node: str, orphans: list[ObjView]) -> None:
        seen: list[writes.Seen] = []
        try:
            for pod in orphans:
                name = pod["metadata"]["name"]
                message = f"Node {node} which pod {name} is bound to no longer exists"
                rev = await force_delete(
                    self.registry, self.events, pod, node=node, reason=REASON, message=message
                )
                if rev:
                    seen.append((self.pods, cache_key(pod), rev, True))
        finally:
            # Until the pod cache shows these deletions, a sync would delete them again.
            self.expectations.expect(node, seen)
        _log.warning("podgc.orphans_deleted", node=node, pods=len(seen))

