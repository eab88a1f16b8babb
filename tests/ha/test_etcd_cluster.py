"""The control plane on a three-member etcd cluster: with one member killed, every API call
still succeeds (the store fails over between endpoints) and the controllers keep working."""

from __future__ import annotations

from typing import Iterator

import pytest

from mixfleet.api import pods as P
from mixfleet.api.kinds import lookup
from mixfleet.client import Client
from mixfleet.mixctl.commands.scale import set_replicas
from mixfleet.mixctl.objects import mutate
from tests.controllers.agents import FakeAgent
from tests.controllers.conftest import deployment, eventually
from tests.fixtures.etcd import EtcdCluster, unique_prefix
from tests.ha.conftest import Replicas

pytestmark = pytest.mark.etcd


@pytest.fixture
def cluster(etcd_cluster: EtcdCluster) -> Iterator[EtcdCluster]:
    """The module's cluster, with every member brought back afterwards."""
    yield etcd_cluster
    for i in range(len(etcd_cluster.members)):
        etcd_cluster.restart(i)


async def _available(client: Client, n: int) -> bool:
    pods, _ = await client.list("Pod")
    return len([p for p in pods if P.is_available(p) and not P.deleting(p)]) == n


@pytest.mark.parametrize("member", [pytest.param(0, id="first-endpoint"),
                                    pytest.param(2, id="last-endpoint")])
async def test_api_keeps_working_with_one_etcd_member_killed(
    cluster: EtcdCluster, replicas: Replicas, member: int
) -> None:
    """After a member dies, reads, writes, watches and controllers work without an error
    reaching the client (which is told not to retry)."""
    replicas.store_url = f"etcd://{','.join(cluster.endpoints)}{unique_prefix()}"
    (cp,) = replicas.start(1)
    async with Client(cp.address, retry_seconds=10) as setup:
        agent = await FakeAgent(setup, f"etcd-node-{member}").start()
        try:
            await setup.create(deployment("e", replicas=2))
            await eventually(lambda: _available(setup, 2), what="2 pods")
            cluster.kill(member)
            # Only the first call after the kill may wait for the failover; no retries at
            # the client, so an error from the server would fail the test.
            await setup.list("Pod")
            async with Client(cp.address, retry_seconds=0) as strict:
                await strict.create({"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": f"after-kill-{member}"}})
                await mutate(strict, lookup("Deployment"), "e", "default",
                             lambda d: set_replicas(d, 4))
                await eventually(lambda: _available(strict, 4), what="scaled to 4")
                assert (await strict.get("Namespace", f"after-kill-{member}"))["metadata"]["name"]
        finally:
            await agent.stop()
