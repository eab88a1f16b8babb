"""Bounded memory (issue 9, item 7): no object, and no amount of update churn, makes the
control plane or its store hold without limit.

Before: a 50 MB pod was accepted (the server went from 76 MB to 1.3 GB); 300 label updates of
a 2 MB pod grew it by 610 MB (the watch cache kept 10,000 versions per kind, the embedded
store 10,000 revisions, and etcd's history was never compacted)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mixfleet.api import limits
from mixfleet.client import Client, InvalidError
from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.store.base import CompactedError, Op, Store
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.store.etcd import EtcdStore
from tests.controllers.conftest import eventually

MIB = 1024 * 1024
RING_BYTES = 8 * MIB  # the watch cache's budget per kind (watchcache.RING_BYTES)


def _pod(name: str, padding: int) -> dict[str, Any]:
    """A pod about ``padding`` bytes large (in environment values: annotations have their
    own, smaller limit)."""
    chunk = 64 * 1024
    env = [{"name": f"PAD{i}", "value": "x" * min(chunk, padding - i * chunk)}
           for i in range((padding + chunk - 1) // chunk)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox:latest", "env": env}]},
    }


async def test_an_object_above_the_size_limit_is_refused_naming_the_limit(client: Client) -> None:
    """A 2 MiB pod is refused with INVALID_ARGUMENT naming the object, its size, the limit and
    the flag; nothing is stored; a 1 MiB pod is accepted."""
    with pytest.raises(InvalidError) as e:
        await client.create(_pod("big", 2 * MIB))
    message = e.value.message
    assert "pods/default/big" in message and "above the limit of 1.5 MiB" in message
    assert "--max-object-bytes" in message
    pods, _ = await client.list("Pod", namespace="default")
    assert not pods
    await client.create(_pod("fits", MIB))


async def test_the_size_limit_is_configurable(tmp_path: Path) -> None:
    """A registry made with a smaller limit refuses what the default accepts."""
    store = EmbeddedStore(str(tmp_path / "s.db"))
    try:
        registry = Registry(store, max_object_bytes=64 * 1024)
        await registry.ensure_system_namespaces()
        with pytest.raises(Exception, match="above the limit of 0.1 MiB"):
            await registry.create(_pod("p", 100 * 1024))
        assert limits.MAX_OBJECT_BYTES == 1536 * 1024
    finally:
        await store.close()


async def test_the_watch_cache_keeps_a_bounded_number_of_bytes(tmp_path: Path) -> None:
    """30 updates of a 1 MiB pod: the watch cache's history of changes holds at most its
    byte budget (8 MiB), not 30 versions; watches from revision 0 still see the pod."""
    store = EmbeddedStore(str(tmp_path / "s.db"))
    cache = WatchCache(Registry(store))
    try:
        registry = Registry(store)
        await registry.ensure_system_namespaces()
        events = cache.watch("Pod", all_namespaces=True)
        following = asyncio.ensure_future(events.__anext__())  # starts the cache
        pod = await registry.create(_pod("churn", MIB))
        assert (await asyncio.wait_for(following, 10)).object["metadata"]["name"] == "churn"
        for i in range(30):
            pod["metadata"]["labels"] = {"i": str(i)}
            pod = await registry.update(pod)
        kind_cache = cache._kinds["Pod"]
        await eventually(lambda: _at(kind_cache, int(pod["metadata"]["resourceVersion"])),
                         what="the cache at the last update")
        held = sum(len(str(c.cur)) for c in kind_cache.ring if c.cur is not None)
        assert len(kind_cache.ring) <= RING_BYTES // MIB + 1, len(kind_cache.ring)
        assert held <= RING_BYTES + 2 * MIB
        await events.aclose()
    finally:
        await cache.stop()
        await store.close()


async def _at(cache: Any, revision: int) -> bool:
    return cache.revision >= revision


async def test_embedded_history_is_compacted_by_size(tmp_path: Path) -> None:
    """With a 1 MiB history budget, 40 writes of 100 KB leave at most ~1 MiB of history, and
    a watch from the first revision is told it is too old."""
    path = tmp_path / "s.db"
    store = EmbeddedStore(str(path), history_bytes=MIB)
    try:
        for i in range(40):
            await store.txn([Op.put("/k", bytes([65 + i % 26]) * (100 * 1024))])
        size = sqlite3.connect(path).execute(
            "SELECT sum(ifnull(length(value),0) + ifnull(length(prev_value),0)) FROM history"
        ).fetchone()[0]
        assert size <= MIB + 200 * 1024, size
        await _assert_too_old(store)
    finally:
        await store.close()


async def test_the_leader_compacts_etcd_history(etcd_store: EtcdStore) -> None:
    """The control plane's compaction loop compacts etcd to the revision of one interval ago:
    a watch from before it is told it is too old (etcd alone never forgets a revision)."""
    from mixfleet.controlplane.compaction import compact_periodically

    for i in range(5):
        await etcd_store.txn([Op.put("/k", str(i).encode())])
    task = asyncio.create_task(compact_periodically(etcd_store, interval=0.3))
    try:
        await asyncio.sleep(0.1)
        for i in range(5):
            await etcd_store.txn([Op.put("/k", str(i).encode())])
        await asyncio.sleep(1.0)
        await _assert_too_old(etcd_store)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _assert_too_old(store: Store) -> None:
    with pytest.raises(CompactedError):
        async for _ in store.watch("/", 1):
            break
