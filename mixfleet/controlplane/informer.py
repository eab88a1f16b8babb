"""A list-and-watch cache of one kind, for loops inside the control plane.

Like a client-go informer: list once, then follow the store's watch from the list's
revision; when the watch falls behind a compaction it re-lists. Handlers receive the event
type and the object; objects in the cache are shared and must never be mutated.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from mixfleet.api import kinds
from mixfleet.api.types import Obj
from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.watch import watch

if TYPE_CHECKING:
    from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.store.base import CompactedError, UnavailableError
from mixfleet.util import log

_log = log.get("informer")

Handler = Callable[[str, Obj], Awaitable[None] | None]


def cache_key(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    ns = m.get("namespace")
    return f"{ns}/{m.get('name')}" if ns else str(m.get("name"))


class Informer:
    def __init__(
        self,
        registry: Registry,
        kind: str,
        *,
        handler: Handler | None = None,
        watches: "WatchCache | None" = None,
    ) -> None:
        """With ``watches`` (the API server's watch cache) the informer shares its decoded
        objects instead of listing and decoding the store's changes again."""
        self.registry = registry
        self.kind = kinds.lookup(kind)
        self.handler = handler
        self.watches = watches
        self.cache: dict[str, Obj] = {}
        self.synced = asyncio.Event()

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def items(self) -> list[Obj]:
        return list(self.cache.values())

    async def run(self) -> None:
        """Runs until cancelled."""
        delay = 0.2
        while True:
            try:
                await self._list_and_watch()
            except CompactedError as e:
                _log.info("informer.relist", kind=self.kind.kind, reason=str(e))
            except UnavailableError as e:
                _log.warning("informer.store_unavailable", kind=self.kind.kind, error=str(e))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _list_and_watch(self) -> None:
        if self.watches is not None:
            items, changes = await self.watches.follow(self.kind.kind)
        else:
            items, rev = await self.registry.list(self.kind.kind, all_namespaces=True)
            changes = watch(
                self.registry, self.kind.kind, all_namespaces=True, from_revision=rev + 1
            )
        fresh = {cache_key(o): o for o in items}
        gone = [self.cache[k] for k in self.cache.keys() - fresh.keys()]
        self.cache = fresh
        for obj in gone:
            await self._notify("DELETED", obj)
        for obj in items:
            await self._notify("ADDED", obj)
        self.synced.set()
        async for ev in changes:
            key = cache_key(ev.object)
            if ev.type == "DELETED":
                self.cache.pop(key, None)
            else:
                self.cache[key] = ev.object
            await self._notify(ev.type, ev.object)

    async def _notify(self, type_: str, obj: Obj) -> None:
        if self.handler is None:
            return
        try:
            res: Any = self.handler(type_, obj)
            if asyncio.iscoroutine(res):
                await res
        except Exception:
            _log.exception("informer.handler_failed", kind=self.kind.kind, event=type_)
