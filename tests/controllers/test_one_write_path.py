"""What the controllers read and how they write, on a real control plane (embedded store)
with stand-in agents: syncs read the informers' caches (no store lists, whatever the
cluster does), never change the objects they share, and a decision the registry refuses
is not half-applied."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from mixfleet.api import pods as P
from mixfleet.api import times
from mixfleet.api.defaults import apply_defaults
from mixfleet.api.kinds import key_for, lookup
from mixfleet.api.objects import new_uid
from mixfleet.client import Client
from mixfleet.controlplane.informer import Informer
from mixfleet.controlplane.objects import encode
from mixfleet.mixctl.commands.scale import set_replicas
from mixfleet.mixctl.objects import mutate
from mixfleet.store.embedded import EmbeddedStore
from tests.controllers.agents import FakeAgent
from tests.controllers.conftest import deployment, eventually


class CountingStore(EmbeddedStore):
    """An embedded store that counts reads by the asyncio task making them."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.lists: collections.Counter[str] = collections.Counter()
        self.gets: collections.Counter[str] = collections.Counter()

    @staticmethod
    def _who() -> str:
        task = asyncio.current_task()
        return task.get_name() if task is not None else "?"

    async def list(self, prefix: str):  # type: ignore[no-untyped-def]
        self.lists[self._who()] += 1
        return await super().list(prefix)

    async def get(self, key: str):  # type: ignore[no-untyped-def]
        self.gets[self._who()] += 1
        return await super().get(key)

    def by_leader_loops(self, counts: collections.Counter[str]) -> dict[str, int]:
        """Reads made by the scheduler loop and the controllers' sync workers (not the
        informers' one list per kind when a leadership term starts)."""
        return {who: n for who, n in counts.items()
                if who == "leader:SchedulerLoop.run" or "-worker-" in who}


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Any, Client, CountingStore]]:
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    store = CountingStore(str(tmp_path / "state.db"))
    cp = ControlPlane(ControlPlaneConfig(store_url="unused", listen="127.0.0.1:0",
                                         node_monitor_grace=2.0, pod_eviction_timeout=1.0),
                      store=store)
    await cp.start()
    try:
        async with Client(cp.address, retry_seconds=5) as client:
            yield cp, client, store
    finally:
        await cp.stop()


async def _pods(client: Client, app: str) -> list[dict]:
    pods, _ = await client.list("Pod")
    return [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == app]


async def _running(client: Client, app: str, n: int, node: str | None = None) -> list[dict] | None:
    live = [p for p in await _pods(client, app) if not P.deleting(p)]
    ok = len(live) == n and all(P.is_available(p) for p in live)
    return live if ok and (node is None or all(p["spec"]["nodeName"] == node for p in live)) else None


async def test_syncs_read_caches_not_the_store(
    cluster: tuple[Any, Client, CountingStore]
) -> None:
    """Scaling, a rolling update, a lost node's pods replaced, and a cascading delete: the
    scheduler and the controllers' syncs do all of it without one store list (before, each
    ReplicaSet or Deployment sync listed the namespace's pods, and each eviction pass every
    pod of the cluster), and the objects they share stay exactly what the store holds."""
    cp, client, store = cluster
    agents = [await FakeAgent(client, f"n{i}").start() for i in range(2)]
    try:
        await client.create(deployment("web", replicas=3))
        await eventually(lambda: _running(client, "web", 3), what="3 pods")
        await mutate(client, lookup("Deployment"), "web", "default", lambda d: set_replicas(d, 6))
        await eventually(lambda: _running(client, "web", 6), what="6 pods")

        def new_image(d: dict) -> bool:
            d["spec"]["template"]["spec"]["containers"][0]["image"] = "example/app:2"
            return True

        await mutate(client, lookup("Deployment"), "web", "default", new_image)
        await eventually(lambda: _updated(client, 6), what="6 updated pods")
        lost, survivor = agents
        await lost.stop()
        await eventually(lambda: _running(client, "web", 6, node=survivor.name),
                         what=f"6 pods on {survivor.name}")
        await client.delete("Deployment", "web")
        await eventually(lambda: _gone(client), what="everything deleted")
        await _assert_caches_match_the_store(cp, client)
    finally:
        for a in agents:
            await a.stop()
    assert store.by_leader_loops(store.gets), "the syncs ran in the counted tasks"
    assert store.by_leader_loops(store.lists) == {}


async def _updated(client: Client, n: int) -> bool:
    pods = await _pods(client, "web")
    return len(pods) == n and all(P.is_available(p) for p in pods) and {
        p["spec"]["containers"][0]["image"] for p in pods} == {"example/app:2"}


async def _gone(client: Client) -> bool:
    sets, _ = await client.list("ReplicaSet")
    return not await _pods(client, "web") and not sets


async def _assert_caches_match_the_store(cp: Any, client: Client) -> None:
    """Every object the shared caches hold is frozen and equal to the store's copy: no
    reader changed what the others see."""
    for kind in ("Pod", "ReplicaSet", "Deployment", "Node", "Event"):
        inf = Informer(cp.registry, kind, watches=cp.watches)
        task = asyncio.create_task(inf.run())
        try:
            await asyncio.wait_for(inf.synced.wait(), 10)
            await asyncio.sleep(0.2)  # in-flight changes land
            fresh, _ = await client.list(kind, all_namespaces=True)
            cached = {k: dict(v) for k, v in inf.cache.items()}
            by_key = {(o["metadata"].get("namespace") + "/" if o["metadata"].get("namespace") else "")
                      + o["metadata"]["name"]: o for o in fresh}
            assert cached == by_key, kind
            for obj in inf.items():
                with pytest.raises(TypeError, match="must not be changed"):
                    obj["metadata"]["labels"] = {}  # type: ignore[index]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _bad_replicaset(name: str) -> dict:
    """A ReplicaSet every pod of which the registry refuses: the template's annotation key is
    not a valid name. Today's API refuses such a ReplicaSet too, so the test stores it as a
    laxer older release could have (see _store_as_older_release)."""
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name},
                                           "annotations": {"not a key!": "x"}},
                              "spec": {"containers": [{"name": "app", "image": "busybox"}]}}},
    }


async def _store_as_older_release(store: EmbeddedStore, obj: dict) -> None:
    """Write ``obj`` straight into the store, defaulted but not validated, as a release with
    laxer validation would have left it: what controllers must cope with after an upgrade."""
    body = apply_defaults(obj)
    body["metadata"].update(uid=new_uid(), creationTimestamp=times.now(), generation=1)
    await store.create(key_for(body), encode(body))


async def test_a_refused_pod_create_writes_nothing_of_the_sync(
    cluster: tuple[Any, Client, CountingStore]
) -> None:
    """The ReplicaSet controller's sync creates its pods and writes the ReplicaSet's status
    in one registry transaction: pods the registry refuses leave no pod and no status
    behind, and the user is told why on the ReplicaSet."""
    _, client, store = cluster
    await _store_as_older_release(store, _bad_replicaset("bad"))

    async def failed_create() -> list[dict]:
        events, _ = await client.list("Event")
        return [e for e in events if e["reason"] == "FailedCreate"
                and e["involvedObject"]["name"] == "bad"]

    events = await eventually(failed_create, what="a FailedCreate event")
    assert all("metadata.annotations" in e["message"] for e in events)
    await asyncio.sleep(0.5)  # retries come and go; none gets further
    assert await _pods(client, "bad") == []
    rs = await client.get("ReplicaSet", "bad")
    assert "status" not in rs
