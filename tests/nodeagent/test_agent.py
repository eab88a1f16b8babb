"""The node agent end to end: a real control plane, a real dockerd, a real agent."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest

from mixfleet.client import NotFoundError
from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.base import ContainerSpec, RunState
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.podspec import LABEL_NODE, LABEL_POD_UID, MANAGED
from mixfleet.nodeagent.runner import run_node
from mixfleet.nodeagent.sandbox import is_sandbox
from tests.nodeagent.builders import eventually
from tests.nodeagent.dockeragents import stop_and_clean

pytestmark = pytest.mark.docker
IMAGE = "mixfleet/busybox:latest"
FAST = dict(
    heartbeat_seconds=0.3,
    resync_seconds=0.3,
    node_refresh_seconds=1.0,
    backoff_base_seconds=0.5,
    backoff_cap_seconds=2.0,
)


class RecordingEngine(DockerEngine):
    """The real Docker engine, recording stop and remove calls in order."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls: list[tuple[str, str, float | None]] = []

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        self.calls.append(("stop", container_id, grace_seconds))
        await super().stop(container_id, grace_seconds)

    async def remove(self, container_id: str) -> None:
        self.calls.append(("remove", container_id, None))
        await super().remove(container_id)


def pod(name: str, node: str, script: str, *, restart: str = "Always", grace: int = 30) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": grace,
            "containers": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "command": ["sh", "-c", script],
                    "resources": {"limits": {"cpu": "250m", "memory": "32Mi"}},
                }
            ],
        },
    }


class Harness:
    def __init__(self, client: Any, engine: RecordingEngine, node: str) -> None:
        self.client, self.engine, self.node = client, engine, node
        self.agent: Agent | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, **config: Any) -> Agent:
        self.agent = Agent(
            self.client, self.engine, self.node, config=AgentConfig(**{**FAST, **config})
        )
        self.task = asyncio.create_task(self.agent.run())
        return self.agent

    async def kill(self) -> None:
        """The agent dies: its task is cancelled mid-flight."""
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def containers(self, uid: str) -> list:
        """The pod's own containers (not its sandbox)."""
        cs = await self.engine.list_containers({**MANAGED, LABEL_POD_UID: uid})
        return [c for c in cs if not is_sandbox(c)]

    async def status(self, name: str) -> dict:
        return (await self.client.get("Pod", name, "default")).get("status") or {}


@pytest.fixture
async def harness(client, dockerd):
    engine = RecordingEngine(
        base_url=dockerd.socket_url, retry_seconds=2, network_mode=dockerd.network
    )
    h = Harness(client, engine, f"node-{uuid.uuid4().hex[:6]}")
    yield h
    if h.task is not None and not h.task.done():
        await h.kill()
    await stop_and_clean(None, engine, h.node)
    await engine.close()


async def _running(h: Harness, name: str) -> dict | None:
    st = await h.status(name)
    return st if st.get("phase") == "Running" and st["containerStatuses"][0]["ready"] else None


async def test_registers_node_and_heartbeats(harness, client):
    """The agent registers a Node with detected facts and keeps renewing its Lease."""
    await harness.start()
    node = await eventually(lambda: _get(client, "Node", harness.node))
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("docker://")
    assert any(IMAGE in i["names"] for i in node["status"]["images"])
    first = (await eventually(lambda: _get(client, "Lease", harness.node, "mixfleet-node-lease")))[
        "spec"
    ]["renewTime"]
    renewed = await eventually(lambda: _renewed_after(client, harness.node, first))
    assert renewed["spec"]["holderIdentity"] == harness.node


async def test_pod_runs_with_limits_and_reports_running(harness, client, dockerd):
    """A pod bound to the node runs as a container with its limits; status says Running."""
    await harness.start()
    created = await client.create(pod("web", harness.node, "echo hello; sleep 600"))
    status = await eventually(lambda: _running(harness, "web"))
    [c] = await harness.containers(created["metadata"]["uid"])
    attrs = dockerd.client.api.inspect_container(c.id)
    assert (attrs["HostConfig"]["NanoCpus"], attrs["HostConfig"]["Memory"]) == (
        250_000_000,
        32 << 20,
    )
    assert status["containerStatuses"][0]["containerID"] == f"docker://{c.id}"
    assert status["containerStatuses"][0]["restartCount"] == 0


