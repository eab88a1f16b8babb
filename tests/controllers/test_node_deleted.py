"""Deleting a Node (``mixctl delete node``) on a real control plane over etcd, with real node
agents on simulated engines: the node's pods are removed and replaced, and its agent, which
keeps running, registers the Node again."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from mixfleet.client import Client, NotFoundError
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import deployment, eventually
from tests.controllers.test_nodelifecycle import _all_running, _both_ready, _no_containers_of, _ready

pytestmark = pytest.mark.etcd


@pytest.fixture
async def nodes(etcd_client: Client) -> AsyncIterator[dict[str, SimulatedNode]]:
    started = {n: await SimulatedNode(etcd_client, n).start() for n in ("del-a", "del-b")}
    yield started
    for node in started.values():
        await node.stop()


async def _replaced(client: Client, lost: set[str], n: int) -> list[dict] | None:
    pods, _ = await client.list("Pod")
    if lost & {p["metadata"]["uid"] for p in pods}:
        return None  # a pod of the deleted node is still there
    return await _all_running(client, n)


async def _registered_ready(client: Client, name: str) -> dict | None:
    try:
        node = await client.get("Node", name)
    except NotFoundError:
        return None
    return node if _ready(node) == "True" else None


async def test_deleted_node_pods_are_replaced_and_agent_reregisters(
    etcd_client: Client, nodes: dict[str, SimulatedNode]
) -> None:
    """After a Node is deleted, its pods are gone (not left "Running" on a node that does
    not exist), the Deployment runs all its replicas again as new pods, the node's agent
    creates its Node again and it is Ready, and the old pods' containers are stopped."""
    await eventually(lambda: _both_ready(etcd_client), what="both nodes Ready")
    await etcd_client.create(deployment("svc", replicas=4, image="busybox:latest"))
    pods = await eventually(lambda: _all_running(etcd_client, 4), what="4 running pods")
    victim = pods[0]["spec"]["nodeName"]
    lost = {p["metadata"]["uid"] for p in pods if p["spec"]["nodeName"] == victim}

    await etcd_client.delete("Node", victim)

    replaced = await eventually(lambda: _replaced(etcd_client, lost, 4),
                                what=f"the pods of {victim} deleted and replaced")
    assert not lost & {p["metadata"]["uid"] for p in replaced}
    events, _ = await etcd_client.list("Event")
    assert "DeletionByPodGC" in {e["reason"] for e in events if e["involvedObject"]["kind"] == "Pod"}
    node = await eventually(lambda: _registered_ready(etcd_client, victim),
                            what=f"{victim} registered again and Ready")
    assert node["status"]["nodeInfo"]["operatingSystem"] == "linux"  # its facts, not a stub
    await eventually(lambda: _no_containers_of(nodes[victim], lost),
                     what="containers of the deleted node's pods stopped")
