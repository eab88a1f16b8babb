"""Node-local persistent data on a real dockerd: what a pod writes to its claim survives the
pod, the claim's next pod is placed on the same node and sees it, and the data goes when the
claim is deleted, once no pod uses it (not before)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest

from mixfleet.api import claims
from mixfleet.client import ConflictError
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.volumes import claim as claim_volumes
from tests.controllers.agents import SimulatedNode
from tests.nodeagent.builders import eventually
from tests.nodeagent.dockeragents import stop_and_clean
from tests.nodeagent.test_agent import _absent
from tests.nodeagent.test_volumes_docker import NS, PRIVILEGED_NS, Node, volume_pod

pytestmark = pytest.mark.docker

CLAIM = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "data", "namespace": NS},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}}


def claim_pod(name: str, command: str, **spec: Any) -> dict:
    pod = volume_pod(name, "", [{"name": "c", "command": ["sh", "-c", command],
                                 "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],
                     [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}])
    del pod["spec"]["nodeName"]  # the scheduler places it
    pod["spec"].update(spec)
    return pod


@pytest.fixture
async def cluster(client, dockerd, tmp_path):
    """One real Linux node on dockerd and two simulated ones, all schedulable."""
    await client.apply([PRIVILEGED_NS])  # the volume tests' Node helper looks there
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    real = Node(client, engine, f"pvc-{uuid.uuid4().hex[:6]}", tmp_path / "agent")
    task = asyncio.create_task(real.agent.run())
    sims = [await SimulatedNode(client, f"sim-{i}").start() for i in range(2)]
    yield real
    for s in sims:
        await s.stop()
    await stop_and_clean(task, engine, real.name)
    await engine.close()


async def _node_of(client: Any, pod: str) -> str | None:
    return ((await client.get("Pod", pod, NS)).get("spec") or {}).get("nodeName")


async def test_claim_data_outlives_its_pods_until_the_claim_goes(cluster: Node, client: Any) -> None:
    real = cluster
    await eventually(lambda: _ready_nodes(client, 3))
    await client.create(CLAIM)
    pin = {"nodeSelector": {"kubernetes.io/hostname": real.name}}  # only the first pod is pinned
    await client.create(claim_pod("first", "echo kept > /data/msg; sleep 600", **pin))
    assert await eventually(lambda: _cat(real, "first", "/data/msg")) == "kept"
    bound = await client.get(claims.KIND, "data", NS)
    assert claims.selected_node(bound) == real.name
    assert bound["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "64Mi"}}
    [uid] = claim_volumes.known(real.root)
    assert uid == bound["metadata"]["uid"]

    await client.delete("Pod", "first", NS)
    await eventually(lambda: _absent(client, "Pod", "first", NS))
    assert claim_volumes.known(real.root) == [uid]  # the pod is gone, the data is not

    # Unpinned, and preferring the two other nodes (labelled so): without the claim the
    # scheduler picks one of them (the control pod shows it); the claim brings it back to
    # the data.
    for sim in ("sim-0", "sim-1"):
        await _label(client, sim, "tier", "preferred")
    prefer = {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["preferred"]}]}}]}}}
    control = volume_pod("control", "", [{"name": "c", "command": ["sleep", "600"]}], [])
    del control["spec"]["nodeName"]
    control["spec"].update(prefer)
    await client.create(control)
    assert (await eventually(lambda: _node_of(client, "control"))).startswith("sim-")
    await client.create(claim_pod("second", "sleep 600", **prefer))
    assert await eventually(lambda: _node_of(client, "second")) == real.name
    assert await eventually(lambda: _cat(real, "second", "/data/msg")) == "kept"

    await client.delete(claims.KIND, "data", NS)
    marked = await client.get(claims.KIND, "data", NS)
    assert marked["metadata"].get("deletionTimestamp")  # held: a pod uses it
    await asyncio.sleep(1.0)  # several collector rounds (0.3 s): the data must stay
    assert await client.get(claims.KIND, "data", NS) and claim_volumes.known(real.root) == [uid]
    assert await _cat(real, "second", "/data/msg") == "kept"

    await client.delete("Pod", "second", NS)
    await eventually(lambda: _absent(client, claims.KIND, "data", NS))
    await eventually(lambda: _no_data(real))


async def _label(client: Any, node: str, key: str, value: str) -> None:
    for _ in range(10):  # the node's agent writes it too
        obj = await client.get("Node", node)
        obj["metadata"].setdefault("labels", {})[key] = value
        with contextlib.suppress(ConflictError):
            await client.update(obj)
            return
    raise AssertionError(f"could not label node {node}")


async def _no_data(node: Node) -> bool:
    return not claim_volumes.known(node.root)


async def _ready_nodes(client: Any, n: int) -> bool:
    nodes, _ = await client.list("Node")
    return len(nodes) >= n


async def _cat(node: Node, pod: str, path: str) -> str | None:
    code, out = await node.run(pod, "c", "cat", path)
    return out.strip() if code == 0 else None
