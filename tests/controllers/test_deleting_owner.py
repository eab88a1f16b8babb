"""A Deployment being deleted creates no more pods, however long its pods take to stop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.client import Client, ConflictError, NotFoundError
from tests.controllers.agents import FakeAgent, node_object, running
from tests.controllers.conftest import deployment, eventually

REPLICAS = 600  # more than one ReplicaSet burst (100), so the scale-up is still going on


class StuckAgent(FakeAgent):
    """An agent whose containers never stop: its pods run, and a deletion is never
    confirmed, so every pod being deleted stays terminating."""

    async def _tend_pods(self) -> None:
        pods, _ = await self.client.list("Pod")
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != self.name or P.deleting(pod):
                continue
            if (pod.get("status") or {}).get("phase") in (None, "Pending"):
                with contextlib.suppress(NotFoundError, ConflictError):
                    await self.client.update_status(running(pod))


async def _created(client: Client, rev: int, out: list[str]) -> None:
    async for ev in client.watch("Pod", from_revision=rev + 1):
        if ev.type == "ADDED":
            out.append(ev.object["metadata"]["name"])


async def _all_terminating(client: Client, app: str) -> list[dict[str, Any]] | None:
    pods, _ = await client.list("Pod", label_selector=f"app={app}")
    return pods if pods and all(P.deleting(p) for p in pods) else None


@pytest.mark.parametrize("policy", [pytest.param("Foreground", id="foreground"),
                                    pytest.param("Background", id="background")])
async def test_a_deployment_being_deleted_creates_no_more_pods(client: Client, policy: str) -> None:
    """Deleted while it is still scaling up, and with pods that cannot finish stopping, a
    Deployment's ReplicaSet creates no pod after the delete: every pod there is is one that
    existed when the user deleted it, and all of them are terminating."""
    await client.create(node_object("stuck-node", pods="1000"))
    agent = await StuckAgent(client, "stuck-node").start()
    try:
        app = f"doomed-{policy.lower()}"
        await client.create(deployment(app, replicas=REPLICAS))

        async def some_pods() -> bool:
            pods, _ = await client.list("Pod", label_selector=f"app={app}")
            return 0 < len(pods) < REPLICAS

        await eventually(some_pods, what="the scale-up under way", interval=0.02)
        deleted = await client.delete("Deployment", app, propagation_policy=policy)
        rev = int(deleted["metadata"]["resourceVersion"])
        created: list[str] = []
        watch = asyncio.create_task(_created(client, rev, created))
        try:
            terminating = await eventually(lambda: _all_terminating(client, app),
                                           what="every pod terminating")
            await asyncio.sleep(2.0)  # time for a wrong ReplicaSet controller to act
            pods, _ = await client.list("Pod", label_selector=f"app={app}")
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        assert created == [], f"{len(created)} pods created after the delete"
        assert len(pods) == len(terminating) < REPLICAS
        assert all(P.deleting(p) for p in pods)
    finally:
        await agent.stop()


async def test_a_replicaset_joining_a_deployment_being_deleted_creates_no_pods(client: Client) -> None:
    """A ReplicaSet written with its controller reference to a Deployment that is being
    deleted (a restore from a dump, a late write) makes no pods: the garbage collector
    deletes it too, and it never scales up in between."""
    await client.create(node_object("stuck-node", pods="1000"))
    agent = await StuckAgent(client, "stuck-node").start()
    try:
        d = await client.create(deployment("doomed", replicas=3))
        await eventually(lambda: _running(client, "doomed", 3), what="3 pods running")
        await client.delete("Deployment", "doomed", propagation_policy="Foreground")
        await eventually(lambda: _all_terminating(client, "doomed"), what="every pod terminating")
        d = await client.get("Deployment", "doomed")  # held by its terminating pods
        late = deployment("late", replicas=20)
        rs = await client.create({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "late", "namespace": "default",
                         "ownerReferences": [objects.owner_reference(d)]},
            "spec": {k: late["spec"][k] for k in ("replicas", "selector", "template")},
        })
        created: list[str] = []
        watch = asyncio.create_task(_created(client, int(rs["metadata"]["resourceVersion"]) - 1, created))
        try:
            async def marked() -> bool:
                try:
                    return P.deleting(await client.get("ReplicaSet", "late"))
                except NotFoundError:
                    return True

            await eventually(marked, what="the late ReplicaSet deleted")
            await asyncio.sleep(1.0)  # time for a wrong ReplicaSet controller to act
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        assert created == [], f"{len(created)} pods created for a ReplicaSet of a deleted Deployment"
    finally:
        await agent.stop()


async def _running(client: Client, app: str, n: int) -> bool:
    pods, _ = await client.list("Pod", label_selector=f"app={app}")
    return len(pods) == n and all((p.get("status") or {}).get("phase") == "Running" for p in pods)
