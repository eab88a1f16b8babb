"""A level-triggered work queue of object keys, like client-go's rate-limited workqueue.

Events only *add keys*; a worker calls ``sync(key)``, which reads desired and actual state
and converges. Guarantees:

- a key waiting in the queue is held once, however many times it is added (coalescing);
- a key is never synced by two workers at once: added while in flight, it is queued again
  when the running sync finishes, so the change that caused the add is not lost;
- a sync that raises is retried with per-key exponential backoff (``base_delay`` doubling up
  to ``max_delay``); a sync that succeeds resets the key's backoff. A sync may also return a
  number of seconds after which the key must be looked at again (a timer, e.g. a deadline).
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from mixfleet.util import log

_log = log.get("controllers.queue")

Sync = Callable[[str], Awaitable[float | None]]


class Requeue(Exception):
    """Expected and temporary (a CAS lost to another writer): sync the key again soon."""


class WorkQueue:
    def __init__(self, *, name: str, base_delay: float = 0.05, max_delay: float = 5.0) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: dict[str, None] = {}  # ordered set: keys waiting for a worker
        self._dirty: set[str] = set()  # keys that need a sync (queued or re-added in flight)
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue[key] = None
            self._ready.set()

    def add_after(self, key: str, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds; an earlier pending timer for it wins."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        old = self._timers.get(key)
        if old is not None and old.when() <= loop.time() + delay:
            return
        if old is not None:
            old.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        delay = min(self.base_delay * (2**n), self.max_delay)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    async def get(self) -> str:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        key = next(iter(self._queue))
        del self._queue[key]
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue[key] = None
            self._ready.set()

    async def run(self, sync: Sync, *, workers: int = 1) -> None:
        """Run ``workers`` workers until cancelled."""
        tasks = [
            asyncio.create_task(self._worker(sync), name=f"{self.name}-worker-{i}")
            for i in range(workers)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for h in self._timers.values():
                h.cancel()
            self._timers.clear()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self, sync: Sync) -> None:
        while True:
            key = await self.get()
            try:
                again = await sync(key)
            except asyncio.CancelledError:
                raise
            except Requeue as e:
                delay = self.add_rate_limited(key)
                _log.info("sync.requeued", queue=self.name, key=key, retry_in=delay, reason=str(e))
            except Exception as e:
                delay = self.add_rate_limited(key)
                _log.warning(
                    "sync.failed", queue=self.name, key=key, retry_in=delay, error=repr(e)
                )
            else:
                self.forget(key)
                if again is not None:
                    self.add_after(key, again)
            finally:
                self.done(key)
