"""The Deployment controller: one ReplicaSet per pod template revision, rolled with
maxSurge / maxUnavailable (or Recreate), and the Deployment's status.

A sync reads the Deployment, its ReplicaSets (by owner uid, and the namespace's orphans it
may adopt) and their pods (by owner uid) from the informers, plans one step
(controllers/rollout.py), and commits every ReplicaSet change together with the
Deployment's status in one registry transaction guarded by the revisions it read; it waits
until the caches show its previous commit before deciding again.

A Deployment being deleted is left to the garbage collector: no ReplicaSet is created or
scaled up for it, nor is one that is itself being deleted scaled up.
"""

from __future__ import annotations

import time
from typing import Any

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.api import workloads as W
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import rollout as R
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import NAMESPACE, OWNER, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import Registry, Write
from mixfleet.util import log

_log = log.get("controllers.deployment")


def new_replicaset(d: ObjView, h: str, *, replicas: int, revision: int) -> Obj:
    tmpl = thaw(d["spec"]["template"])
    tmpl.setdefault("metadata", {}).setdefault("labels", {})[W.TEMPLATE_HASH] = h
    selector = thaw(d["spec"]["selector"])
    selector.setdefault("matchLabels", {})[W.TEMPLATE_HASH] = h
    dm = d["metadata"]
    annotations = {W.REVISION: str(revision), W.DESIRED_REPLICAS: str(d["spec"].get("replicas", 1))}
    cause = (dm.get("annotations") or {}).get(W.CHANGE_CAUSE)
    if cause:
        annotations[W.CHANGE_CAUSE] = cause
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{dm['name']}-{h}",
            "namespace": dm.get("namespace", "default"),
            "labels": dict(tmpl["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [objects.owner_reference(d)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": tmpl},
    }


class _View:
    """What one sync read: the Deployment's ReplicaSets (oldest first) and their pods."""

    def __init__(self, d: ObjView, sets: list[ObjView], pods: dict[str, list[ObjView]]) -> None:
        self.d = d
        self.hash = W.template_hash(d["spec"]["template"])
        self.sets = sorted(sets, key=lambda rs: (W.revision(rs), rs["metadata"]["name"]))
        self.pods = pods  # ReplicaSet uid -> the pods it owns
        self.new = next(
            (rs for rs in self.sets
             if (rs["metadata"].get("labels") or {}).get(W.TEMPLATE_HASH) == self.hash
             and not P.deleting(rs)),
            None,
        )
        self.old = [rs for rs in self.sets if rs is not self.new]

    def state(self, rs: ObjView, replicas: int | None = None) -> R.RSState:
        active = [p for p in self.pods.get(rs["metadata"]["uid"], []) if P.is_active(p)]
        spec = int(rs["spec"].get("replicas", 0)) if replicas is None else replicas
        return R.RSState.of(rs["metadata"]["name"], spec, len(active),
                            sum(1 for p in active if P.is_available(p)))

    def ready(self) -> int:
        return sum(1 for ps in self.pods.values() for p in ps if P.is_active(p) and P.is_ready(p))

    def max_revision(self) -> int:
        return max((W.revision(rs) for rs in self.old), default=0)


