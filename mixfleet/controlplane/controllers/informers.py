"""One informer per kind, shared by every controller of a leadership term.

Controllers register handlers before ``run()``; each event fans out to all of them. A
handler only enqueues keys (level-triggered), so it is cheap and never writes. The
workload kinds' informers keep indexes by owner uid and by namespace, and the pods' by node
name too: that is how syncs find an object's dependents or a node's pods without listing
anything from the store.

They start from a fresh list of the store (``WatchCache.follow(fresh=True)``), once per
leadership term: a new leader must see every write its predecessor made, including the
last ones the watch cache may not have caught up with yet (a ReplicaSet controller that saw
its set's status but not yet the pods created with it would create them again). From then
on each controller's expectations cover its own writes (controllers/writes.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable

from mixfleet.api.types import ObjView
from mixfleet.controlplane.informer import INDEXERS, NAMESPACE, NODE, OWNER, Informer
from mixfleet.controlplane.registry import Registry
from mixfleet.util.aio import run_together

if TYPE_CHECKING:
    from mixfleet.controlplane.watchcache import WatchCache

Handler = Callable[[str, ObjView], None]

INDEXES = {
    "Pod": (OWNER, NODE, NAMESPACE),
    "ReplicaSet": (OWNER, NAMESPACE),
    "Deployment": (OWNER, NAMESPACE),
    "DaemonSet": (OWNER, NAMESPACE),
    "Job": (OWNER, NAMESPACE),
    "CronJob": (OWNER, NAMESPACE),
}


class SharedInformers:
    def __init__(self, registry: Registry, *, watches: "WatchCache | None" = None) -> None:
        self.registry = registry
        self.watches = watches
        self._informers: dict[str, Informer] = {}
        self._handlers: dict[str, list[Handler]] = {}

    def informer(self, kind: str) -> Informer:
        if kind not in self._informers:
            self._handlers[kind] = []
            self._informers[kind] = Informer(
                self.registry,
                kind,
                handler=self._fan_out_for(kind),
                watches=self.watches,
                indexers={n: INDEXERS[n] for n in INDEXES.get(kind, ())},
                fresh=True,
            )
        return self._informers[kind]

    def existing(self, kind: str) -> Informer | None:
        """The informer of ``kind`` if a controller asked for one (None otherwise)."""
        return self._informers.get(kind)

    def on(self, kind: str, handler: Handler) -> Informer:
        inf = self.informer(kind)
        self._handlers[kind].append(handler)
        return inf

    def _fan_out_for(self, kind: str) -> Handler:
        def fan_out(type_: str, obj: ObjView) -> None:
            for h in self._handlers[kind]:
                h(type_, obj)

        return fan_out

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self._informers.values()))

    async def run(self) -> None:
        """Run every informer until cancelled."""
        await run_together(*(i.run() for i in self._informers.values()))
