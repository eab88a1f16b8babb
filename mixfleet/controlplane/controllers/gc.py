"""The garbage collector: finishes cascading deletion along ownerReferences.

- background: an object whose ownerReferences all point at owners that no longer exist
  (by uid: a new owner with the same name does not count) is deleted;
- foreground: an owner marked deleted with the ``foregroundDeletion`` finalizer has its
  dependents deleted first (their own dependents in the foreground too); when none is left
  the finalizer is removed and the registry deletes the owner;
- orphan: the registry already stripped the references; nothing to do here.

Keys are ``Kind/namespace/name``. Owner existence is always checked with a fresh read, so
an informer that has not caught up can never cause a wrong deletion.
"""

from __future__ import annotations

import copy

from mixfleet.api import kinds, objects
from mixfleet.api import pods as P
from mixfleet.api.types import Obj
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.queue import Requeue
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


def gc_key(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{m.get('namespace', 'default')}/{m.get('name')}"


def _foreground_pending(obj: Obj) -> bool:
    return P.deleting(obj) and FOREGROUND in ((obj.get("metadata") or {}).get("finalizers") or [])


class GarbageCollector(Controller):
    name = "garbage-collector"
    primary_kind = "ReplicaSet"

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        super().__init__(registry, informers)
        self._caches = {k: informers.on(k, self._on_event) for k in KINDS}

    def _on_event(self, type_: str, obj: Obj) -> None:
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
            for o in inf.items()
            if (o.get("metadata") or {}).get("namespace", "default") == ns
            and any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]

    def resync_keys(self) -> list[str]:
        return [
            gc_key(o)
            for inf in self._caches.values()
            for o in inf.items()
            if o["metadata"].get("ownerReferences") or _foreground_pending(o)
        ]

    async def sync(self, key: str) -> float | None:
        kind, ns, name = key.split("/", 2)
        try:
            obj = await self.registry.get(kind, name, ns)
        except ObjectNotFoundError:
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
            await self._delete(obj, "Background", why="all owners are gone")
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

    async def _foreground(self, owner: Obj) -> float | None:
        m = owner["metadata"]
        ns = m.get("namespace", "default")
        dependents = []
        for kind in KINDS:
            items, _ = await self.registry.list(kind, namespace=ns)
            dependents.extend(o for o in items if objects.is_owned_by(o, owner))
        if dependents:
            for dep in dependents:
                if not P.deleting(dep):
                    policy = "Foreground" if dep["kind"] in _OWNER_KINDS else "Background"
                    await self._delete(dep, policy, why=f"its owner {gc_key(owner)} is deleted")
            return FOREGROUND_POLL
        freed = copy.deepcopy(owner)
        freed["metadata"]["finalizers"] = [f for f in m.get("finalizers") or [] if f != FOREGROUND]
        try:
            await self.registry.update(freed)
        except StaleObjectError as e:
            raise Requeue(str(e)) from e
        except ObjectNotFoundError:
            return None
        _log.info("gc.foreground_done", object=gc_key(owner))
        return None

    async def _delete(self, obj: Obj, policy: str, *, why: str) -> None:
        m = obj["metadata"]
        try:
            await self.registry.delete(
                obj["kind"], m["name"], m.get("namespace", ""), propagation_policy=policy,
                precondition_resource_version=m["resourceVersion"],
            )
        except ObjectNotFoundError:
            return
        except StaleObjectError as e:
            raise Requeue(str(e)) from e
        _log.info("gc.deleted", object=gc_key(obj), policy=policy, reason=why)
