"""The API server's watch cache: many watchers share one decoded store watch, each sees
exactly the changes its selector covers, resumes from a revision, and a stuck watcher is
closed instead of holding the others back."""

from __future__ import annotations

import asyncio

import pytest

from mixfleet.client import Client, GoneError
from mixfleet.controlplane import watchcache
from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.watchcache import WatchCache, WatchClosedError
from mixfleet.store.embedded import EmbeddedStore


def _pod(name: str, node: str = "") -> dict:
    spec: dict = {"schedulerName": "none", "containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def _collect(client: Client, n: int, **kw) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    async for ev in client.watch("pods", **kw):
        out.append((ev.type, ev.object["metadata"]["name"]))
        if len(out) == n:
            return out
    return out


async def test_each_node_watcher_sees_only_its_pods(client: Client) -> None:
    """Twenty agents' watches (spec.nodeName=...) each see their own pod arrive, change and go."""
    watchers = [asyncio.create_task(_collect(client, 3, field_selector=f"spec.nodeName=n{i}")) for i in range(20)]
    await asyncio.sleep(0.5)
    for i in range(20):
        await client.create(_pod(f"p{i}", node=f"n{i}"))
    for i in range(20):
        p = await client.get("pods", f"p{i}")
        p["metadata"]["labels"] = {"v": "2"}
        await client.update(p)
        await client.delete("pods", f"p{i}", grace_period_seconds=0)
    results = await asyncio.wait_for(asyncio.gather(*watchers), 20)
    for i, seen in enumerate(results):
        assert seen == [("ADDED", f"p{i}"), ("MODIFIED", f"p{i}"), ("DELETED", f"p{i}")]


async def test_resume_from_a_revision_replays_exactly_what_followed(client: Client) -> None:
    """A watch from revision r gets every change at or after r, in order, and nothing earlier."""
    await client.create(_pod("before"))
    # Start the cache, so the changes below are in its ring.
    first = asyncio.create_task(_collect(client, 1))
    await asyncio.wait_for(first, 10)
    a = await client.create(_pod("a"))
    await client.create(_pod("b"))
    await client.delete("pods", "a")
    seen = await asyncio.wait_for(_collect(client, 3, from_revision=int(a["metadata"]["resourceVersion"])), 10)
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


async def test_stuck_watcher_is_closed_and_others_continue(tmp_path, monkeypatch) -> None:
    """A watcher that stops reading is ended with a 're-list' error; a reading one goes on."""
    monkeypatch.setattr(watchcache, "QUEUE_SIZE", 5)
    registry = Registry(EmbeddedStore(str(tmp_path / "s.db")))
    await registry.ensure_system_namespaces()
    cache = WatchCache(registry)
    stuck = cache.watch("pods", from_revision=0).__aiter__()
    live = cache.watch("pods", from_revision=0).__aiter__()
    first = asyncio.create_task(stuck.__anext__())  # registers the watcher, then stops reading
    await asyncio.sleep(0.2)
    seen: list[str] = []

    async def read_live() -> None:
        async for ev in live:
            seen.append(ev.object["metadata"]["name"])
            if len(seen) == 20:
                return

    reader = asyncio.create_task(read_live())
    await asyncio.sleep(0.2)
    for i in range(20):
        await registry.create(_pod(f"p{i}"))
    await asyncio.wait_for(reader, 10)
    assert seen == [f"p{i}" for i in range(20)]
    assert (await first).object["metadata"]["name"] == "p0"
    with pytest.raises(WatchClosedError, match="fell too far behind"):
        for _ in range(20):
            await stuck.__anext__()
    await cache.stop()
    await registry.store.close()


async def test_watch_older_than_the_ring_is_served_by_the_store(controlplane, client: Client) -> None:
    """A revision the cache does not hold falls back to the store's history (Gone if
    compacted), while one it holds is served even though the store compacted it."""
    first = await client.create(_pod("a"))
    await client.create(_pod("b"))
    await controlplane.store.compact(await controlplane.store.current_revision())
    with pytest.raises(GoneError, match="too old"):
        await _collect(client, 1, from_revision=1)  # predates the cache
    seen = await asyncio.wait_for(
        _collect(client, 2, from_revision=int(first["metadata"]["resourceVersion"])), 10
    )
    assert seen == [("ADDED", "a"), ("ADDED", "b")]
