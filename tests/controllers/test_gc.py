"""Cascading deletion of a Deployment through ownerReferences, for each propagation policy."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import pytest

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.client import Client, NotFoundError
from tests.controllers.agents import FakeAgent
from tests.controllers.conftest import deployment, eventually

pytestmark = pytest.mark.etcd


@pytest.fixture
async def agent(etcd_client: Client) -> AsyncIterator[FakeAgent]:
    a = await FakeAgent(etcd_client, "gc-node").start()
    yield a
    await a.stop()


async def _owned(client: Client, app: str) -> tuple[list[dict], list[dict]]:
    sets, _ = await client.list("ReplicaSet")
    pods, _ = await client.list("Pod")
    pick = lambda objs: [o for o in objs if (o["metadata"].get("labels") or {}).get("app") == app]  # noqa: E731
    return pick(sets), pick(pods)


async def _started(client: Client, app: str, n: int) -> bool:
    sets, pods = await _owned(client, app)
    return len(sets) == 1 and len([p for p in pods if P.is_available(p)]) == n


async def _deletions(client: Client, kind: str, rev: int, out: dict[str, int]) -> None:
    async for ev in client.watch(kind, from_revision=rev + 1):
        if ev.type == "DELETED":
            out[f"{kind}/{ev.object['metadata']['name']}"] = ev.revision


@pytest.mark.parametrize("policy", [pytest.param("Background", id="background"),
                                    pytest.param("Foreground", id="foreground")])
async def test_deleting_a_deployment_deletes_its_replicasets_and_pods(
    etcd_client: Client, agent: FakeAgent, policy: str
) -> None:
    """Everything the Deployment owns goes; in the foreground the Deployment goes last."""
    app = f"gc-{policy.lower()}"
    await etcd_client.create(deployment(app, replicas=3))
    await eventually(lambda: _started(etcd_client, app, 3), what="3 pods")
    _, rev = await etcd_client.list("Pod")
    gone: dict[str, int] = {}
    watches = [asyncio.create_task(_deletions(etcd_client, k, rev, gone))
               for k in ("Deployment", "ReplicaSet", "Pod")]
    await etcd_client.delete("Deployment", app, propagation_policy=policy)
    await eventually(lambda: _nothing_left(etcd_client, app), what="all dependents deleted")
    await eventually(lambda: _gone(etcd_client, app), what="deployment deleted")
    await asyncio.sleep(0.3)  # the watches deliver the last deletions
    for w in watches:
        w.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await w
    assert len([k for k in gone if k.startswith("Pod/")]) == 3
    if policy == "Foreground":
        assert gone[f"Deployment/{app}"] > max(r for k, r in gone.items() if k != f"Deployment/{app}")


async def _nothing_left(client: Client, app: str) -> bool:
    sets, pods = await _owned(client, app)
    return not sets and not pods


async def _gone(client: Client, name: str) -> bool:
    try:
        await client.get("Deployment", name)
    except NotFoundError:
        return True
    return False


async def test_orphan_keeps_pods_and_a_new_deployment_adopts_them(
    etcd_client: Client, agent: FakeAgent
) -> None:
    """Orphan deletion leaves the ReplicaSet and pods running; the same Deployment applied
    again adopts the ReplicaSet instead of starting new pods."""
    await etcd_client.create(deployment("keep", replicas=2))
    await eventually(lambda: _started(etcd_client, "keep", 2), what="2 pods")
    _, before = await _owned(etcd_client, "keep")
    await etcd_client.delete("Deployment", "keep", propagation_policy="Orphan")
    await asyncio.sleep(1.0)  # give a wrong garbage collector time to act
    (rs,), pods = await _owned(etcd_client, "keep")
    assert not rs["metadata"].get("ownerReferences")
    assert {p["metadata"]["uid"] for p in pods} == {p["metadata"]["uid"] for p in before}

    d = await etcd_client.create(deployment("keep", replicas=2))
    adopted = await eventually(lambda: _rs_owned_by(etcd_client, "keep", d["metadata"]["uid"]),
                               what="ReplicaSet adopted")
    _, after = await _owned(etcd_client, "keep")
    assert adopted["metadata"]["name"] == rs["metadata"]["name"]
    assert {p["metadata"]["uid"] for p in after} == {p["metadata"]["uid"] for p in before}


async def _rs_owned_by(client: Client, app: str, uid: str) -> dict | None:
    sets, _ = await _owned(client, app)
    return next((rs for rs in sets if objects.controller_of(rs) and objects.controller_of(rs)["uid"] == uid), None)
