"""One informer per kind, shared by every controller of a leadership term.

Controllers register handlers before ``run()``; each event fans out to all of them. A
handler only enqueues keys (level-triggered), so it is cheap and never writes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable

from mixfleet.api.types import Obj
from mixfleet.controlplane.informer import Informer
from mixfleet.controlplane.registry import Registry
from mixfleet.util.aio import run_together

if TYPE_CHECKING:
    from mixfleet.controlplane.watchcache import WatchCache

Handler = Callable[[str, Obj], None]


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
                handler=lambda t, o, k=kind: self._fan_out(k, t, o),
                watches=self.watches,
            )
        return self._informers[kind]

    def on(self, kind: str, handler: Handler) -> Informer:
        inf = self.informer(kind)
        self._handlers[kind].append(handler)
        return inf

    def _fan_out(self, kind: str, type_: str, obj: Obj) -> None:
        for h in self._handlers[kind]:
            h(type_, obj)

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self._informers.values()))

    async def run(self) -> None:
        """Run every informer until cancelled."""
        await run_together(*(i.run() for i in self._informers.values()))
