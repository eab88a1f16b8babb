"""The API server's watch cache: one store watch per kind, decoded once, fanned out to every
API watcher (like the Kubernetes API server's cacher).

Without it, every Watch RPC opens its own store watch and decodes every change of its kind:
a thousand node agents watching pods would decode each pod change a thousand times. Here a
change is decoded once; each watcher only runs its selector over the decoded object.

Each kind's cache keeps the current objects and a ring of recent changes. A watch from
revision 0 starts with the current objects; a watch from a revision the ring still holds
replays from it; an older revision falls back to the store's own history (which answers
"too old" after compaction). A watcher that cannot keep up is ended with ``TooSlowError``
(the client re-lists), so one stuck client never holds the others back.

Every watcher and in-process informer shares the cached objects, so none may change them
(with ``MIXFLEET_FROZEN_CACHES=1`` they are decoded frozen and cannot: controlplane/objects.py).
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import AsyncIterator

from mixfleet.api import kinds
from mixfleet.api.selectors import field_value
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.informer import cache_key
from mixfleet.controlplane.objects import caches_frozen, decode, with_revision
from mixfleet.controlplane.registry import ObjectFilter, Registry
from mixfleet.controlplane.watch import ApiEvent, selector_event, watch
from mixfleet.store.base import CompactedError, EventType, StoreClosedError, UnavailableError
from mixfleet.util import log
from mixfleet.util.aio import settle, survivable

_log = log.get("watchcache")

# Recent changes kept per kind for watches that resume from a revision: at most this many,
# and at most this many bytes of objects (as encoded in the store). A count alone let 300
# updates of a 2 MB pod hold 600 MB; watchers resuming from further back are served from
# the store's history instead.
RING_SIZE = 10_000
RING_BYTES = 8 * 1024 * 1024
QUEUE_SIZE = 10_000  # changes a watcher may fall behind by before it is ended
# Watchers that pin this field (every node agent: spec.nodeName=<node>) are indexed by its
# value, so a pod change wakes the one or two agents concerned, not all of them.
INDEXED_FIELD = "spec.nodeName"


class WatchClosedError(CompactedError):
    """The watch must start over from a fresh list (a 'too old' answer to the client)."""

    def __init__(self, why: str) -> None:
        super().__init__(0, 0)
        self.args = (f"{why}: re-list and watch again",)


def _too_slow() -> WatchClosedError:
    return WatchClosedError("the watcher fell too far behind and was closed")


def _restarted() -> WatchClosedError:
    return WatchClosedError("the server's watch cache re-listed")


@dataclass(frozen=True, slots=True)
class Change:
    revision: int
    prev: Obj | None  # None: created
    cur: Obj | None  # None: deleted
    size: int = 0  # bytes of the object this change brings (the removed one for a delete)


class _Watcher:
    def __init__(self, match: ObjectFilter, namespace: str | None) -> None:
        self.match = match
        self.namespace = namespace
        self.index_value = match.required_value(INDEXED_FIELD)
        self.queue: asyncio.Queue[Change | Exception] = asyncio.Queue(QUEUE_SIZE)
        self.closed = False

    def offer(self, item: Change | Exception) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.closed = True
            self.queue.get_nowait()  # make room for the verdict
            self.queue.put_nowait(_too_slow())

    def in_scope(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.match(obj)

    def translate(self, ch: Change) -> ApiEvent | None:
        """The API event this watcher sees, or None (an object moving into the selector is
        ADDED, one moving out is DELETED)."""
        was_in = self.in_scope(ch.prev)
        return selector_event(
            was_in=was_in,
            now_in=self.in_scope(ch.cur),
            prev=_deleted(ch.prev, ch.revision) if was_in and ch.cur is None else ch.prev,
            cur=ch.cur,
            revision=ch.revision,
        )


def _deleted(prev: Obj | None, revision: int) -> Obj:
    return with_revision(prev if prev is not None else {}, revision)


class _KindCache:
    def __init__(self, registry: Registry, kind: kinds.Kind) -> None:
        self.registry = registry
        self.kind = kind
        self.objects: dict[str, Obj] = {}
        self.ring: collections.deque[Change] = collections.deque()
        self.ring_bytes = 0
        self.revision = 0  # every change up to here has been applied
        self.floor = 0  # the ring holds every change from here on
        self.watchers: set[_Watcher] = set()  # all of them
        self.unindexed: set[_Watcher] = set()
        self.by_field: dict[str, set[_Watcher]] = {}  # INDEXED_FIELD value -> watchers
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.frozen = caches_frozen()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=f"watchcache:{self.kind.plural}")

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._list_and_follow()
            except CompactedError as e:
                _log.info("watchcache.relist", kind=self.kind.kind, reason=str(e))
                self._restart_watchers()
            except StoreClosedError:
                return  # shutting down (a stop whose cancellation the store swallowed)
            except UnavailableError as e:
                _log.warning("watchcache.store_unavailable", kind=self.kind.kind, error=str(e))
                self._restart_watchers()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except (Exception, asyncio.CancelledError) as e:
                # Anything else (a bug, an error a library did not translate, a cancellation
                # nobody asked for) must not end this task: every watcher and leader loop of
                # the kind waits on it, and would wait for ever.
                if not survivable(e):
                    raise
                _log.error("watchcache.failed", kind=self.kind.kind, error=repr(e))
                self._restart_watchers()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                delay = 0.2

    def _restart_watchers(self) -> None:
        self.ready.clear()
        for w in list(self.watchers):
            w.offer(_restarted())

    async def _list_and_follow(self) -> None:
        kvs, rev = await self.registry.store.list(self.kind.prefix(None))
        frozen = self.frozen
        self.objects = {cache_key(o): o for o in (decode(kv, frozen=frozen) for kv in kvs)}
        self.ring.clear()
        self.ring_bytes = 0
        self.revision, self.floor = rev, rev + 1
        self.ready.set()
        async for ev in self.registry.store.watch(self.kind.prefix(None), rev + 1):
            if ev.type is EventType.DELETE:
                prev_raw = ev.prev_value or ev.kv.value
                prev = decode(value=prev_raw, revision=ev.revision, frozen=frozen) if prev_raw else None
                ch = Change(ev.revision, prev, None, len(prev_raw or b""))
            else:
                cur = decode(ev.kv, frozen=frozen)
                ch = Change(ev.revision, self.objects.get(cache_key(cur)), cur, len(ev.kv.value))
            self._apply(ch)

    def _apply(self, ch: Change) -> None:
        obj = ch.cur if ch.cur is not None else ch.prev
        if obj is not None:
            key = cache_key(obj)
            if ch.cur is None:
                self.objects.pop(key, None)
            else:
                self.objects[key] = ch.cur
        self.ring.append(ch)
        self.ring_bytes += ch.size
        while len(self.ring) > 1 and (len(self.ring) > RING_SIZE or self.ring_bytes > RING_BYTES):
            gone = self.ring.popleft()
            self.ring_bytes -= gone.size
            # One transaction's changes share a revision: once any of them leaves the ring,
            # that whole revision is served from the store.
            self.floor = gone.revision + 1
        self.revision = ch.revision
        for w in self._concerned(ch):
            w.offer(ch)

    def _concerned(self, ch: Change) -> list[_Watcher]:
        """Watchers the change may matter to: unindexed ones, and indexed ones whose value
        the object had before or has now (moving in or out of a selector counts)."""
        out = list(self.unindexed)
        values = {field_value(o, INDEXED_FIELD) for o in (ch.prev, ch.cur) if o is not None}
        for v in values:
            out.extend(self.by_field.get(v, ()))
        return out

    def add(self, w: _Watcher) -> None:
        self.watchers.add(w)
        if w.index_value is None:
            self.unindexed.add(w)
        else:
            self.by_field.setdefault(w.index_value, set()).add(w)

    def discard(self, w: _Watcher) -> None:
        self.watchers.discard(w)
        self.unindexed.discard(w)
        if w.index_value is not None and (group := self.by_field.get(w.index_value)):
            group.discard(w)
            if not group:
                del self.by_field[w.index_value]


async def _live(w: _Watcher, from_revision: int) -> AsyncIterator[ApiEvent]:
    while True:
        item = await w.queue.get()
        if isinstance(item, Exception):
            raise item
        if item.revision < from_revision:
            continue  # the client listed from a replica ahead of this one
        ev = w.translate(item)
        if ev is not None:
            yield ev


class WatchCache:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._kinds: dict[str, _KindCache] = {}

    def _cache(self, kind: kinds.Kind) -> _KindCache:
        cache = self._kinds.get(kind.kind)
        if cache is None:
            cache = self._kinds[kind.kind] = _KindCache(self.registry, kind)
        cache.start()
        return cache

    async def watch(
        self,
        kind: str,
        *,
        namespace: str = "",
        all_namespaces: bool = False,
        label_selector: str = "",
        field_selector: str = "",
        from_revision: int = 0,
    ) -> AsyncIterator[ApiEvent]:
        """Same contract as ``controlplane.watch.watch``."""
        k = kinds.lookup(kind)
        match = ObjectFilter(label_selector, field_selector)
        ns = None if all_namespaces or not k.namespaced else (namespace or "default")
        cache = self._cache(k)
        await cache.ready.wait()
        if from_revision > 0 and from_revision < cache.floor:
            # Older than the ring: the store's own history decides (or says "too old").
            async for ev in watch(
                self.registry,
                kind,
                namespace=namespace,
                all_namespaces=all_namespaces,
                label_selector=label_selector,
                field_selector=field_selector,
                from_revision=from_revision,
            ):
                yield ev
            return
        w = _Watcher(match, ns)
        # No await from here until the watcher is registered: the initial objects (or the
        # replayed ring) cover every change applied so far and the queue every later one,
        # so they meet without a gap or an overlap.
        if from_revision <= 0:
            initial = [
                ApiEvent("ADDED", o, int(o["metadata"]["resourceVersion"]))
                for o in cache.objects.values()
                if w.in_scope(o)
            ]
        else:
            initial = [e for ch in cache.ring if ch.revision >= from_revision if (e := w.translate(ch))]
        cache.add(w)
        try:
            for ev in initial:
                yield ev
            async for ev in _live(w, from_revision):
                yield ev
        finally:
            cache.discard(w)

    async def follow(
        self, kind: str, *, fresh: bool = False
    ) -> tuple[list[ObjView], int, AsyncIterator[ApiEvent]]:
        """Every object of a kind now, the revision they are at (every change of the kind
        up to it), and every change after (for in-process informers). The objects are the
        cache's own: shared, never to be changed.

        ``fresh``: the objects as the store holds them now, not as far as this cache has
        got: one store list (each object still taken from the cache when it holds that very
        revision, so nothing is decoded or held twice). For the controllers at the start of
        a leadership term, which must see every write of the previous leader."""
        k = kinds.lookup(kind)
        cache = self._cache(k)
        await cache.ready.wait()
        if fresh:
            kvs, rev = await self.registry.store.list(k.prefix(None))
            base = len(k.prefix(None))
            held = cache.objects
            items: list[ObjView] = []
            for kv in kvs:
                obj = held.get(kv.key[base:])
                if obj is None or obj["metadata"].get("resourceVersion") != str(kv.mod_revision):
                    obj = decode(kv, frozen=cache.frozen)
                items.append(obj)
            return items, rev, self.watch(kind, all_namespaces=True, from_revision=rev + 1)
        w = _Watcher(ObjectFilter(), None)
        objs: list[ObjView] = list(cache.objects.values())
        cache.add(w)
        return objs, cache.revision, self._following(cache, w)

    @staticmethod
    async def _following(cache: _KindCache, w: _Watcher) -> AsyncIterator[ApiEvent]:
        try:
            async for ev in _live(w, 0):
                yield ev
        finally:
            cache.discard(w)

    async def stop(self) -> None:
        tasks = [c.task for c in self._kinds.values() if c.task is not None]
        for t in tasks:
            t.cancel()
        stuck = await settle(tasks)
        if stuck:  # a store watch that ignores cancellation: see util.aio.settle
            _log.error("watchcache.stop_stuck", tasks=stuck)