async def test_crashing_container_restarts_with_backoff(harness, client):
    """A container that keeps failing is restarted, shown as CrashLoopBackOff with a count."""
    await harness.start()
    await client.create(pod("crash", harness.node, "exit 3"))

    async def crashloop() -> dict | None:
        st = await harness.status("crash")
        cs = (st.get("containerStatuses") or [{}])[0]
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return (
            cs if waiting.get("reason") == "CrashLoopBackOff" and cs["restartCount"] >= 2 else None
        )

    cs = await eventually(crashloop)
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert (await harness.status("crash"))["phase"] == "Running"


async def test_delete_stops_gracefully_removes_and_finalizes(harness, client):
    """Deleting a pod stops its container with the pod's grace, removes it, and the pod goes."""
    await harness.start()
    created = await client.create(
        pod("bye", harness.node, "trap 'exit 0' TERM; while true; do sleep 0.1; done", grace=7)
    )
    await eventually(lambda: _running(harness, "bye"))
    [c] = await harness.containers(created["metadata"]["uid"])
    await client.delete("Pod", "bye", "default")
    await eventually(lambda: _absent(client, "Pod", "bye", "default"))
    assert await harness.containers(created["metadata"]["uid"]) == []
    mine = [call for call in harness.engine.calls if call[1] == c.id]
    assert mine == [("stop", c.id, 7), ("remove", c.id, None)]


async def test_restarted_agent_adopts_running_container(harness, client, dockerd):
    """An agent killed and restarted leaves the running container alone (same id and start)."""
    await harness.start()
    created = await client.create(pod("keep", harness.node, "sleep 600"))
    await eventually(lambda: _running(harness, "keep"))
    [before] = await harness.containers(created["metadata"]["uid"])
    await harness.kill()
    agent = await harness.start()
    await eventually(lambda: _passes(agent, 5))
    [after] = await harness.containers(created["metadata"]["uid"])
    assert (after.id, after.started_at, after.state) == (
        before.id,
        before.started_at,
        RunState.RUNNING,
    )
    assert dockerd.client.api.inspect_container(after.id)["RestartCount"] == 0


async def test_orphans_removed_foreign_untouched(harness, dockerd):
    """Managed containers of unknown pods are removed; containers not ours are left running."""
    orphan = await harness.engine.create_and_start(
        ContainerSpec(
            name=f"orphan-{harness.node}",
            image=IMAGE,
            command=("sleep", "600"),
            labels={
                **MANAGED,
                LABEL_NODE: harness.node,
                LABEL_POD_UID: "gone-uid",
                "mixfleet.io/grace-seconds": "1",
            },
        )
    )
    foreign = dockerd.client.containers.run(
        IMAGE, ["sleep", "600"], detach=True, labels={"owner": "someone"}
    )
    try:
        agent = await harness.start()
        await eventually(lambda: _gone(harness, orphan))
        target = agent.passes + 3
        await eventually(lambda: _passes(agent, target))
        foreign.reload()
        assert foreign.status == "running"
    finally:
        foreign.remove(force=True)


async def test_logs_served_through_control_plane(harness, client):
    """`logs` on the control plane reaches the agent's NodeAgent service and the container."""
    harness.task = asyncio.create_task(
        run_node(client, harness.engine, harness.node, config=AgentConfig(**FAST))
    )
    await client.create(pod("talk", harness.node, "echo hello from mixfleet; sleep 600"))
    await eventually(lambda: _running(harness, "talk"))

    async def output() -> bytes:
        return b"".join([chunk async for chunk in client.logs("default", "talk")])

    assert await eventually(output) == b"hello from mixfleet\n"
    node = await client.get("Node", harness.node)
    assert node["status"]["daemonEndpoint"].startswith("127.0.0.1:")


async def _get(client: Any, kind: str, name: str, ns: str = "") -> dict | None:
    try:
        return await client.get(kind, name, ns)
    except NotFoundError:
        return None


async def _absent(client: Any, kind: str, name: str, ns: str) -> bool:
    return await _get(client, kind, name, ns) is None


async def _renewed_after(client: Any, node: str, first: str) -> dict | None:
    lease = await client.get("Lease", node, "mixfleet-node-lease")
    return lease if lease["spec"]["renewTime"] != first else None


async def _passes(agent: Agent, n: int) -> bool:
    return agent.passes >= n


async def _gone(h: Harness, cid: str) -> bool:
    return all(c.id != cid for c in await h.engine.list_containers(MANAGED))
