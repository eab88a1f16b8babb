"""The node lifecycle controller: notices nodes whose agent stopped heartbeating, and
replaces their pods.

Heartbeats are renewals of the Lease ``mixfleet-node-lease/<node>``. The controller times
them with its own clock (when it *saw* a renewal, not the renewTime written by the node),
so a skewed node clock cannot fool it, and a newly elected leader gives every node a full
grace period before judging it. A node never seen with a Lease has no agent heartbeating
for it and is left alone.

- no renewal for ``node_monitor_grace``: Ready becomes Unknown (reason NodeStatusUnknown)
  and the node gets the taint ``node.kubernetes.io/unreachable:NoExecute``; the scheduler
  skips it from then on;
- ``pod_eviction_timeout`` later: every pod bound there that does not tolerate the taint is
  marked Failed (reason NodeLost) and deleted at once (grace 0); ReplicaSets replace them;
- renewals resume: Ready is True again and the taint is removed.

Nodes and the pods bound to each node (the pod informer's node index) are read from the
informers; node writes are registry transactions (CAS on the node as read), evictions the
registry's status update and delete, each with the pod's revision as read.
"""

from __future__ import annotations

import time
from typing import Any

from mixfleet.api import objects, times
from mixfleet.api import pods as P
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.evict import force_delete
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import NODE, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import Registry
from mixfleet.util import log

_log = log.get("controllers.nodelifecycle")

LEASE_NAMESPACE = "mixfleet-node-lease"
UNREACHABLE_TAINT = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
NODE_STATUS_UNKNOWN = "NodeStatusUnknown"
NODE_LOST = "NodeLost"


def _ready(node: ObjView) -> dict[str, Any] | None:
    return objects.condition(node, "Ready")


def _tainted(node: ObjView) -> bool:
    return any(
        t.get("key") == UNREACHABLE_TAINT["key"] and t.get("effect") == "NoExecute"
        for t in (node.get("spec") or {}).get("taints") or []
    )


def _marked_unknown(node: ObjView) -> bool:
    c = _ready(node)
    return c is not None and c.get("reason") == NODE_STATUS_UNKNOWN


def mark_unreachable(node: ObjView, *, silent_for: float) -> Obj:
    new: Obj = thaw(node)
    now = times.now()
    conds = [c for c in (new.setdefault("status", {}).get("conditions") or [])
             if c.get("type") != "Ready"]
    old = _ready(node) or {}
    conds.append({
        **old,
        "type": "Ready",
        "status": "Unknown",
        "reason": NODE_STATUS_UNKNOWN,
        "message": f"Node agent stopped renewing its lease ({silent_for:.0f}s ago).",
        "lastTransitionTime": now,
    })
    new["status"]["conditions"] = conds
    if not _tainted(node):
        taints = new.setdefault("spec", {}).get("taints") or []
        new["spec"]["taints"] = [*taints, {**UNREACHABLE_TAINT, "timeAdded": now}]
    return new


def mark_reachable(node: ObjView) -> Obj:
    new: Obj = thaw(node)
    if _marked_unknown(node):
        conds = [c for c in new["status"]["conditions"] if c.get("type") != "Ready"]
        conds.append({
            **(_ready(node) or {}),
            "type": "Ready",
            "status": "True",
            "reason": "AgentReady",
            "message": "Node agent is renewing its lease again.",
            "lastTransitionTime": times.now(),
        })
        new["status"]["conditions"] = conds
    spec = new.get("spec") or {}
    if _tainted(node):
        kept = [t for t in spec.get("taints") or [] if t.get("key") != UNREACHABLE_TAINT["key"]]
        spec["taints"] = kept
    return new


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    primary_kind = "Node"
    resync_seconds = 5.0

    def __init__(
        self, registry: Registry, informers: SharedInformers, *, grace: float, eviction: float
    ) -> None:
        super().__init__(registry, informers)
        self.grace = grace
        self.eviction = eviction
        self._seen: dict[str, tuple[str, float]] = {}  # node -> (lease revision, when seen)
        self._unreachable_since: dict[str, float] = {}
        informers.on("Node", self._on_node)
        informers.on("Lease", self._on_lease)
        self.pods = informers.informer("Pod")

    def _on_node(self, type_: str, node: ObjView) -> None:
        name = str(node["metadata"]["name"])
        if type_ == "DELETED":
            self._seen.pop(name, None)
            self._unreachable_since.pop(name, None)
        self.queue.add(name)

    def _on_lease(self, type_: str, lease: ObjView) -> None:
        m = lease.get("metadata") or {}
        if m.get("namespace") != LEASE_NAMESPACE or type_ == "DELETED":
            return
        name = str(m.get("name"))
        rv = str(m.get("resourceVersion"))
        if self._seen.get(name, ("", 0.0))[0] != rv:
            self._seen[name] = (rv, time.monotonic())
            self.queue.add(name)

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        node = self.primary.get(key)
        if node is None:
            # Deleted (the handler forgot its heartbeats), or not in the node cache yet
            # though its Lease is: the node's ADDED event brings the key back.
            self.expectations.forget(key)
            return None
        if key not in self._seen:
            return None  # no agent heartbeats for this node
        silent = time.monotonic() - self._seen[key][1]
        if silent <= self.grace:
            self._unreachable_since.pop(key, None)
            if _marked_unknown(node) or _tainted(node):
                await self._write(node, mark_reachable(node))
                _log.info("node.reachable", node=key)
                await self.events.record(node, type=NORMAL, reason="NodeReady",
                                         message=f"Node {key} status is now: NodeReady")
            return self.grace - silent + 0.1
        if not (_marked_unknown(node) and _tainted(node)):
            await self._write(node, mark_unreachable(node, silent_for=silent))
            _log.warning("node.unreachable", node=key, silent_seconds=round(silent, 1))
            await self.events.record(node, type=WARNING, reason="NodeNotReady",
                                     message=f"Node {key} status is now: NodeNotReady")
        since = self._unreachable_since.setdefault(key, time.monotonic())
        wait = self.eviction - (time.monotonic() - since)
        if wait > 0:
            return wait
        await self._evict_all(node)
        return max(self.eviction, 1.0)  # pods bound there later are evicted too

    async def _write(self, old: ObjView, new: Obj) -> None:
        if new != old:
            await self.commit(old["metadata"]["name"], [writes.update(old, new)])

    async def _evict_all(self, node: ObjView) -> None:
        name = node["metadata"]["name"]
        seen: list[writes.Seen] = []
        try:
            for pod in self.pods.by_index(NODE, name):
                if P.tolerates(pod, UNREACHABLE_TAINT) and not P.deleting(pod):
                    continue
                rev = await self._evict(pod, name)
                if rev:
                    seen.append((self.pods, cache_key(pod), rev, True))
        finally:
            # Until the pod cache shows these deletions, a sync would evict them again.
            self.expectations.expect(name, seen)

    async def _evict(self, pod: ObjView, node: str) -> int:
        """Mark ``pod`` Failed and delete it; the revision of the delete (0: gone already)."""
        message = f"Node {node} which was running pod {pod['metadata']['name']} is unresponsive"
        return await force_delete(
            self.registry, self.events, pod, node=node, reason=NODE_LOST, message=message
        )
