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
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
)
from mixfleet.util import log

_log = log.get("controllers.gc")

FOREGROUND = "foregroundDeletion"
KINDS = ("Deployment", "ReplicaSet", "Pod")
_OWNER_KINDS = ("Deployment", "ReplicaSet")
FOREGROUND_POLL = 1.0  # seconds between checks while dependents finish terminating


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
            done = await self._delete(obj, "Background", why="all owners are gone")
            if done is not None and inf is not None:
                rev = int(done["metadata"]["resourceVersion"])
                self.expectations.expect(key, [(inf, cache_key(obj), rev, None)])
        return None

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
            seen: list[writes.Seen] = []
            try:
                for dep in dependents:
                    if not P.deleting(dep):
                        policy = "Foreground" if dep["kind"] in _OWNER_KINDS else "Background"
                        done = await self._delete(dep, policy, why=f"its owner {gc_key(owner)} is deleted")
                        if done is not None:
                            rev = int(done["metadata"]["resourceVersion"])
                            seen.append((self._caches[dep["kind"]], cache_key(dep), rev, None))
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
