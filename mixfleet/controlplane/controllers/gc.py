"""The garbage collector: finishes cascading deletion along ownerReferences.

- background: an object whose ownerReferences all point at owners that no longer exist
  (by uid: a new owner with the same name does not count) is deleted;
- foreground: an owner marked deleted with the ``foregroundDeletion`` finalizer has its
  dependents deleted first (their own dependents in the foreground too); when none is left
  the finalizer is removed and the registry deletes the owner;
- orphan: the registry already stripped the references; nothing to do here.

Keys are ``Kind/namespace/name``. Objects and their dependents are read from the
informers (dependents by owner uid); an owner missing from the cache is always checked with
a fresh read before anything is deleted, so an informer that has not caught up can never
cause a wrong deletion; every delete is a CAS on the revision read.

Dependents go in batches (``Registry.delete_many``: 60 per store transaction): when one
dependent's owners are found gone, so are they for every dependent with the same owners,
and a foreground owner's pods are deleted together; one transaction per pod made a
10,000-pod Deployment take minutes. A pod bound to a node is only marked, for its agent to
stop it gracefully; one that is not bound, or whose Node is gone (no agent will ever confirm
it, as Kubernetes' pod GC reasons), is removed at once.
"""

from __future__ import annotations

from mixfleet.api import kinds, objects
from mixfleet.api import pods as P
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.queue import Requeue
from mixfleet.controlplane.informer import OWNER, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import (
    Delete,
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
)
from mixfleet.util import log

_log = log.get("controllers.gc")

FOREGROUND = "foregroundDeletion"
# Owners and dependents, of the kinds this server has.
_ALL_KINDS: tuple[str, ...] = ("Deployment", "ReplicaSet", "DaemonSet", "CronJob", "Job", "Pod")
KINDS: tuple[str, ...] = tuple(k for k in _ALL_KINDS if k in kinds.ACCEPTED_API_VERSIONS)
_OWNER_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != "Pod")
FOREGROUND_POLL = 1.0  # seconds between checks while dependents finish terminating
LOGGED_NAMES = 5  # a batch's log line names this many of its objects


def gc_key(obj: ObjView) -> str:
    m = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{m.get('namespace', 'default')}/{m.get('name')}"


def _foreground_pending(obj: ObjView) -> bool:
    return P.deleting(obj) and FOREGROUND in ((obj.get("metadata") or {}).get("finalizers") or [])


