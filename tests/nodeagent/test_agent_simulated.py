"""The node agent over the simulated engine (a hollow Windows node) and a real control plane."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST, _get

MCR = "mcr.microsoft.com/windows/servercore"


def windows_pod(name: str, node: str, image: str, isolation: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "binding": {"isolation": isolation, "images": {"app": image}},
            "tolerations": [
                {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}
            ],
            "containers": [{"name": "app", "image": image, "command": ["ping", "-t", "localhost"]}],
        },
    }


@pytest.fixture
async def hollow(client):
    engine = SimulatedEngine(
        build=20348, revision=2655, hyperv=True, hostname="win-20348", images=[f"{MCR}:ltsc2019"]
    )
    agent = Agent(
        client, engine, "win-20348", facts=engine.host_facts(), config=AgentConfig(**FAST)
    )
    task = asyncio.create_task(agent.run())
    yield agent
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _phase(client: Any, name: str, phase: str) -> dict | None:
    st = (await client.get("Pod", name, "default")).get("status") or {}
    return st if st.get("phase") == phase and st.get("containerStatuses") else None


async def test_hollow_windows_node_registers_its_facts(hollow, client):
    """A simulated Windows node publishes its build, edition and isolation modes."""
    node = await eventually(lambda: _get(client, "Node", "win-20348"))
    assert node["metadata"]["labels"]["node.kubernetes.io/windows-build"] == "10.0.20348"
    assert node["status"]["platform"]["isolationModes"] == ["process", "hyperv"]
    assert node["status"]["platform"]["simulated"] is True


@pytest.mark.parametrize(
    "image, reason, text",
    [
        pytest.param(
            f"{MCR}:ltsc2019",
            "RunContainerError",
            "The container operating system does not match the host operating system. (0xc0370101)",
            id="process-older-build-hcs-refusal",
        ),
        pytest.param(
            f"{MCR}:ltsc2025",
            "ErrImagePull",
            "a Windows version 10.0.26100-based image is incompatible with a 10.0.20348 host",
            id="newer-build-pull-refusal",
        ),
    ],
)
async def test_build_mismatch_reported_in_engine_words(hollow, client, image, reason, text):
    """A pod the host cannot run stays Pending and says why, in the engine's own words."""
    await client.create(windows_pod("mismatch", "win-20348", image, "process"))
    st = await eventually(lambda: _message(client, "mismatch"))
    assert st["phase"] == "Pending"
    assert st["reason"] == reason and text in st["message"]
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == reason


async def test_hyperv_runs_older_image(hollow, client):
    """Hyper-V isolation runs an image the host has; status reports the isolation used."""
    await client.create(windows_pod("vm", "win-20348", f"{MCR}:ltsc2019", "hyperv"))
    st = await eventually(lambda: _phase(client, "vm", "Running"))
    assert st["isolation"] == "hyperv"


async def test_node_not_rewritten_when_nothing_changed(hollow, client):
    """Refreshing facts that did not change leaves the Node object as it was."""
    before = await eventually(lambda: _get(client, "Node", "win-20348"))
    await hollow.refresh_node()
    await hollow.refresh_node()
    after = await client.get("Node", "win-20348")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


async def _message(client: Any, name: str) -> dict | None:
    st = (await client.get("Pod", name, "default")).get("status") or {}
    return st if st.get("message") else None


async def test_agent_stops_when_cancelled_as_it_is_woken(client):
    """Stopping an agent at the moment something wakes it (a pod worker finishing, a
    container event) ends it: on Python 3.11 a timed wait could swallow that cancellation
    and the agent ran on, retrying pulls, while its owner waited for it forever."""
    engine = SimulatedEngine(build=20348, revision=2655, hyperv=True, hostname="win-20348")
    for _ in range(3):
        agent = Agent(
            client, engine, "win-20348", facts=engine.host_facts(), config=AgentConfig(**FAST)
        )
        task = asyncio.create_task(agent.run())
        await eventually(lambda: _passed(agent))
        await asyncio.sleep(0.05)  # every loop now waits to be woken
        agent.wake()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=10.0)
        assert done, "the agent ignored its cancellation"


