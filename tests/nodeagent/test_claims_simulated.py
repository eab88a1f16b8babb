"""A claim on a simulated Windows node: mounted at the pod's C:\\ path from the agent's
claim directory, the same directory for the claim's next pod."""

from __future__ import annotations

from typing import Any

from mixfleet.api import claims
from mixfleet.nodeagent.engines.base import Mount
from mixfleet.nodeagent.sandbox import is_sandbox
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import _absent
from tests.nodeagent.test_agent_simulated import MCR, windows_pod
from tests.nodeagent.test_volumes_simulated import windows_node  # noqa: F401 (fixture)

CLAIM = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "win-data", "namespace": "default"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def _pod(name: str) -> dict[str, Any]:
    pod = windows_pod(name, "win-vol", f"{MCR}:ltsc2022", "process")
    pod["spec"]["os"] = {"name": "windows"}
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "win-data"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "C:\\data"}]
    return pod


async def test_windows_claim_keeps_its_directory_across_pods(windows_node, client) -> None:  # noqa: F811
    engine, agent = windows_node
    claim = await client.create(CLAIM)
    data = str(agent.volumes.root / "claims" / claim["metadata"]["uid"] / "data")

    async def mounts() -> tuple[Mount, ...] | None:
        running = [c for c in await engine.list_containers() if not is_sandbox(c)]
        return engine.mounts(running[0].id) if running else None

    await client.create(_pod("w1"))
    assert await eventually(mounts) == (Mount(target="C:\\data", source=data),)
    assert claims.selected_node(await client.get(claims.KIND, "win-data", "default")) == "win-vol"
    await client.delete("Pod", "w1", "default")
    await eventually(lambda: _absent(client, "Pod", "w1", "default"))
    await client.create(_pod("w2"))
    assert await eventually(mounts) == (Mount(target="C:\\data", source=data),)
