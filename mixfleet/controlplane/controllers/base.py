"""What every controller shares: a work queue of keys of one primary kind, fed by shared
informers, and a periodic resync that re-enqueues every key so a missed event is repaired.

``sync(key)`` reads from the informers' caches (frozen objects, indexed by owner and by
node: no store reads or lists) and converges with one registry transaction per decision
(``commit``), a CAS on every revision it read: a stale read loses the race and the key is
requeued, never acted on twice. ``commit`` also records what it wrote as expectations, and
``waiting(key)`` tells a sync that the caches have not yet caught up with the key's own last
write (see controllers/writes.py)."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence

from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.queue import WorkQueue
from mixfleet.controlplane.events import EventRecorder
from mixfleet.controlplane.informer import Informer, cache_key
from mixfleet.controlplane.registry import Delete, Registry, TxnResult, Write
from mixfleet.util import log

_log = log.get("controllers")


def split_key(key: str) -> tuple[str, str]:
    """("namespace", "name") from a cache key; namespace "" for cluster-scoped objects."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)


class Controller(abc.ABC):
    name: str = "controller"
    primary_kind: str = ""
    workers: int = 1
    resync_seconds: float = 30.0

    def __init__(self, registry: Registry, informers: SharedInformers) -> None:
        self.registry = registry
        self.informers = informers
        self.queue = WorkQueue(name=self.name)
        self.events = EventRecorder(registry, component=self.name)
        self.primary: Informer = informers.informer(self.primary_kind)
        self.expectations = writes.Expectations()

    @abc.abstractmethod
    async def sync(self, key: str) -> float | None:
        """Converge one object; return seconds until it must be looked at again, or None."""

    def waiting(self, key: str) -> bool:
        """Whether ``key``'s last commit has not reached the caches yet: sync later (the
        events that bring it enqueue the key again)."""
        return not self.expectations.satisfied(key)

    async def commit(self, key: str, ws: Sequence[Write]) -> TxnResult:
        """``writes.commit`` for ``key``'s sync, remembering what it wrote."""
        result = await writes.commit(self.registry, ws, why=key)
        if result.revision:
            self.expect(key, result, ws)
        return result

    def expect(self, key: str, result: TxnResult, ws: Sequence[Write]) -> None:
        seen: list[writes.Seen] = []
        for w, obj in zip(ws, result.objects):
            target = obj if obj is not None else w.obj
            if obj is not None and obj["metadata"].get("resourceVersion") != str(result.revision):
                continue  # nothing was written for this one
            inf = self.informers.existing(str(target.get("kind")))
            if inf is not None:
                gone = obj is None if isinstance(w, Delete) else False
                seen.append((inf, cache_key(target), result.revision, gone))
        self.expectations.expect(key, seen)

    async def run(self) -> None:
        await self.informers.wait_synced()
        _log.info("controller.started", controller=self.name, objects=len(self.primary.cache))
        resync = asyncio.create_task(self._resync())
        try:
            await self.queue.run(self.sync, workers=self.workers)
        finally:
            resync.cancel()
            await asyncio.gather(resync, return_exceptions=True)

    def resync_keys(self) -> list[str]:
        return list(self.primary.cache)

    async def _resync(self) -> None:
        while True:
            for key in self.resync_keys():
                self.queue.add(key)
            await asyncio.sleep(self.resync_seconds)