class DeploymentController(Controller):
    name = "deployment-controller"
    primary_kind = "Deployment"

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        super().__init__(registry, informers)
        informers.on("Deployment", lambda t, d: self.queue.add(cache_key(d)))
        self._rs = informers.on("ReplicaSet", self._on_owned)
        self._pods = informers.on("Pod", self._on_pod)

    def _on_owned(self, type_: str, obj: ObjView) -> None:
        ref = objects.controller_of(obj)
        if ref and ref.get("kind") == "Deployment":
            self.queue.add(f"{obj['metadata'].get('namespace', 'default')}/{ref['name']}")

    def _on_pod(self, type_: str, pod: ObjView) -> None:
        # A pod's readiness moves the rollout: find its ReplicaSet's Deployment in the cache.
        ref = objects.controller_of(pod)
        if ref and ref.get("kind") == "ReplicaSet":
            ns = pod["metadata"].get("namespace", "default")
            rs = self._rs.get(f"{ns}/{ref['name']}")
            if rs is not None:
                self._on_owned(type_, rs)

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        d = self.primary.get(key)
        if d is None:
            self.expectations.forget(key)
            return None
        if P.deleting(d):
            return None  # the garbage collector removes what it owns
        ns = objects.namespace(d) or "default"
        adopt = [rs for rs in self._rs.by_index(NAMESPACE, ns) if self._orphan_match(d, rs)]
        sets = [rs for rs in self._rs.by_index(OWNER, objects.uid(d))
                if objects.is_controlled_by(rs, d)] + adopt
        pods = {objects.uid(rs): [p for p in self._pods.by_index(OWNER, objects.uid(rs))
                                  if objects.is_owned_by(p, rs)] for rs in sets}
        view = _View(d, sets, pods)
        if view.new is None:
            await self._create_new(view)
            return 0  # scale it in the next sync, once the caches show it
        ops, events, status_d = self._plan(view, adopt)
        await self.commit(key, ops)
        for reason, message in events:
            await self._event(d, reason, message)
        if _timed_out(status_d) and not _timed_out(d):
            await self.events.record(d, type=WARNING, reason="ProgressDeadlineExceeded",
                                     message=_progressing(status_d).get("message", ""))
        left = R.progress_deadline(status_d)
        return None if left is None else max(left, 0.0) + 1.0

    async def _event(self, d: ObjView, reason: str, message: str) -> None:
        _log.info("deployment.step", deployment=cache_key(d), reason=reason, message=message)
        await self.events.record(d, type=NORMAL, reason=reason, message=message)

    async def _create_new(self, view: _View) -> None:
        """The first ReplicaSet gets all replicas at once; a later one starts at zero and
        grows as the rollout allows."""
        d = view.d
        first = not any(int(rs["spec"].get("replicas", 0)) for rs in view.old)
        replicas = int(d["spec"].get("replicas", 1)) if first else 0
        if self._strategy(d) == "Recreate" and view.old:
            replicas = 0
        rs = new_replicaset(d, view.hash, replicas=replicas, revision=view.max_revision() + 1)
        await self.commit(cache_key(d), [writes.guard(d), writes.create(rs)])
        await self._event(
            d, "ScalingReplicaSet", f"Scaled up replica set {rs['metadata']['name']} to {replicas}"
        )

    @staticmethod
    def _orphan_match(d: ObjView, rs: ObjView) -> bool:
        if objects.controller_of(rs) or P.deleting(rs):
            return False
        want = (d["spec"].get("selector") or {}).get("matchLabels") or {}
        labels = rs["metadata"].get("labels") or {}
        return bool(want) and all(labels.get(k) == v for k, v in want.items())

    def _plan(
        self, view: _View, adopt: list[ObjView]
    ) -> tuple[list[Write], list[tuple[str, str]], ObjView]:
        d, new = view.d, view.new
        assert new is not None
        want = int(d["spec"].get("replicas", 1))
        changed: dict[str, Obj] = {}
        for found in adopt:
            rs = thaw(found)
            refs = rs["metadata"].get("ownerReferences") or []
            rs["metadata"]["ownerReferences"] = [*refs, objects.owner_reference(d)]
            changed[rs["metadata"]["name"]] = rs
        if W.revision(new) <= view.max_revision():  # a rollback made an old template current
            rs = changed.get(new["metadata"]["name"]) or thaw(new)
            rs["metadata"].setdefault("annotations", {})[W.REVISION] = str(view.max_revision() + 1)
            changed[rs["metadata"]["name"]] = rs
        scales = self._scales(view)
        by_name = {rs["metadata"]["name"]: rs for rs in view.sets}
        events = []
        for name, n in scales.items():
            before = int(by_name[name]["spec"].get("replicas", 0))
            if n > before and P.deleting(by_name[name]):
                continue  # a ReplicaSet being deleted only shrinks (it creates no pods anyway)
            changed[name] = _with_replicas(changed.get(name) or by_name[name], n, want)
            verb = "up" if n > before else "down"
            events.append(("ScalingReplicaSet", f"Scaled {verb} replica set {name} to {n}"))
        ops: list[Write] = [writes.update(by_name[name], rs) for name, rs in changed.items()]
        ops.extend(self._history_cleanup(view, scales))
        status_d = self._with_status(view, changed)
        if ops or status_d != d:
            ops.insert(0, writes.update(d, status_d))
        return ops, events, status_d

    @staticmethod
    def _strategy(d: ObjView) -> str:
        return str((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate")

    def _scales(self, view: _View) -> dict[str, int]:
        d, new = view.d, view.new
        assert new is not None
        want = int(d["spec"].get("replicas", 1))
        new_state = view.state(new)
        old_states = [view.state(rs) for rs in view.old]
        if self._strategy(d) == "Recreate":
            return R.plan_recreate(replicas=want, new=new_state, old=old_states)
        surge, unavailable = W.surge_and_unavailable(d)
        return R.plan_rolling(
            replicas=want, surge=surge, unavailable=unavailable, new=new_state, old=old_states
        )

    @staticmethod
    def _history_cleanup(view: _View, scales: dict[str, int]) -> list[Write]:
        limit = int(view.d["spec"].get("revisionHistoryLimit", 10))
        idle = [
            rs for rs in view.old
            if int(rs["spec"].get("replicas", 0)) == 0 and rs["metadata"]["name"] not in scales
            and not any(P.is_active(p) for p in view.pods.get(rs["metadata"]["uid"], []))
        ]
        return [writes.delete(rs) for rs in idle[: max(len(idle) - limit, 0)]]

    @staticmethod
    def _with_status(view: _View, changed: dict[str, Obj]) -> Obj:
        d: Obj = thaw(view.d)
        current = view.new
        assert current is not None
        new: ObjView = changed.get(current["metadata"]["name"], current)
        new_state = view.state(new)
        states = [view.state(rs) for rs in view.old]
        d["status"] = R.deployment_status(
            d, new=new_state, all_states=[*states, new_state], ready=view.ready(), now=time.time()
        )
        rev = (new["metadata"].get("annotations") or {}).get(W.REVISION)
        annotations: dict[str, Any] = d["metadata"].setdefault("annotations", {})
        if rev and annotations.get(W.REVISION) != rev:
            annotations[W.REVISION] = rev
        return d


def _progressing(d: ObjView) -> dict:
    return next((c for c in (d.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Progressing"), {})


def _timed_out(d: ObjView) -> bool:
    return _progressing(d).get("reason") == "ProgressDeadlineExceeded"


def _with_replicas(rs: ObjView, n: int, desired: int) -> Obj:
    out: Obj = thaw(rs)
    out["spec"]["replicas"] = n
    out["metadata"].setdefault("annotations", {})[W.DESIRED_REPLICAS] = str(desired)
    return out