class GarbageCollector(Controller):
    name = "garbage-collector"
    primary_kind = "ReplicaSet"

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        super().__init__(registry, informers)
        self._caches = {k: informers.on(k, self._on_event) for k in KINDS}
        self._nodes = informers.informer("Node")

    def _on_event(self, type_: str, obj: ObjView) -> None:
        m = obj.get("metadata") or {}
        if type_ == "DELETED":
            uid = m.get("uid")
            for key in self._dependents_in_cache(uid, m.get("namespace", "default")):
                self.queue.add(key)
        elif _foreground_pending(obj) or (type_ == "ADDED" and m.get("ownerReferences")):
            self.queue.add(gc_key(obj))
        if type_ == "DELETED" or P.deleting(obj):
            # A dependent going away may be what a foreground owner waits for.
            for ref in m.get("ownerReferences") or []:
                self.queue.add(f"{ref.get('kind')}/{m.get('namespace', 'default')}/{ref.get('name')}")

    def _dependents_in_cache(self, uid: str | None, ns: str) -> list[str]:
        return [
            gc_key(o)
            for inf in self._caches.values()
            for o in inf.by_index(OWNER, str(uid))
            if (o.get("metadata") or {}).get("namespace", "default") == ns
        ] if uid else []

    def _dependents(self, owner: ObjView) -> list[ObjView]:
        uid, ns = objects.uid(owner), objects.namespace(owner) or "default"
        return [
            o for kind in KINDS for o in self._caches[kind].by_index(OWNER, uid)
            if (o.get("metadata") or {}).get("namespace", "default") == ns
            and objects.is_owned_by(o, owner)
        ]

    def resync_keys(self) -> list[str]:
        return [
            gc_key(o)
            for inf in self._caches.values()
            for o in inf.items()
            if o["metadata"].get("ownerReferences") or _foreground_pending(o)
        ]

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        kind, ns, name = key.split("/", 2)
        inf = self._caches.get(kind)
        obj = inf.get(f"{ns}/{name}") if inf is not None else None
        if obj is None:
            self.expectations.forget(key)
            return None
        if _foreground_pending(obj):
            return await self._foreground(obj)
        refs = obj["metadata"].get("ownerReferences") or []
        if refs and not P.deleting(obj):
            # An owner in the cache exists (its deletion will enqueue this object again),
            # which spares a store read per dependent when a new leader starts.
            if any(self._cached(ref, ns) for ref in refs):
                return None
            for ref in refs:
                if await self._owner_exists(ref, ns):
                    return None
            await self._collect_orphans(obj, {str(r.get("uid")) for r in refs})
        return None

    async def _collect_orphans(self, obj: ObjView, gone: set[str]) -> None:
        """Delete ``obj``, whose owners (uids ``gone``) are all gone, with every other
        dependent of theirs that has no other owner, in batches."""
        ns = objects.namespace(obj) or "default"
        found = {gc_key(obj): obj}
        for kind in KINDS:
            for uid in gone:
                for o in self._caches[kind].by_index(OWNER, uid):
                    if (objects.namespace(o) or "default") == ns and not P.deleting(o) and {
                        str(r.get("uid")) for r in o["metadata"].get("ownerReferences") or []
                    } <= gone:
                        found.setdefault(gc_key(o), o)
        lost = await self._delete_batch(list(found.values()), why="all owners are gone")
        if lost:
            raise Requeue(f"{len(lost)} dependents changed while being deleted")

    def _cached(self, ref: dict, ns: str) -> bool:
        inf = self._caches.get(str(ref.get("kind")))
        owner = inf.get(f"{ns}/{ref.get('name')}") if inf is not None else None
        return owner is not None and owner["metadata"].get("uid") == ref.get("uid")

    async def _owner_exists(self, ref: dict, ns: str) -> bool:
        try:
            k = kinds.by_kind(str(ref.get("kind")))
        except kinds.UnknownKindError:
            return True  # not ours to judge
        try:
            owner = await self.registry.get(k.kind, str(ref.get("name")), ns if k.namespaced else "")
        except ObjectNotFoundError:
            return False
        return owner["metadata"].get("uid") == ref.get("uid")

    async def _foreground(self, owner: ObjView) -> float | None:
        m = owner["metadata"]
        dependents = self._dependents(owner)
        if dependents:
            why = f"its owner {gc_key(owner)} is deleted"
            seen: list[writes.Seen] = []
            try:
                for dep in dependents:
                    if dep["kind"] in _OWNER_KINDS and not P.deleting(dep):
                        # Its own dependents go first, so it is marked, not removed: one
                        # write per ReplicaSet, of which there are few.
                        done = await self._delete(dep, "Foreground", why=why)
                        if done is not None:
                            rev = int(done["metadata"]["resourceVersion"])
                            seen.append((self._caches[dep["kind"]], cache_key(dep), rev, None))
                # Pods already terminating are left to their agents, except where no
                # agent is left to confirm (the batch removes those at once).
                pods = [d for d in dependents if d["kind"] not in _OWNER_KINDS]
                await self._delete_batch(pods, why=why, owner=gc_key(owner))
            finally:
                # Until the caches show these deletions, the next poll would delete again.
                self.expectations.expect(gc_key(owner), seen)
            return FOREGROUND_POLL
        freed: Obj = thaw(owner)
        freed["metadata"]["finalizers"] = [f for f in m.get("finalizers") or [] if f != FOREGROUND]
        try:
            await self.registry.update(freed)
        except StaleObjectError as e:
            raise Requeue(str(e)) from e
        except ObjectNotFoundError:
            return None
        _log.info("gc.foreground_done", object=gc_key(owner))
        return None

    async def _delete(self, obj: ObjView, policy: str, *, why: str) -> Obj | None:
        """Delete through the registry (CAS on the revision read); what it returns, or None
        if the object was gone already."""
        m = obj["metadata"]
        try:
            done = await self.registry.delete(
                obj["kind"], m["name"], m.get("namespace", ""), propagation_policy=policy,
                precondition_resource_version=m["resourceVersion"],
            )
        except ObjectNotFoundError:
            return None
        except StaleObjectError as e:
            raise Requeue(str(e)) from e
        _log.info("gc.deleted", object=gc_key(obj), policy=policy, reason=why)
        return done

    async def _delete_batch(
        self, objs: list[ObjView], *, why: str, owner: str = ""
    ) -> list[ObjView]:
        """Delete ``objs`` in the background (``Registry.delete_many``); a pod no agent will
        stop is removed at once, one already terminating is skipped unless so. Each object's
        key waits for the caches to show its deletion (``owner``'s key too, if given), so
        the syncs the deletions trigger do not delete again. Returns the objects that
        changed since they were read (not deleted)."""
        deletes: list[Delete] = []
        nodes: dict[str, bool] = {}
        for o in objs:
            abandoned = o["kind"] == "Pod" and not await self._has_live_node(o, nodes)
            if P.deleting(o) and not abandoned:
                continue
            deletes.append(Delete(o, grace=0 if abandoned else -1))
        if not deletes:
            return []
        result = await self.registry.delete_many(deletes)
        seen: list[writes.Seen] = []
        for d in result.deleted:
            if d.revision:
                entry = (self._caches[d.write.obj["kind"]], cache_key(d.write.obj), d.revision, None)
                seen.append(entry)
                self.expectations.expect(gc_key(d.write.obj), [entry])
        if owner:
            self.expectations.expect(owner, seen)
        names = [gc_key(d.write.obj) for d in result.deleted]
        _log.info("gc.deleted", objects=len(names), first=names[:LOGGED_NAMES], reason=why,
                  changed=len(result.lost), policy="Background")
        return [w.obj for w in result.lost]

    async def _has_live_node(self, pod: ObjView, known: dict[str, bool]) -> bool:
        """Whether ``pod`` is bound to a Node that exists (an agent may be running it); a
        Node missing from the cache is looked up once per batch (``known``)."""
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if not node:
            return True  # not bound: the registry removes it at once anyway
        if node not in known:
            known[node] = self._nodes.get(node) is not None or await self._node_exists(node)
        return known[node]

    async def _node_exists(self, name: str) -> bool:
        try:
            await self.registry.get("Node", name)
        except ObjectNotFoundError:
            return False
        return True
