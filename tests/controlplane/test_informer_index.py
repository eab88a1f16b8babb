"""Informers over the watch cache: indexes by owner and by node follow every change, the
objects they hand out are shared and (in tests) frozen, and ``observed`` says when a write
has arrived."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import AsyncIterator

import pytest

from mixfleet.controlplane.informer import INDEXERS, NODE, OWNER, Informer
from mixfleet.controlplane.objects import FrozenDict, caches_frozen
from mixfleet.controlplane.registry import Binding, Registry
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.store.embedded import EmbeddedStore


def _pod(name: str, owner_uid: str = "") -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                    "uid": owner_uid, "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}}


@pytest.fixture
async def informer(tmp_path: Path) -> AsyncIterator[tuple[Registry, Informer]]:
    registry = Registry(EmbeddedStore(str(tmp_path / "state.db")))
    await registry.ensure_system_namespaces()
    watches = WatchCache(registry)
    inf = Informer(registry, "Pod", watches=watches, indexers=INDEXERS, fresh=True)
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.synced.wait(), 10)
    yield registry, inf
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await watches.stop()
    await registry.store.close()


async def _until(cond, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _names(objs: list) -> set[str]:
    return {o["metadata"]["name"] for o in objs}


async def test_indexes_follow_binds_and_deletes(informer: tuple[Registry, Informer]) -> None:
    registry, inf = informer
    a = await registry.create(_pod("a", owner_uid="u1"))
    b = await registry.create(_pod("b", owner_uid="u1"))
    await registry.create(_pod("c", owner_uid="u2"))
    await _until(lambda: len(inf.cache) == 3, "3 pods")
    assert _names(inf.by_index(OWNER, "u1")) == {"a", "b"}
    assert inf.by_index(NODE, "n1") == []
    rev = await registry.bind([Binding(a, "n1", {}), Binding(b, "n2", {})])
    await _until(lambda: inf.observed("default/a", rev) and inf.observed("default/b", rev), "binds")
    assert _names(inf.by_index(NODE, "n1")) == {"a"} and _names(inf.by_index(NODE, "n2")) == {"b"}
    gone = await registry.delete("Pod", "b", grace_period_seconds=0)
    deleted_at = int(gone["metadata"]["resourceVersion"])
    await _until(lambda: inf.observed("default/b", deleted_at, gone=True), "the delete")
    assert inf.by_index(NODE, "n2") == [] and _names(inf.by_index(OWNER, "u1")) == {"a"}


async def test_cached_objects_are_read_only(informer: tuple[Registry, Informer]) -> None:
    """A reader that changes a cached object instead of a copy fails at once (the test
    suites run with MIXFLEET_FROZEN_CACHES=1); a copy is an ordinary, writable object."""
    registry, inf = informer
    assert caches_frozen()
    await registry.create(_pod("a", owner_uid="u1"))
    await _until(lambda: "default/a" in inf.cache, "the pod")
    pod = inf.get("default/a")
    assert isinstance(pod, FrozenDict)
    for change in (
        lambda: pod["metadata"].__setitem__("labels", {}),
        lambda: pod["spec"]["containers"].append({}),
        lambda: pod["metadata"]["ownerReferences"][0].update(uid="x"),
        lambda: pod.setdefault("status", {}),
    ):
        with pytest.raises(TypeError, match="must not be changed"):
            change()
    mine = copy.deepcopy(pod)
    mine["spec"]["containers"].append({"name": "more"})
    assert type(mine) is dict and type(mine["spec"]["containers"]) is list
    assert json.loads(json.dumps(pod)) == dict(pod)
    assert len(inf.get("default/a")["spec"]["containers"]) == 1  # type: ignore[index]
