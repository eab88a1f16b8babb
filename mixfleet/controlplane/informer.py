"""A list-and-watch cache of one kind, for loops inside the control plane.

Like a client-go informer: list once, then follow the store's watch from the list's
revision; when the watch falls behind a compaction it re-lists. Handlers receive the event
type and the object.

Objects in the cache are shared (with the API server's watch cache too) and read-only
(``ObjView``; frozen, so that changing one raises TypeError, with MIXFLEET_FROZEN_CACHES=1:
controlplane/objects.py): a writer copies what it read.
Optional indexes (``indexers``: name -> function giving an object's index values) answer
"every pod owned by this uid" or "every pod on this node" without a scan or a store read;
``revision`` and ``observed`` tell a controller whether its own last write has arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from mixfleet.api import kinds
from mixfleet.api.types import ObjView
from mixfleet.controlplane.objects import caches_frozen, freeze
from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.watch import watch

if TYPE_CHECKING:
    from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.store.base import CompactedError, StoreClosedError, UnavailableError
from mixfleet.util import log
from mixfleet.util.aio import survivable

_log = log.get("informer")

Handler = Callable[[str, ObjView], Awaitable[None] | None]
Indexer = Callable[[ObjView], Iterable[str]]

OWNER = "owner"  # ownerReferences[*].uid
NODE = "node"  # spec.nodeName
NAMESPACE = "namespace"  # metadata.namespace


def _owners(obj: ObjView) -> Iterable[str]:
    return [str(r.get("uid")) for r in (obj.get("metadata") or {}).get("ownerReferences") or ()
            if r.get("uid")]


def _node(obj: ObjView) -> Iterable[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return (node,) if node else ()


def _namespace(obj: ObjView) -> Iterable[str]:
    return (str((obj.get("metadata") or {}).get("namespace") or ""),)


INDEXERS: Mapping[str, Indexer] = {OWNER: _owners, NODE: _node, NAMESPACE: _namespace}


def cache_key(obj: ObjView) -> str:
    m = obj.get("metadata") or {}
    ns = m.get("namespace")
    return f"{ns}/{m.get('name')}" if ns else str(m.get("name"))


def _rev(obj: ObjView) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


class Informer:
    def __init__(
        self,
        registry: Registry,
        kind: str,
        *,
        handler: Handler | None = None,
        watches: "WatchCache | None" = None,
        indexers: Mapping[str, Indexer] | None = None,
        fresh: bool = False,
    ) -> None:
        """With ``watches`` (the API server's watch cache) the informer shares its decoded
        objects instead of listing and decoding the store's changes again; ``fresh``: its
        (re)lists are of the store as it is now, not as far as the watch cache has got."""
        self.registry = registry
        self.kind = kinds.lookup(kind)
        self.handler = handler
        self.watches = watches
        self.cache: dict[str, ObjView] = {}
        self.synced = asyncio.Event()
        self.revision = 0  # every change of this kind up to here is in the cache
        self.fresh = fresh
        self._indexers: dict[str, Indexer] = dict(indexers or {})
        self._indexes: dict[str, dict[str, set[str]]] = {n: {} for n in self._indexers}

    def get(self, key: str) -> ObjView | None:
        return self.cache.get(key)

    def items(self) -> list[ObjView]:
        return list(self.cache.values())

    def by_index(self, index: str, value: str) -> list[ObjView]:
        """The cached objects whose ``index`` function gives ``value`` (KeyError: no such
        index on this informer)."""
        keys = self._indexes[index].get(value, ())
        return [self.cache[k] for k in keys]

    def index_values(self, index: str) -> list[str]:
        """Every value ``index`` has objects under (e.g. each node name pods are bound to)."""
        return [v for v, keys in self._indexes[index].items() if keys]

    def observed(self, key: str, revision: int, *, gone: bool | None = False) -> bool:
        """Whether the cache shows a write made at ``revision`` to ``key``: the object at
        that revision or later (``gone``: removed; None: either)."""
        if self.revision > revision:
            return True  # changes arrive in revision order: that one has been applied
        obj = self.cache.get(key)
        if obj is None:
            return gone is not False
        return _rev(obj) >= revision

    async def run(self) -> None:
        """Runs until cancelled."""
        delay = 0.2
        while True:
            try:
                await self._list_and_watch()
            except CompactedError as e:
                _log.info("informer.relist", kind=self.kind.kind, reason=str(e))
            except StoreClosedError:
                return  # shutting down (a stop whose cancellation the store swallowed)
            except UnavailableError as e:
                _log.warning("informer.store_unavailable", kind=self.kind.kind, error=str(e))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except (Exception, asyncio.CancelledError) as e:
                # As in the watch cache: a loop waiting on ``synced`` would wait for ever.
                if not survivable(e):
                    raise
                _log.error("informer.failed", kind=self.kind.kind, error=repr(e))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _list_and_watch(self) -> None:
        if self.watches is not None:
            items: list[ObjView]
            items, rev, changes = await self.watches.follow(self.kind.kind, fresh=self.fresh)
            convert = False  # the watch cache's objects, as they are
        else:
            listed, rev = await self.registry.list(self.kind.kind, all_namespaces=True)
            items = [freeze(o) for o in listed] if caches_frozen() else list(listed)
            changes = watch(
                self.registry, self.kind.kind, all_namespaces=True, from_revision=rev + 1
            )
            convert = caches_frozen()
        fresh = {cache_key(o): o for o in items}
        gone = [self.cache[k] for k in self.cache.keys() - fresh.keys()]
        self.cache = fresh
        self.revision = rev
        self._indexes = {n: {} for n in self._indexers}
        for key, item in fresh.items():
            self._index(key, None, item)
        for item in gone:
            await self._notify("DELETED", item)
        for item in items:
            await self._notify("ADDED", item)
        self.synced.set()
        async for ev in changes:
            obj: ObjView = freeze(ev.object) if convert else ev.object
            key = cache_key(obj)
            old = self.cache.get(key)
            if ev.type == "DELETED":
                self.cache.pop(key, None)
                self._index(key, old, None)
            else:
                self.cache[key] = obj
                self._index(key, old, obj)
            self.revision = max(self.revision, ev.revision)
            await self._notify(ev.type, obj)

    def _index(self, key: str, old: ObjView | None, new: ObjView | None) -> None:
        for name, fn in self._indexers.items():
            before = set(fn(old)) if old is not None else set()
            after = set(fn(new)) if new is not None else set()
            if before == after:
                continue
            index = self._indexes[name]
            for v in before - after:
                keys = index.get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[v]
            for v in after - before:
                index.setdefault(v, set()).add(key)

    async def _notify(self, type_: str, obj: ObjView) -> None:
        if self.handler is None:
            return
        try:
            res: Any = self.handler(type_, obj)
            if asyncio.iscoroutine(res):
                await res
        except Exception:
            _log.exception("informer.handler_failed", kind=self.kind.kind, event_type=type_)
