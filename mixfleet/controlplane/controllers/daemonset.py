"""The DaemonSet controller: one pod per eligible node, rolled with maxUnavailable / maxSurge
(or OnDelete), and the DaemonSet's status.

A sync reads the DaemonSet, every Node and the DaemonSet's pods (by owner uid) from the
informers. Which nodes should run the daemon is the scheduler's platform verdict
(scheduler/daemons.py: OS, build and isolation, selectors and affinity, taints); the nodes
left out are named with the reason in the ``NodesSkipped`` condition and, when that list
changes, an event. The pods to make and delete come from controllers/daemonplan.py; they
are committed with the status in one transaction guarded by the DaemonSet's revision, as
the ReplicaSet controller does, and the sync waits until the caches show that commit.

A daemon pod is pinned to its node by required node affinity on ``metadata.name`` and placed
by the scheduler (api/daemonsets.py), so its resources, isolation and image are checked and
a refusal explained as for any pod. A pod that failed (a node's admission refused it) is
deleted and replaced after a back-off per node: 1 s doubled per failure, at most 5 minutes
(Kubernetes: 1 s to 15 minutes), reset once a pod there is available.

Node events enqueue every DaemonSet, but only when something the verdict reads changed
(labels, taints, platform, images; not heartbeats). Deleting a DaemonSet is the garbage
collector's business: it deletes the pods it owns.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mixfleet.api import daemonsets as D
from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import daemonplan as plan
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.podtemplate import pod_from
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import OWNER, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import Registry, Write
from mixfleet.scheduler.daemons import Verdict, node_verdicts
from mixfleet.util import log

_log = log.get("controllers.daemonset")

BURST = 100  # pod writes per transaction, as the ReplicaSet controller's
BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0


def daemon_pod(ds: ObjView, node: str, revision: str, taken: set[str]) -> Obj:
    """A pod of ``ds`` for ``node``: the template, pinned, with the daemon tolerations and
    the revision label."""
    tmpl = ds["spec"].get("template") or {}
    return pod_from(ds, tmpl, taken, labels={D.REVISION_HASH: revision},
                    spec=D.pin_to_node(thaw(tmpl.get("spec") or {}), node))


def _node_signature(node: ObjView) -> str:
    """What the verdicts read of a node (scheduler/nodes.py read_node), not heartbeats."""
    st = node.get("status") or {}
    images = [(i.get("names"), i.get("os"), i.get("osVersion"), i.get("architecture"))
              for i in st.get("images") or []]
    return json.dumps([(node.get("metadata") or {}).get("labels"), node.get("spec"), st.get("platform"),
                       st.get("nodeInfo"), st.get("allocatable"), images], sort_keys=True, default=str)


class _Backoff:
    """Per (DaemonSet, node): failures seen and when the last was."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float]] = {}

    def failed(self, key: str, now: float) -> None:
        n, _ = self._entries.get(key, (0, 0.0))
        self._entries[key] = (n + 1, now)

    def left(self, key: str, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        n, at = entry
        return max(0.0, at + min(BACKOFF_BASE * 2 ** (n - 1), BACKOFF_MAX) - now)

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget(self, prefix: str) -> None:
        """Drop every entry under ``prefix`` (a DaemonSet that is gone)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]


class DaemonSetController(Controller):
    name = "daemonset-controller"
    primary_kind = "DaemonSet"
    workers = 2

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        super().__init__(registry, informers)
        informers.on("DaemonSet", lambda t, ds: self.queue.add(cache_key(ds)))
        self.pods = informers.on("Pod", self._on_pod)
        self.nodes = informers.on("Node", self._on_node)
        self._seen_nodes: dict[str, str] = {}
        self._nodes_version = 0  # grows with every change a verdict reads
        # DaemonSet key -> (template hash, nodes version, verdicts): a rollout's many syncs
        # (each pod event) reuse one verdict pass, which reads every node (45 to 110 µs a
        # node: benchmarks/RESULTS.md).
        self._verdicts: dict[str, tuple[str, int, dict[str, Verdict]]] = {}
        self.backoff = _Backoff()

    def _on_pod(self, type_: str, pod: ObjView) -> None:
        ref = objects.controller_of(pod)
        if ref and ref.get("kind") == "DaemonSet":
            self.queue.add(f"{objects.namespace(pod) or 'default'}/{ref['name']}")

    def _on_node(self, type_: str, node: ObjView) -> None:
        name = objects.name(node)
        if type_ == "DELETED":
            self._seen_nodes.pop(name, None)
        else:
            sig = _node_signature(node)
            if self._seen_nodes.get(name) == sig:
                return
            self._seen_nodes[name] = sig
        self._nodes_version += 1
        for key in self.primary.cache:
            self.queue.add(key)

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        ds = self.primary.get(key)
        if ds is None:
            self.expectations.forget(key)
            self._verdicts.pop(key, None)
            self.backoff.forget(f"{key}/")
            return None
        if P.deleting(ds):
            return None  # the garbage collector removes its pods
        revision = D.revision_hash(ds)
        verdicts = self._node_verdicts(key, ds, revision)
        mine = [p for p in self.pods.by_index(OWNER, objects.uid(ds)) if objects.is_owned_by(p, ds)]
        by_node, unpinned = plan.group(mine)
        step = self._step(ds, verdicts, by_node, unpinned, revision)
        status = plan.status(ds, verdicts, by_node, revision=revision)
        old = ds.get("status") or {}
        if not step and status == old:
            return step.wake
        taken = {objects.name(p) for p in mine}
        new_pods = [daemon_pod(ds, n, revision, taken) for n in step.create[:BURST]]
        removed = step.delete[:BURST]
        ops: list[Write] = [writes.update(ds, writes.with_status(ds, status)),
                            *(writes.create(p) for p in new_pods), *(writes.delete(p) for p in removed)]
        try:
            await self.commit(key, ops)
        except InvalidObjectError as e:
            if new_pods:
                await self.events.record(ds, type=WARNING, reason="FailedCreate", message=f"Error creating: {e}")
            raise
        await self._report(ds, key, old, status, new_pods, removed, step)
        return step.wake

    def _node_verdicts(self, key: str, ds: ObjView, revision: str) -> dict[str, Verdict]:
        cached = self._verdicts.get(key)
        if cached is not None and cached[:2] == (revision, self._nodes_version):
            return cached[2]
        version = self._nodes_version
        verdicts = node_verdicts(D.template_pod(thaw(ds)), self.nodes.items())
        self._verdicts[key] = (revision, version, verdicts)
        return verdicts

    def _step(self, ds: ObjView, verdicts: dict[str, Verdict], by_node: dict[str, plan.NodePods],
              unpinned: list[ObjView], revision: str) -> plan.Step:
        owner, now = cache_key(ds), time.monotonic()  # back-off per (DaemonSet, node)
        for name, g in by_node.items():
            if any(P.is_available(p) for p in g.running):
                self.backoff.reset(f"{owner}/{name}")
        surge, unavailable = D.surge_and_unavailable(ds, sum(1 for v in verdicts.values() if v.should_run))
        rolling = D.strategy(ds) == "RollingUpdate"
        hold = {n: left for n in verdicts if (left := self.backoff.left(f"{owner}/{n}", now)) > 0}
        step = plan.manage(verdicts, by_node, unpinned, revision=revision, surge=rolling and surge > 0, hold=hold)
        for name in step.failed_on:
            self.backoff.failed(f"{owner}/{name}", now)
            left = self.backoff.left(f"{owner}/{name}", now)
            step.wake = left if step.wake is None else min(step.wake, left)
        if step or not rolling:
            return step
        return plan.rolling_update(verdicts, by_node, revision=revision, max_surge=surge,
                                   max_unavailable=unavailable, wake=step.wake)

    async def _report(self, ds: ObjView, key: str, old: dict[str, Any], status: dict[str, Any],
                      new_pods: list[Obj], removed: list[ObjView], step: plan.Step) -> None:
        if new_pods or removed:
            _log.info("daemonset.synced", daemonset=key, created=len(new_pods), deleted=len(removed),
                      desired=status["desiredNumberScheduled"])
        for made in new_pods:
            await self.events.record(ds, type=NORMAL, reason="SuccessfulCreate",
                                     message=f"Created pod: {objects.name(made)} for node {D.pinned_node(made)}")
        failed = set(step.failed_on)
        for gone in removed:
            node = D.pinned_node(gone)
            if node in failed and P.phase(gone) == "Failed":
                await self.events.record(ds, type=WARNING, reason="FailedDaemonPod",
                                         message=f"Found failed daemon pod {objects.name(gone)} on node {node}, "
                                                 "will try to kill it")
            else:
                await self.events.record(ds, type=NORMAL, reason="SuccessfulDelete",
                                         message=f"Deleted pod: {objects.name(gone)}")
        before, after = _skipped(old), _skipped(status)
        if after and after != before:
            _log.info("daemonset.nodes_skipped", daemonset=key, message=after)
            await self.events.record(ds, type=NORMAL, reason=plan.SKIPPED, message=after)


def _skipped(status: ObjView) -> str:
    return next((str(c.get("message", "")) for c in status.get("conditions") or []
                 if c.get("type") == plan.SKIPPED), "")
