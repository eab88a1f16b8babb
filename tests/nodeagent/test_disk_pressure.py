"""A node agent whose data directory's disk fills up reports DiskPressure=True (naming the
path), the scheduler places no new pod there, and once space is back the condition clears
and the waiting pod is placed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mixfleet.client import Client, NotFoundError
from tests.controllers.agents import FAST_AGENT
from tests.controllers.conftest import eventually
from tests.fixtures.smallfs import fill


def _condition(node: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (node.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "mixfleet/busybox:latest",
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }


async def test_full_data_disk_sets_disk_pressure_and_keeps_pods_away(client: Client, small_fs: Path) -> None:
    """Fill the agent's data directory (a small tmpfs): DiskPressure goes True with the
    path in its message, a new pod stays Pending with "node has disk pressure"; free the
    space: DiskPressure goes False and the pod is bound to the node."""
    from mixfleet.nodeagent.agent import Agent, AgentConfig
    from mixfleet.nodeagent.engines.simulated import SimulatedEngine

    engine = SimulatedEngine(os="linux", hostname="disky", cpu=8)
    config = AgentConfig(**FAST_AGENT, disk_paths=(str(small_fs),))  # type: ignore[arg-type]
    agent = asyncio.create_task(Agent(client, engine, "disky", facts=engine.host_facts(), config=config).run())

    async def disk_pressure(status: str) -> dict[str, Any] | None:
        try:
            node = await client.get("Node", "disky")
        except NotFoundError:
            return None
        cond = _condition(node, "DiskPressure")
        return cond if cond and cond["status"] == status else None

    try:
        await eventually(lambda: disk_pressure("False"), what="the node without disk pressure")
        filler = small_fs / "filler"
        fill(filler)
        cond = await eventually(lambda: disk_pressure("True"), what="DiskPressure=True")
        assert str(small_fs) in cond["message"] and "free of" in cond["message"]

        await client.create(_pod("waits"))

        async def refused() -> dict[str, Any] | None:
            pod = await client.get("Pod", "waits")
            cond = _condition(pod, "PodScheduled")
            return cond if cond and cond["status"] == "False" else None

        cond = await eventually(refused, what="the pod refused by the scheduler")
        assert cond["message"] == "0/1 nodes are available: 1 node has disk pressure."
        assert not (await client.get("Pod", "waits"))["spec"].get("nodeName")

        filler.unlink()
        await eventually(lambda: disk_pressure("False"), what="DiskPressure=False again")

        async def bound() -> str | None:
            return (await client.get("Pod", "waits"))["spec"].get("nodeName")

        assert await eventually(bound, what="the pod bound once space is back") == "disky"
    finally:
        agent.cancel()
        await asyncio.gather(agent, return_exceptions=True)


def test_disk_report_names_the_short_path_and_skips_absent_ones(tmp_path: Path) -> None:
    """Only existing paths count; the message names the path under the threshold."""
    from mixfleet.nodeagent.facts.disk import disk_report

    assert not disk_report([str(tmp_path), "/no/such/dir"]).pressure
    report = disk_report([str(tmp_path / "absent"), str(tmp_path)], min_free_fraction=1.0)
    assert report.pressure and report.message.startswith(f"{tmp_path}: ") and "under 100%" in report.message


def test_engine_data_root_is_read_from_docker_info() -> None:
    """Docker's DockerRootDir is the data root whose disk the agent watches."""
    from mixfleet.nodeagent.facts import parse_docker_info

    assert parse_docker_info({"OSType": "linux", "DockerRootDir": "/var/lib/docker"}).data_root == "/var/lib/docker"
