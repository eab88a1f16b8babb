"""The level-triggered work queue: coalescing, one sync per key at a time, backoff."""

from __future__ import annotations

import asyncio
import contextlib

from mixfleet.controlplane.controllers.queue import Requeue, WorkQueue


async def _run_until(queue: WorkQueue, sync, done: asyncio.Event, *, workers: int = 1) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(queue.run(sync, workers=workers))
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_adds_of_a_waiting_key_coalesce() -> None:
    """A key added many times before a worker takes it is synced once."""
    q = WorkQueue(name="t")
    for _ in range(5):
        q.add("a")
    q.add("b")
    seen: list[str] = []
    done = asyncio.Event()

    async def sync(key: str) -> None:
        seen.append(key)
        if len(seen) == 2:
            done.set()

    await _run_until(q, sync, done)
    assert seen == ["a", "b"]


async def test_key_is_never_synced_twice_at_once_and_late_adds_are_kept() -> None:
    """A key re-added while its sync runs is synced again afterwards, never concurrently."""
    q = WorkQueue(name="t")
    running = 0
    overlap = False
    calls = 0
    done = asyncio.Event()

    async def sync(key: str) -> None:
        nonlocal running, overlap, calls
        running += 1
        overlap |= running > 1
        calls += 1
        if calls == 1:
            q.add("a")  # a change arrives mid-sync
            q.add("a")
        await asyncio.sleep(0.05)
        running -= 1
        if calls == 2:
            done.set()

    q.add("a")
    await _run_until(q, sync, done, workers=4)
    assert (calls, overlap) == (2, False)


async def test_failed_sync_is_retried_with_growing_backoff() -> None:
    """A sync that raises is retried, each time after a longer wait, until it succeeds."""
    q = WorkQueue(name="t", base_delay=0.01, max_delay=1.0)
    attempts: list[float] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def sync(key: str) -> None:
        attempts.append(loop.time())
        if len(attempts) < 4:
            raise (Requeue("lost a CAS") if len(attempts) % 2 else RuntimeError("boom"))
        done.set()

    q.add("a")
    await _run_until(q, sync, done)
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert len(attempts) == 4
    # Each wait is at least its doubled delay (a loaded machine only adds to a wait, so
    # comparing gaps with each other would be flaky).
    assert all(gap >= 0.01 * 2**i * 0.95 for i, gap in enumerate(gaps)), gaps


async def test_sync_can_ask_to_be_looked_at_again() -> None:
    """Returning a delay brings the key back (a timer, e.g. an eviction deadline)."""
    q = WorkQueue(name="t")
    calls = 0
    done = asyncio.Event()

    async def sync(key: str) -> float | None:
        nonlocal calls
        calls += 1
        if calls == 3:
            done.set()
            return None
        return 0.01

    q.add("a")
    await _run_until(q, sync, done)
    assert calls == 3
