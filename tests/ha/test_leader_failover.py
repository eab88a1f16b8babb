"""Control-plane high availability: three replicas on one etcd; the leader is killed in the
middle of a rolling update and the rollout completes under the next leader, with every
pod created exactly once."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from mixfleet.api import pods as P
from mixfleet.api.kinds import lookup
from mixfleet.client import Client, UnavailableError
from mixfleet.mixctl.commands.rollout import follow_rollout, revisions
from mixfleet.mixctl.objects import mutate
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import deployment, eventually
from tests.fixtures.etcd import EtcdCluster, unique_prefix
from tests.ha.conftest import Replicas, current_leader, leaders

pytestmark = pytest.mark.etcd


def _image(d: dict, image: str) -> bool:
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return True


async def _count_created(client: Client, rev: int, created: dict[str, int]) -> None:
    """Count pod creations by image; a stream broken by the failover resumes where it was."""
    while True:
        try:
            async for ev in client.watch("Pod", from_revision=rev + 1):
                rev = ev.revision
                if ev.type == "ADDED":
                    image = ev.object["spec"]["containers"][0]["image"]
                    created[image] = created.get(image, 0) + 1
        except UnavailableError:
            await asyncio.sleep(0.2)


async def _stalled_mid_rollout(client: Client) -> bool:
    sets = await revisions(client, "ha", "default")
    return len(sets) == 2 and [rs["spec"]["replicas"] for rs in sets] == [3, 2]


async def _live(client: Client) -> list[dict] | None:
    pods, _ = await client.list("Pod")
    live = [p for p in pods if not P.deleting(p)]
    return live if len(live) == 4 and all(P.is_available(p) for p in live) else None


async def test_rollout_completes_after_the_leader_is_killed(
    etcd_server: EtcdCluster, replicas: Replicas
) -> None:
    """Kill the leading replica while a rollout waits for new pods: another replica takes
    over, finishes the rollout, and no pod is created twice."""
    replicas.store_url = f"etcd://{etcd_server.endpoint}{unique_prefix()}"
    cps = replicas.start(3)
    leader = await eventually(lambda: _async(current_leader(cps)), what="one leader")
    # Every replica serves the API: agents and users list them all, the leader first, so
    # killing it also shows gRPC's pick_first moving the connection to a survivor.
    ordered = [leader, *(cp for cp in cps if cp is not leader)]
    target = "ipv4:" + ",".join(cp.address for cp in ordered)
    async with Client(target, retry_seconds=10) as client:
        nodes = [await SimulatedNode(client, f"ha-{i}").start() for i in range(2)]
        try:
            await client.create(deployment("ha", replicas=4, image="busybox:latest"))
            await asyncio.wait_for(follow_rollout(client, "ha", "default", emit=lambda m: None), 60)
            _, rev = await client.list("Pod")
            created: dict[str, int] = {}
            counter = asyncio.create_task(_count_created(client, rev, created))
            for n in nodes:
                await n.stop()  # new pods cannot start: the rollout stops half way
            await mutate(client, lookup("Deployment"), "ha", "default",
                         lambda d: _image(d, "nginx:latest"))
            await eventually(lambda: _stalled_mid_rollout(client), what="rollout half way")

            leader.kill()
            for n in nodes:
                await n.start()
            await asyncio.wait_for(follow_rollout(client, "ha", "default", emit=lambda m: None), 60)
            live = await eventually(lambda: _live(client), what="4 new pods")
            await asyncio.sleep(0.5)  # late duplicates, if any, would show up now
            counter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await counter
        finally:
            for n in nodes:
                await n.stop()
    new_leaders = [cp for cp in cps if cp is not leader and leaders(cp)]
    assert len(new_leaders) == 1
    assert {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:latest"}
    assert created == {"nginx:latest": 4}


async def _async(value):  # type: ignore[no-untyped-def]
    return value
