"""Probes and hooks on a simulated node, through the same prober, plan and events as on
Docker: a simulated container told to fail its health endpoint is restarted (or, with
restartPolicy Never, left failed); gRPC readiness follows the service's status; a failed
postStart hook kills the container with a FailedPostStartHook event."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST
from tests.nodeagent.test_node_events import _events

IMAGE = "mixfleet/busybox:latest"


@pytest.fixture
async def sim(client):
    engine = SimulatedEngine(os="linux", hostname="sim-1", images=[IMAGE])
    agent = Agent(client, engine, "sim-1", facts=engine.host_facts(), config=AgentConfig(**FAST))
    task = asyncio.create_task(agent.run())
    yield engine
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _pod(name: str, restart: str = "Always", **container: Any) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": "sim-1", "restartPolicy": restart,
                 "containers": [{"name": "app", "image": IMAGE, "command": ["sleep", "600"], **container}]},
    }


async def _status(client: Any, name: str) -> dict:
    return (await client.get("Pod", name, "default")).get("status") or {}


async def _cs(client: Any, name: str) -> dict:
    return ((await _status(client, name)).get("containerStatuses") or [{}])[0]


LIVE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}


async def test_failing_health_endpoint_restarts_the_container(sim, client):
    """/healthz answering 500 kills and restarts the container with an Unhealthy event."""
    await client.create(_pod("web", livenessProbe=LIVE))

    async def probed() -> bool:
        return sim.network_probes >= 2

    await eventually(probed)
    assert (await _cs(client, "web"))["restartCount"] == 0
    sim.http_codes["/healthz"] = 500

    async def restarted() -> bool:
        return (await _cs(client, "web")).get("restartCount", 0) >= 1

    await eventually(restarted)
    sim.http_codes.clear()
    messages = {e["message"] for e in await _events(client, "web")}
    assert "Liveness probe failed: HTTP probe failed with statuscode: 500" in messages
    assert "Container app failed liveness probe, will be restarted" in messages


async def test_liveness_failure_with_restart_never_leaves_it_failed(sim, client):
    """restartPolicy Never: the container is killed, not restarted; the pod ends."""
    sim.closed_ports.add(8080)
    try:
        await client.create(_pod("once", restart="Never", livenessProbe=LIVE))

        async def ended() -> dict | None:
            st = await _status(client, "once")
            return st if st.get("phase") in ("Succeeded", "Failed") else None

        st = await eventually(ended)
        assert st["containerStatuses"][0]["restartCount"] == 0
        assert "terminated" in st["containerStatuses"][0]["state"]
    finally:
        sim.closed_ports.discard(8080)


async def test_grpc_readiness_follows_the_service(sim, client):
    """A grpc readiness probe: not ready while the service is NOT_SERVING, ready after."""
    sim.grpc_status["db"] = "NOT_SERVING"
    await client.create(_pod("db", readinessProbe={"grpc": {"port": 9090, "service": "db"}, "periodSeconds": 1}))

    async def probed() -> bool:
        return sim.network_probes >= 2

    await eventually(probed)
    assert (await _cs(client, "db"))["ready"] is False
    sim.grpc_status["db"] = "SERVING"

    async def ready() -> bool:
        return (await _cs(client, "db")).get("ready") is True

    await eventually(ready)
    messages = {e["message"] for e in await _events(client, "db")}
    assert 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")' in messages


async def test_failed_post_start_hook_kills_the_container(sim, client):
    """A postStart hook that fails: FailedPostStartHook, Killing, and a restart."""
    await client.create(_pod("hooked", lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "exit 3"]}}}))

    async def restarted() -> bool:
        return (await _cs(client, "hooked")).get("restartCount", 0) >= 1

    await eventually(restarted)
    evs = {e["reason"]: e for e in await _events(client, "hooked")}
    assert evs["FailedPostStartHook"]["message"].startswith(
        "Exec lifecycle hook ([sh -c exit 3]) for Container \"app\" in Pod \"hooked_default(")
    assert evs["Killing"]["message"] == "FailedPostStartHook"


async def test_liveness_kill_restarts_under_on_failure_whatever_the_exit_code(sim, client):
    """restartPolicy OnFailure: a container killed by its liveness probe is restarted even
    though it exited 0 on the stop signal (simulated containers do), as the kubelet does."""
    sim.http_codes["/healthz"] = 500
    try:
        await client.create(_pod("onf", restart="OnFailure", livenessProbe=LIVE))

        async def restarted() -> bool:
            return (await _cs(client, "onf")).get("restartCount", 0) >= 1

        await eventually(restarted)
    finally:
        sim.http_codes.clear()
