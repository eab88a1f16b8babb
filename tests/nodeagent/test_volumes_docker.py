"""Pod volumes on a real dockerd: what the containers of a pod see through their mounts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.podspec import LABEL_CONTAINER, LABEL_POD_UID, MANAGED
from tests.nodeagent.builders import eventually
from tests.nodeagent.dockeragents import stop_and_clean
from tests.nodeagent.test_agent import FAST, IMAGE, _absent

pytestmark = pytest.mark.docker
# hostPath volumes need the privileged Pod Security level (baseline, the default, refuses them).
NS = "volumes-test"
PRIVILEGED_NS = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": NS, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}


def volume_pod(name: str, node: str, containers: list[dict], volumes: list[dict]) -> dict:
    for c in containers:
        c.setdefault("image", IMAGE)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                 "containers": containers, "volumes": volumes},
    }


class Node:
    def __init__(self, client: Any, engine: DockerEngine, name: str, root: Path) -> None:
        self.client, self.engine, self.name, self.root = client, engine, name, root
        self.agent = Agent(client, engine, name,
                           config=AgentConfig(**FAST, root_dir=str(root), volume_refresh_seconds=0.3,
                                              config_ttl_seconds=0.3))

    async def container_id(self, pod: str, container: str) -> str | None:
        created = await self.client.get("Pod", pod, NS)
        for c in await self.engine.list_containers(
            {**MANAGED, LABEL_POD_UID: created["metadata"]["uid"], LABEL_CONTAINER: container}
        ):
            if c.state.value == "running":
                return c.id
        return None

    async def run(self, pod: str, container: str, *command: str) -> tuple[int, str]:
        cid = await eventually(lambda: self.container_id(pod, container))
        result = await self.engine.exec(cid, list(command), timeout=10)
        return result.exit_code, result.output

    async def waiting(self, pod: str) -> dict | None:
        st = (await self.client.get("Pod", pod, NS)).get("status") or {}
        for cs in st.get("containerStatuses") or ():
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("message"):
                return w
        return None


@contextlib.asynccontextmanager
async def running_node(client: Any, dockerd: Any, root: Path) -> AsyncIterator[Node]:
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    await client.apply([PRIVILEGED_NS])
    n = Node(client, engine, f"vol-{uuid.uuid4().hex[:6]}", root)
    task = asyncio.create_task(n.agent.run())
    try:
        yield n
    finally:
        await stop_and_clean(task, engine, n.name)
        await n.agent.volumes.cleanup(set())  # unmounts any tmpfs left behind
        await engine.close()


@pytest.fixture
async def node(client, dockerd, tmp_path):
    async with running_node(client, dockerd, tmp_path / "agent") as n:
        yield n


async def test_empty_dir_is_shared_by_the_pods_containers(node, client):
    """What one container writes in an emptyDir, the other container of the pod reads."""
    await client.create(volume_pod("share", node.name, [
        {"name": "writer", "command": ["sh", "-c", "echo hello > /out/msg; sleep 600"],
         "volumeMounts": [{"name": "shared", "mountPath": "/out"}]},
        {"name": "reader", "command": ["sleep", "600"],
         "volumeMounts": [{"name": "shared", "mountPath": "/in"}]},
    ], [{"name": "shared", "emptyDir": {}}]))

    async def read() -> str | None:
        code, out = await node.run("share", "reader", "cat", "/in/msg")
        return out if code == 0 else None

    assert (await eventually(read)).strip() == "hello"


async def test_a_relative_root_dir_still_mounts(client, dockerd, tmp_path, monkeypatch):
    """A --root-dir given relative (mixfleet dev's default is .mixfleet/agents) still gives
    containers their volumes: Docker refuses a relative bind mount source."""
    monkeypatch.chdir(tmp_path)
    async with running_node(client, dockerd, Path("rel-agent")) as n:
        await client.create(volume_pod("relative", n.name, [
            {"name": "app", "command": ["sh", "-c", "echo here > /scratch/x; sleep 600"],
             "volumeMounts": [{"name": "s", "mountPath": "/scratch"}]},
        ], [{"name": "s", "emptyDir": {}}]))

        async def read() -> str | None:
            code, out = await n.run("relative", "app", "cat", "/scratch/x")
            return out if code == 0 else None

        assert (await eventually(read)).strip() == "here"


async def test_memory_empty_dir_is_a_tmpfs_of_its_size(node, client):
    """medium: Memory is a tmpfs of sizeLimit, the same one for both containers."""
    await client.create(volume_pod("mem", node.name, [
        {"name": "a", "command": ["sh", "-c", "echo x > /cache/f; sleep 600"],
         "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
        {"name": "b", "command": ["sleep", "600"],
         "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
    ], [{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}]))
    code, out = await node.run("mem", "b", "sh", "-c", "grep ' /cache ' /proc/mounts; df -k /cache")
    assert code == 0 and out.split()[2] == "tmpfs"
    assert " 16384 " in out  # df's 1K-blocks column
    assert (await eventually(lambda: _cat(node, "mem", "b", "/cache/f"))) == "x"


async def _cat(node: Node, pod: str, container: str, path: str) -> str | None:
    code, out = await node.run(pod, container, "cat", path)
    return out.strip() if code == 0 else None


async def test_host_path_read_only_and_sub_path(node, client, tmp_path):
    """A hostPath directory is made (DirectoryOrCreate), seen by the container, written back
    to the host through a writable mount, refused through a readOnly one; a subPath mounts
    just that part of the volume."""
    host = tmp_path / "host" / "data"
    await client.create(volume_pod("hp", node.name, [
        {"name": "c", "command": ["sh", "-c", "echo from-pod > /rw/out; sleep 600"],
         "volumeMounts": [{"name": "h", "mountPath": "/rw"},
                          {"name": "h", "mountPath": "/ro", "readOnly": True},
                          {"name": "h", "mountPath": "/part", "subPath": "sub/dir"}]},
    ], [{"name": "h", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}]))
    await eventually(lambda: _exists(host / "out"))
    assert (host / "out").read_text() == "from-pod\n"
    code, out = await node.run("hp", "c", "sh", "-c", "echo x > /ro/nope")
    assert code != 0 and "Read-only file system" in out
    assert not (host / "nope").exists()
    (host / "sub" / "dir" / "f").write_text("deep")
    assert await _cat(node, "hp", "c", "/part/f") == "deep"


async def _exists(p: Path) -> bool:
    return p.exists()


async def test_host_path_of_the_wrong_type_waits_with_the_reason(node, client, tmp_path):
    """A hostPath of type Directory that is not there keeps the container from being created,
    with the kubelet's words; once it exists the pod starts."""
    host = tmp_path / "later"
    await client.create(volume_pod("late", node.name, [
        {"name": "c", "command": ["sleep", "600"], "volumeMounts": [{"name": "h", "mountPath": "/h"}]},
    ], [{"name": "h", "hostPath": {"path": str(host), "type": "Directory"}}]))
    waiting = await eventually(lambda: node.waiting("late"))
    assert waiting["reason"] == "ContainerCreating"
    assert waiting["message"] == (
        f'MountVolume.SetUp failed for volume "h" : hostPath type check failed: {host} is not a directory'
    )
    host.mkdir()
    assert await eventually(lambda: node.container_id("late", "c"))


async def test_pod_volumes_are_removed_with_the_pod(node, client):
    """Deleting a pod removes its emptyDir from the agent's directory."""
    created = await client.create(volume_pod("gone", node.name, [
        {"name": "c", "command": ["sleep", "600"], "volumeMounts": [{"name": "e", "mountPath": "/e"}]},
    ], [{"name": "e", "emptyDir": {"medium": "Memory"}}]))
    pod_dir = node.agent.volumes.pod_dir(created["metadata"]["uid"])
    await eventually(lambda: node.container_id("gone", "c"))
    assert os.path.ismount(pod_dir / "volumes" / "kubernetes.io~empty-dir" / "e")
    await client.delete("Pod", "gone", NS)
    await eventually(lambda: _absent(client, "Pod", "gone", NS))
    await eventually(lambda: _gone(pod_dir))


async def _gone(p: Path) -> bool:
    return not p.exists()
