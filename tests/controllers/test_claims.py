"""Claims on a real control plane (embedded store) with real agents on simulated Linux
engines (8 CPUs each): where the claim's pods go, what the scheduler says when they cannot,
a Deployment's replicas sharing one claim, a pod a user bound to a node binding its claim."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from mixfleet.api import claims
from mixfleet.client import Client
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import deployment, eventually

NODES = ("claim-a", "claim-b", "claim-c")


@pytest.fixture
async def nodes(client: Client) -> AsyncIterator[list[SimulatedNode]]:
    started = [await SimulatedNode(client, n).start() for n in NODES]
    await eventually(lambda: _registered(client), what="nodes registered")
    yield started
    for node in started:
        await node.stop()


async def _registered(client: Client) -> bool:
    items, _ = await client.list("Node")
    return {n["metadata"]["name"] for n in items} >= set(NODES)


def claim(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def uses(spec: dict[str, Any], name: str) -> dict[str, Any]:
    spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]
    for c in spec["containers"]:
        c["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return spec


def pod(name: str, claim_name: str, *, cpu: str = "100m", **spec: Any) -> dict[str, Any]:
    body = {"containers": [{"name": "app", "image": "busybox:latest", "command": ["sleep", "3600"],
                            "resources": {"requests": {"cpu": cpu}}}], **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": uses(body, claim_name)}


async def _phase(client: Client, name: str, phase: str) -> dict | None:
    obj = await client.get("Pod", name, "default")
    return obj if (obj.get("status") or {}).get("phase") == phase else None


async def _unschedulable(client: Client, name: str) -> str | None:
    obj = await client.get("Pod", name, "default")
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return str(c.get("message"))
    return None


async def test_refusals_say_why_in_kube_schedulers_words(client: Client, nodes: list[SimulatedNode]) -> None:
    """The claim is on claim-a, which has no CPU left for a second pod; the other two nodes
    are the wrong node. A pod whose claim does not exist waits, and goes once it does."""
    await client.create(claim("data"))
    await client.create(pod("big", "data", cpu="6", nodeSelector={"kubernetes.io/hostname": "claim-a"}))
    assert (await eventually(lambda: _phase(client, "big", "Running"), what="big running"))["spec"]["nodeName"] == "claim-a"
    await client.create(pod("more", "data", cpu="4"))
    assert await eventually(lambda: _unschedulable(client, "more"), what="more refused") == (
        "0/3 nodes are available: 2 node(s) had volume node affinity conflict; 1 insufficient cpu.")
    events, _ = await client.list("Event")
    assert any(e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == "more" for e in events)

    await client.create(pod("early", "later"))
    assert await eventually(lambda: _unschedulable(client, "early"), what="early refused") == (
        '0/3 nodes are available: persistentvolumeclaim "later" not found.')
    await client.create(claim("later"))
    await eventually(lambda: _phase(client, "early", "Running"), what="early running once its claim exists")


async def test_a_deployments_replicas_share_their_claims_node(client: Client, nodes: list[SimulatedNode]) -> None:
    """Spread would put three replicas on three nodes; with one claim they share a node."""
    await client.create(claim("shared"))
    d = deployment("web", replicas=3)
    d["spec"]["template"]["spec"] = uses({**d["spec"]["template"]["spec"], "schedulingStrategy": "spread"}, "shared")
    await client.create(d)

    async def placed() -> set[str] | None:
        items, _ = await client.list("Pod", label_selector="app=web")
        where = {p["spec"].get("nodeName") for p in items}
        return where if len(items) == 3 and None not in where else None

    where = await eventually(placed, what="three replicas placed")
    bound = await client.get(claims.KIND, "shared", "default")
    assert where == {claims.selected_node(bound)}


async def test_a_pod_bound_by_hand_binds_its_claim_to_its_node(client: Client, nodes: list[SimulatedNode]) -> None:
    """The scheduler never saw it; the claim controller binds the claim to the pod's node,
    and the agent there sets the volume up."""
    await client.create(claim("manual"))
    await client.create(pod("pinned", "manual", nodeName="claim-c"))

    async def bound() -> str | None:
        return claims.selected_node(await client.get(claims.KIND, "manual", "default"))

    assert await eventually(bound, what="claim bound") == "claim-c"
    await eventually(lambda: _phase(client, "pinned", "Running"), what="pinned running")
    status = (await client.get(claims.KIND, "manual", "default"))["status"]
    assert status["phase"] == "Bound" and status["capacity"] == {"storage": "1Gi"}
