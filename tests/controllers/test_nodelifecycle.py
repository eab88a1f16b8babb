"""Node loss on a real control plane over etcd, with real node agents on simulated engines:
NotReady and tainted after node_monitor_grace (2s here), pods replaced elsewhere after
pod_eviction_timeout (1s more), and the node healthy again when its agent returns."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from mixfleet.api import pods as P
from mixfleet.client import Client
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import deployment, eventually

pytestmark = pytest.mark.etcd
UNREACHABLE = "node.kubernetes.io/unreachable"


@pytest.fixture
async def nodes(etcd_client: Client) -> AsyncIterator[dict[str, SimulatedNode]]:
    started = {n: await SimulatedNode(etcd_client, n).start() for n in ("node-a", "node-b")}
    yield started
    for node in started.values():
        await node.stop()


def _ready(node: dict) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("status"))
    return ""


def _tainted(node: dict) -> bool:
    return any(t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute"
               for t in (node.get("spec") or {}).get("taints") or [])


async def _live(client: Client) -> list[dict]:
    pods, _ = await client.list("Pod")
    return [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == "svc"
            and not P.deleting(p) and P.phase(p) not in ("Failed", "Succeeded")]


async def _all_running(client: Client, n: int) -> list[dict] | None:
    live = await _live(client)
    return live if len(live) == n and all(P.is_available(p) for p in live) else None


async def test_lost_node_pods_are_replaced_and_node_recovers(
    etcd_client: Client, nodes: dict[str, SimulatedNode]
) -> None:
    """Killing an agent marks its node NotReady + unreachable, evicts its pods (NodeLost)
    and the ReplicaSet recreates them on the other node; a restarted agent makes the node
    Ready again, untainted, and removes the containers of the replaced pods."""
    await eventually(lambda: _both_ready(etcd_client), what="both nodes Ready")
    await etcd_client.create(deployment("svc", replicas=4, image="busybox:latest"))
    pods = await eventually(lambda: _all_running(etcd_client, 4), what="4 running pods")
    victim = pods[0]["spec"]["nodeName"]
    survivor = next(n for n in nodes if n != victim)
    lost_uids = {p["metadata"]["uid"] for p in pods if p["spec"]["nodeName"] == victim}

    await nodes[victim].stop()
    node = await eventually(
        lambda: _node_if(etcd_client, victim, lambda n: _ready(n) == "Unknown" and _tainted(n)),
        what=f"{victim} NotReady and tainted")
    reason = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["reason"]
    replaced = await eventually(
        lambda: _moved(etcd_client, survivor, 4), what=f"4 running pods on {survivor}")
    assert reason == "NodeStatusUnknown"
    assert not lost_uids & {p["metadata"]["uid"] for p in replaced}
    events, _ = await etcd_client.list("Event")
    assert {"NodeLost"} <= {e["reason"] for e in events if e["involvedObject"]["kind"] == "Pod"}
    assert "NodeNotReady" in {e["reason"] for e in events if e["involvedObject"]["name"] == victim}

    await nodes[victim].start()
    await eventually(
        lambda: _node_if(etcd_client, victim, lambda n: _ready(n) == "True" and not _tainted(n)),
        what=f"{victim} Ready again")
    await eventually(lambda: _no_containers_of(nodes[victim], lost_uids),
                     what="containers of replaced pods removed")


async def _both_ready(client: Client) -> bool:
    nodes, _ = await client.list("Node")
    return len([n for n in nodes if _ready(n) == "True"]) == 2


async def _node_if(client: Client, name: str, pred) -> dict | None:  # type: ignore[no-untyped-def]
    node = await client.get("Node", name)
    return node if pred(node) else None


async def _moved(client: Client, survivor: str, n: int) -> list[dict] | None:
    live = await _all_running(client, n)
    return live if live and all(p["spec"]["nodeName"] == survivor for p in live) else None


async def _no_containers_of(node: SimulatedNode, uids: set[str]) -> bool:
    return not (await node.pod_uids()) & uids
