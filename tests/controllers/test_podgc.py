"""The pod garbage collector over a real registry on the embedded store: a pod bound to a
node name that never registered (a user's typo in spec.nodeName, say) is removed once the
quarantine has passed, while pods of nodes that exist are left alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import pytest

from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.podgc import PodGarbageCollector
from mixfleet.controlplane.registry import ObjectNotFoundError, Registry
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.store.embedded import EmbeddedStore
from tests.controllers.agents import node_object
from tests.controllers.conftest import eventually


def bound(name: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox"}]}}


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    registry = Registry(EmbeddedStore(str(tmp_path / "state.db")))
    await registry.ensure_system_namespaces()
    watches = WatchCache(registry)
    informers = SharedInformers(registry, watches=watches)
    gc = PodGarbageCollector(registry, informers, quarantine=0.2)
    gc.resync_seconds = 0.2
    tasks = [asyncio.create_task(informers.run()), asyncio.create_task(gc.run())]
    yield registry
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await watches.stop()
    await registry.store.close()


async def _gone(registry: Registry, name: str) -> bool:
    try:
        await registry.get("Pod", name, "default")
    except ObjectNotFoundError:
        return True
    return False


async def _event(registry: Registry, name: str, reason: str) -> bool:
    events, _ = await registry.list("Event", namespace="default")
    return (name, reason) in {(e["involvedObject"]["name"], e["reason"]) for e in events}


async def test_pod_bound_to_a_node_that_never_registered_is_removed(registry: Registry) -> None:
    """The pod on "ghost" is deleted (with a DeletionByPodGC event saying why); the pod on
    the registered node "real" stays."""
    await registry.create(node_object("real"))
    await registry.create(bound("on-real", "real"))
    await registry.create(bound("on-ghost", "ghost"))
    await eventually(lambda: _gone(registry, "on-ghost"), what="the pod on ghost deleted")
    # The event is recorded on its own schedule, not with the delete.
    await eventually(lambda: _event(registry, "on-ghost", "DeletionByPodGC"), what="the DeletionByPodGC event")
    assert (await registry.get("Pod", "on-real", "default"))["spec"]["nodeName"] == "real"