async def _passed(agent: Agent) -> bool:
    return agent.passes > 0


def user_bound(name: str, image: str, isolation: str) -> dict:
    """A Windows pod a user bound by hand: spec.nodeName, no scheduler's spec.binding."""
    pod = windows_pod(name, "win-20348", image, isolation)
    del pod["spec"]["binding"]
    pod["spec"]["os"] = {"name": "windows"}
    pod["spec"]["platform"] = {"isolation": isolation}
    return pod


async def test_user_bound_auto_pod_runs_older_image_with_hyperv(hollow, client):
    """A hand-bound pod with isolation auto and an older image is admitted with Hyper-V,
    as the scheduler would have chosen on this host, and runs so."""
    await client.create(user_bound("auto-old", f"{MCR}:ltsc2019", "auto"))
    st = await eventually(lambda: _phase(client, "auto-old", "Running"))
    assert st["isolation"] == "hyperv"


async def test_user_bound_process_pod_of_older_build_is_rejected(hollow, client):
    """A hand-bound process-isolated pod whose image build the host cannot run is Failed
    (reason WindowsBuild) before any pull or start, saying which builds."""
    await client.create(user_bound("proc-old", f"{MCR}:ltsc2019", "process"))
    st = await eventually(lambda: _failed(client, "proc-old"))
    assert st["reason"] == "WindowsBuild"
    assert st["message"] == ("Pod was rejected: node win-20348: host build 20348 cannot run "
                             "image build 17763 with process isolation")
    assert not st.get("containerStatuses")


async def _failed(client: Any, name: str) -> dict | None:
    st = (await client.get("Pod", name, "default")).get("status") or {}
    return st if st.get("phase") == "Failed" else None


async def test_restarted_agent_keeps_a_hand_bound_pod_running_as_it_was(client):
    """A restarted agent adopts the Hyper-V container admission chose for a hand-bound pod
    instead of recreating it (its spec, isolation included, is decided the same again)."""
    engine = SimulatedEngine(build=20348, revision=2655, hyperv=True, hostname="win-20348",
                             images=[f"{MCR}:ltsc2019"])
    ids = []
    for _ in range(2):
        agent = Agent(client, engine, "win-20348", facts=engine.host_facts(),
                      config=AgentConfig(**FAST))
        task = asyncio.create_task(agent.run())
        if not ids:
            await client.create(user_bound("kept", f"{MCR}:ltsc2019", "auto"))
        await eventually(lambda: _phase(client, "kept", "Running"))
        await eventually(lambda: _passed_twice(agent))
        ids.append(sorted(c.id for c in await engine.list_containers()))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(ids[0]) == 1 and ids[1] == ids[0]


async def _passed_twice(agent: Agent) -> bool:
    return agent.passes >= 2


async def test_hand_bound_pod_image_change_is_admitted_again(hollow, client):
    """Changing a hand-bound auto pod's image to an older build re-decides its isolation:
    the new container runs with Hyper-V instead of the process isolation chosen before."""
    await client.create(user_bound("swap", f"{MCR}:ltsc2022", "auto"))
    st = await eventually(lambda: _phase(client, "swap", "Running"))
    assert st["isolation"] == "process"
    pod = await client.get("Pod", "swap", "default")
    pod["spec"]["containers"][0]["image"] = f"{MCR}:ltsc2019"
    await client.update(pod)
    st = await eventually(lambda: _running_image(client, "swap", f"{MCR}:ltsc2019"))
    assert st["isolation"] == "hyperv"


async def _running_image(client: Any, name: str, image: str) -> dict | None:
    st = await _phase(client, name, "Running")
    if st and st["containerStatuses"][0]["image"] == image and "running" in st["containerStatuses"][0]["state"]:
        return st
    return None
