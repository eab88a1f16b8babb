"""Pod sandboxes and init containers on simulated nodes (hollow Windows builds and Linux),
through a real control plane and agent, and the simulated engine's own refusals of
Docker's container:<id> network mode, in Docker's words."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from typing import Any, AsyncIterator

import pytest

from mixfleet.mixctl.printers.podstatus import pod_status
from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.base import ContainerSpec, ContainerState, PortMapping, StartError
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.sandbox import PAUSE_IMAGE, is_sandbox, windows_sandbox_image
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST

NANO = "mcr.microsoft.com/windows/nanoserver"


def win_pod(name: str, node: str, *, isolation: str, apps: int = 2, init_script: str = "exit 0") -> dict:
    image = f"{NANO}:ltsc2022"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "binding": {"isolation": isolation},
            "initContainers": [{"name": "setup", "image": image, "command": ["cmd", "/c", init_script]}],
            "containers": [
                {"name": f"app{i}", "image": image, "command": ["ping", "-t", "localhost"],
                 "ports": [{"containerPort": 80 + i}]}
                for i in range(apps)
            ],
        },
    }


@contextlib.asynccontextmanager
async def hollow(client: Any, engine: SimulatedEngine, name: str) -> AsyncIterator[Agent]:
    agent = Agent(client, engine, name, facts=engine.host_facts(), config=AgentConfig(**FAST))
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _status(client: Any, name: str) -> dict:
    return (await client.get("Pod", name, "default")).get("status") or {}


async def _running(client: Any, name: str) -> dict | None:
    st = await _status(client, name)
    return st if st.get("phase") == "Running" and st.get("podIP") else None


async def test_windows_pod_shares_the_sandbox_network(client):
    """A process-isolated pod on a 20348 node: a nanoserver:ltsc2022 sandbox owns the pod IP
    (from the node's range) and the ports; the init container, then the app containers,
    join its network."""
    engine = SimulatedEngine(build=20348, hostname="win-sb", pod_cidr="10.244.7.0/24")
    async with hollow(client, engine, "win-sb"):
        await client.create(win_pod("winduo", "win-sb", isolation="process"))
        st = await eventually(lambda: _running(client, "winduo"))
    cs = await engine.list_containers()
    [box] = [c for c in cs if is_sandbox(c)]
    assert box.image == windows_sandbox_image(20348) == f"{NANO}:ltsc2022"
    assert st["podIP"] == box.ip and ipaddress.ip_address(box.ip) in engine.pod_cidr
    joined = [c for c in cs if not is_sandbox(c)]
    assert len(joined) == 3 and all(c.ip == "" for c in joined)
    assert st["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert [p.container_port for p in engine._containers[box.id].spec.ports] == [80, 81]


async def test_hyperv_pod_has_no_sandbox_and_its_own_address(client):
    """Docker cannot share a Hyper-V container's network: such a pod runs without a sandbox,
    each container with an address of its own, the pod's IP its container's (dockershim)."""
    engine = SimulatedEngine(build=20348, hyperv=True, hostname="win-hv")
    async with hollow(client, engine, "win-hv"):
        await client.create(win_pod("winhv", "win-hv", isolation="hyperv", apps=1))
        st = await eventually(lambda: _running(client, "winhv"))
        cs = await engine.list_containers()
    assert not any(is_sandbox(c) for c in cs)
    [app] = [c for c in cs if c.labels["mixfleet.io/container-name"] == "app0"]
    assert st["podIP"] == app.ip != ""


async def test_simulated_init_container_holds_the_pod_back(client):
    """On a hollow Linux node the pause image is made locally; an init container that keeps
    running shows Init:0/1 and no app container exists until it ends."""
    engine = SimulatedEngine(os="linux", hostname="lin-init", images=["mixfleet/busybox:latest"])
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "held", "namespace": "default"},
        "spec": {
            "nodeName": "lin-init",
            "initContainers": [{"name": "wait", "image": "mixfleet/busybox:latest", "command": ["sleep", "600"]}],
            "containers": [{"name": "app", "image": "mixfleet/busybox:latest", "command": ["sleep", "600"]}],
        },
    }
    async with hollow(client, engine, "lin-init"):
        await client.create(pod)

        async def init_running() -> dict | None:
            p = await client.get("Pod", "held", "default")
            inits = (p.get("status") or {}).get("initContainerStatuses") or [{}]
            return p if "running" in (inits[0].get("state") or {}) else None

        p = await eventually(init_running)
        assert pod_status(p) == "Init:0/1"
        assert await engine.image_present(PAUSE_IMAGE)
        [init] = [c for c in await engine.list_containers() if c.labels["mixfleet.io/container-name"] == "wait"]
        engine.crash(init.id, 0)  # the init container's work is done
        st = await eventually(lambda: _running(client, "held"))
    assert st["containerStatuses"][0]["state"].get("running")
    assert pod_status(await client.get("Pod", "held", "default")) == "Running"


def _spec(name: str, **kw: Any) -> ContainerSpec:
    return ContainerSpec(name=name, image=f"{NANO}:ltsc2022", labels={"t": name}, **kw)


async def _started(engine: SimulatedEngine, spec: ContainerSpec) -> ContainerState:
    cid = await engine.create_and_start(spec)
    [c] = [c for c in await engine.list_containers() if c.id == cid]
    return c


@pytest.mark.parametrize(
    "build, box_isolation, join_kw, refusal",
    [
        pytest.param(20348, "hyperv", {}, "sharing of hyperv containers network is not supported",
                     id="hyperv-network-not-shared"),
        pytest.param(20348, "process", {"ports": (PortMapping(80, 8080),)},
                     "conflicting options: port publishing and the container type network mode",
                     id="ports-on-joined-container"),
        pytest.param(14393, "process", {}, "not supported on Windows builds before 16299",
                     id="server-2016-has-no-shared-namespaces"),
    ],
)
async def test_engine_refuses_joins_docker_refuses(build, box_isolation, join_kw, refusal):
    """The simulated Windows engine refuses container:<id> where Docker does."""
    engine = SimulatedEngine(build=build, hyperv=True, images=[f"{NANO}:ltsc2022"])
    if build == 14393:
        box = ContainerState(id="x" * 64, name="box", labels={}, image="", state=None)  # type: ignore[arg-type]
    else:
        box = await _started(engine, _spec("box", isolation=box_isolation))
    with pytest.raises(StartError) as e:
        await engine.create_and_start(_spec("app", isolation="process", network_mode=f"container:{box.id}", **join_kw))
    assert refusal in e.value.message
    assert not any(c.name == "app" for c in await engine.list_containers())


async def test_engine_join_needs_a_running_container():
    """Joining a stopped container's network is refused as Docker words it; a joined
    container has no address of its own, and a stopped one gives its address back."""
    engine = SimulatedEngine(build=20348, images=[f"{NANO}:ltsc2022"])
    box = await _started(engine, _spec("box", isolation="process"))
    app = await _started(engine, _spec("app", isolation="process", network_mode=f"container:{box.id}"))
    assert box.ip and app.ip == ""
    await engine.stop(box.id, 0)
    with pytest.raises(StartError) as e:
        await engine.create_and_start(_spec("late", isolation="process", network_mode=f"container:{box.id}"))
    assert e.value.message == f"cannot join network of a non running container: {box.id}"
    [stopped] = [c for c in await engine.list_containers() if c.id == box.id]
    assert stopped.ip == ""
