"""Readiness probes and prompt exit detection, end to end: a real control plane and an agent
over a real dockerd or the simulated engine. The resync is set far beyond every polling
deadline, so only probe results and engine events can explain what the tests observe."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.base import RunState
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.sandbox import is_sandbox
from mixfleet.nodeagent.podspec import LABEL_POD_UID, MANAGED
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST, IMAGE, harness, pod  # noqa: F401  (fixture)

QUIET = dict(resync_seconds=300.0)  # no periodic pass within any deadline below
DEADLINE = 30.0


def probed(name: str, node: str, script: str, command: list[str]) -> dict:
    p = pod(name, node, script)
    p["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": command},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    return p


async def _status(client: Any, name: str) -> dict:
    return (await client.get("Pod", name, "default")).get("status") or {}


def _ready(st: dict) -> tuple[str, bool | None, str | None]:
    """(phase, container ready, Ready condition) as a user reads them."""
    cs = (st.get("containerStatuses") or [{}])[0]
    conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
    return st.get("phase", ""), cs.get("ready"), conds.get("Ready")


async def _until_ready(client: Any, name: str, ready: bool) -> dict:
    async def check() -> dict | None:
        st = await _status(client, name)
        want = ("Running", ready, "True" if ready else "False")
        running = "running" in ((st.get("containerStatuses") or [{}])[0].get("state") or {})
        return st if running and _ready(st) == want else None

    return await eventually(check, timeout=DEADLINE)


async def _terminated(client: Any, name: str) -> dict | None:
    st = await _status(client, name)
    cs = (st.get("containerStatuses") or [{}])[0]
    return (cs.get("state") or {}).get("terminated")


@pytest.mark.docker
async def test_probe_gates_readiness_on_docker(harness, client, dockerd):  # noqa: F811
    """Running but not Ready while the probe fails; Ready once the file exists; not Ready
    again when it is removed."""
    await harness.start(**QUIET)
    created = await client.create(
        probed("gated", harness.node, "sleep 600", ["test", "-f", "/tmp/ready"])
    )
    await _until_ready(client, "gated", False)
    [c] = await harness.containers(created["metadata"]["uid"])
    container = dockerd.client.containers.get(c.id)
    assert container.exec_run(["sh", "-c", "touch /tmp/ready"]).exit_code == 0
    await _until_ready(client, "gated", True)
    assert container.exec_run(["rm", "/tmp/ready"]).exit_code == 0
    await _until_ready(client, "gated", False)


@pytest.mark.docker
async def test_container_that_becomes_ready_by_itself(harness, client):  # noqa: F811
    """A container whose own command creates the probed file turns Ready without help."""
    await harness.start(**QUIET)
    await client.create(
        probed("self", harness.node, "sleep 1; touch /tmp/ready; sleep 600", ["cat", "/tmp/ready"])
    )
    await _until_ready(client, "self", True)


@pytest.mark.docker
async def test_crash_reported_from_engine_events(harness, client):  # noqa: F811
    """A container that exits is reported with its exit code long before any resync."""
    await harness.start(**QUIET)
    await client.create(pod("dies", harness.node, "sleep 2; exit 7", restart="Never"))
    terminated = await eventually(lambda: _terminated(client, "dies"), timeout=DEADLINE)
    assert terminated["exitCode"] == 7
    assert (await _status(client, "dies"))["phase"] == "Failed"


@pytest.fixture
async def hollow_linux(client):
    engine = SimulatedEngine(os="linux", hostname="sim-probe", images=[IMAGE])
    agent = Agent(
        client, engine, "sim-probe", facts=engine.host_facts(), config=AgentConfig(**{**FAST, **QUIET})
    )
    task = asyncio.create_task(agent.run())
    yield agent, engine
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_simulated_probe_flips_readiness(hollow_linux, client):
    """On a hollow node a failing probe keeps the pod unready until its command succeeds."""
    _, engine = hollow_linux
    engine.exec_codes["cat /tmp/ready"] = 1
    await client.create(probed("sim", "sim-probe", "sleep 600", ["cat", "/tmp/ready"]))
    await _until_ready(client, "sim", False)
    engine.exec_codes["cat /tmp/ready"] = 0
    await _until_ready(client, "sim", True)


async def test_simulated_crash_reported_from_events(hollow_linux, client):
    """A hollow container that dies is reported at once, from the engine's own events."""
    _, engine = hollow_linux
    created = await client.create(pod("simdies", "sim-probe", "sleep 600", restart="Never"))
    await eventually(lambda: _running_container(engine, created["metadata"]["uid"]))
    await eventually(lambda: _phase(client, "simdies", "Running"))
    [c] = [
        c for c in await engine.list_containers({**MANAGED, LABEL_POD_UID: created["metadata"]["uid"]})
        if not is_sandbox(c)
    ]
    engine.crash(c.id, 9)
    terminated = await eventually(lambda: _terminated(client, "simdies"), timeout=DEADLINE)
    assert terminated["exitCode"] == 9


async def _running_container(engine: SimulatedEngine, uid: str) -> bool:
    cs = await engine.list_containers({**MANAGED, LABEL_POD_UID: uid})
    return any(c.state is RunState.RUNNING for c in cs)


async def _phase(client: Any, name: str, phase: str) -> bool:
    return (await _status(client, name)).get("phase") == phase
