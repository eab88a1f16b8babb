"""A deposed leader's writes fail, on real etcd: once its elector has stepped down its
fenced registry refuses every write; before it notices, the compare-and-swap on what it
read makes its late decision fail as a whole while its successor's lands."""

from __future__ import annotations

import asyncio
import copy
from typing import AsyncIterator

import pytest

from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.queue import Requeue
from mixfleet.controlplane.registry import NotLeaderError, Registry
from mixfleet.store.election import LEADER_KEY, EtcdLeaderElector
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.etcd import EtcdCluster, unique_prefix

pytestmark = pytest.mark.etcd
_WAIT = 15.0


def _replicaset() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "busybox"}]}}},
    }


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "busybox"}], "schedulerName": "none"}}


@pytest.fixture
async def two_replicas(etcd_server: EtcdCluster) -> AsyncIterator[tuple[EtcdStore, EtcdStore]]:
    """Two control-plane processes' store connections on one etcd prefix."""
    prefix = unique_prefix()
    stores = (EtcdStore([etcd_server.endpoint], prefix=prefix),
              EtcdStore([etcd_server.endpoint], prefix=prefix))
    try:
        yield stores
    finally:
        for s in stores:
            await s.close()


async def _pods(registry: Registry) -> set[str]:
    items, _ = await registry.list("Pod")
    return {p["metadata"]["name"] for p in items}


async def test_a_deposed_leader_that_noticed_writes_nothing(
    two_replicas: tuple[EtcdStore, EtcdStore]
) -> None:
    store_a, store_b = two_replicas
    a = EtcdLeaderElector(store_a, "a", ttl=2.0)
    b = EtcdLeaderElector(store_b, "b", ttl=2.0)
    reg_a = Registry(store_a).fenced(lambda: a.is_leader)
    reg_b = Registry(store_b).fenced(lambda: b.is_leader)
    await Registry(store_a).ensure_system_namespaces()
    await asyncio.wait_for(a.campaign(), _WAIT)
    b_campaign = asyncio.create_task(b.campaign())
    try:
        await reg_a.create(_pod("while-leading"))
        await store_b.delete(LEADER_KEY)  # A's term ends behind its back
        await asyncio.wait_for(a.lost.wait(), _WAIT)
        await asyncio.wait_for(b_campaign, _WAIT)
        before = await store_a.current_revision()
        with pytest.raises(NotLeaderError):
            await reg_a.create(_pod("after-deposed"))
        with pytest.raises(NotLeaderError):
            await writes.commit(reg_a, [writes.create(_pod("after-deposed"))], why="late")
        assert await store_a.current_revision() == before
        await reg_b.create(_pod("new-leader"))
        assert await _pods(Registry(store_a)) == {"while-leading", "new-leader"}
    finally:
        b_campaign.cancel()
        await asyncio.gather(b_campaign, return_exceptions=True)
        await a.resign()
        await b.resign()


async def test_a_deposed_leader_that_has_not_noticed_loses_the_race(
    two_replicas: tuple[EtcdStore, EtcdStore]
) -> None:
    """Both leaders decide from the same revision of a ReplicaSet (2 pods wanted, none
    there); the new one commits first; the old one's decision, pods and status together, is
    refused whole and it is told to sync again from fresh state: no pod is made twice."""
    store_a, store_b = two_replicas
    reg_a = Registry(store_a).fenced(lambda: True)  # has not noticed it was deposed
    reg_b = Registry(store_b).fenced(lambda: True)
    await reg_a.ensure_system_namespaces()
    await reg_a.create(_replicaset())
    seen_by_a = await reg_a.get("ReplicaSet", "web")
    seen_by_b = await reg_b.get("ReplicaSet", "web")

    def decision(rs: dict, who: str) -> list:
        status = copy.deepcopy(rs)
        status["status"] = {"replicas": 2}
        return [writes.update(rs, status), writes.create(_pod(f"{who}-1")),
                writes.create(_pod(f"{who}-2"))]

    await writes.commit(reg_b, decision(seen_by_b, "b"), why="default/web")
    with pytest.raises(Requeue, match='replicasets "web"'):
        await writes.commit(reg_a, decision(seen_by_a, "a"), why="default/web")
    assert await _pods(Registry(store_a)) == {"b-1", "b-2"}
