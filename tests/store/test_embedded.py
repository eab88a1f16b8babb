"""EmbeddedStore behaviour beyond the shared contract: durability and bounded history."""

from __future__ import annotations

import asyncio

import pytest

from mixfleet.store.base import CompactedError, EventType
from mixfleet.store.embedded import EmbeddedStore


async def test_reopen_keeps_data_revision_and_history(tmp_path) -> None:
    """Data, the store revision and watch history survive closing and reopening the file."""
    path = str(tmp_path / "state" / "mixfleet.db")
    first = EmbeddedStore(path)
    r1 = await first.create("/pods/a", b"1")
    r2 = await first.update("/pods/a", b"2", r1)
    await first.close()

    again = EmbeddedStore(path)
    try:
        kv = await again.get("/pods/a")
        assert (kv.value, kv.create_revision, kv.mod_revision) == (b"2", r1, r2)  # type: ignore[union-attr]
        assert await again.current_revision() == r2
        assert await again.put("/pods/b", b"b") == r2 + 1
        events = again.watch("/pods/", r1)
        replay = [await anext(events) for _ in range(3)]
        await events.aclose()  # type: ignore[attr-defined]
        assert [e.revision for e in replay] == [r1, r2, r2 + 1]
    finally:
        await again.close()


async def test_reopen_keeps_compaction_point(tmp_path) -> None:
    """A compaction is remembered across reopen: old watches still raise CompactedError."""
    path = str(tmp_path / "mixfleet.db")
    first = EmbeddedStore(path)
    old = await first.put("/pods/a", b"1")
    point = await first.put("/pods/a", b"2")
    await first.compact(point)
    await first.close()
    again = EmbeddedStore(path)
    try:
        with pytest.raises(CompactedError):
            await anext(again.watch("/pods/", old))
    finally:
        await again.close()


async def test_history_is_bounded_by_auto_compaction(tmp_path) -> None:
    """With a history limit of 10, after 40 writes the oldest revisions are compacted away
    while the most recent ten can still be watched."""
    store = EmbeddedStore(str(tmp_path / "s.db"), history_limit=10)
    try:
        revs = [await store.put("/pods/a", str(i).encode()) for i in range(40)]
        with pytest.raises(CompactedError):
            await anext(store.watch("/pods/", revs[0]))
        events = store.watch("/pods/", revs[-10])
        recent = [await anext(events) for _ in range(10)]
        await events.aclose()  # type: ignore[attr-defined]
        assert [e.revision for e in recent] == revs[-10:]
    finally:
        await store.close()


async def test_close_ends_live_watches(tmp_path) -> None:
    """Closing the store ends a watch that is waiting for changes instead of leaving it hung."""
    store = EmbeddedStore(str(tmp_path / "s.db"))
    await store.put("/pods/a", b"1")
    events = store.watch("/pods/", 0)
    pending = asyncio.create_task(anext(events, None))
    await asyncio.sleep(0)  # let the watcher start waiting
    await store.close()
    assert await asyncio.wait_for(pending, 10) is None


async def test_memory_store_works(tmp_path) -> None:
    """":memory:" gives a working throwaway store."""
    store = EmbeddedStore(":memory:")
    try:
        rev = await store.create("/pods/a", b"1")
        events = store.watch("/pods/", rev)
        event = await anext(events)
        await events.aclose()  # type: ignore[attr-defined]
        assert (event.type, event.kv.value) == (EventType.PUT, b"1")
    finally:
        await store.close()
