"""What every controller shares: a work queue of keys of one primary kind, fed by shared
informers, and a periodic resync that re-enqueues every key so a missed event is repaired.
``sync(key)`` reads fresh state from the registry (never the cache) and converges."""

from __future__ import annotations

import abc
import asyncio

from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.queue import WorkQueue
from mixfleet.controlplane.events import EventRecorder
from mixfleet.controlplane.informer import Informer
from mixfleet.controlplane.registry import Registry
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

    @abc.abstractmethod
    async def sync(self, key: str) -> float | None:
        """Converge one object; return seconds until it must be looked at again, or None."""

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
