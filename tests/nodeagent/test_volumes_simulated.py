"""Pod volumes on simulated nodes: the agent's mounts reach the engine, which checks their
paths as Docker on that OS does (Windows: C:\\dir or a named pipe, no tmpfs)."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.base import ContainerSpec, Mount, StartError
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.sandbox import is_sandbox
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST
from tests.nodeagent.test_agent_simulated import MCR, windows_pod
from tests.nodeagent.test_volumes_docker import NS, PRIVILEGED_NS


@pytest.fixture
async def windows_node(client, tmp_path):
    engine = SimulatedEngine(build=20348, revision=2655, hostname="win-vol",
                             images=[f"{MCR}:ltsc2022"])
    agent = Agent(client, engine, "win-vol", facts=engine.host_facts(),
                  config=AgentConfig(**FAST, root_dir=str(tmp_path / "agent")))
    task = asyncio.create_task(agent.run())
    yield engine, agent
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_windows_pod_mounts_reach_the_engine(windows_node, client):
    """A Windows pod's emptyDir and hostPath are mounted at its C:\\ paths, read-only where
    asked; the emptyDir lives in the agent's directory."""
    engine, agent = windows_node
    await client.apply([PRIVILEGED_NS])
    pod = windows_pod("winvol", "win-vol", f"{MCR}:ltsc2022", "process")
    pod["metadata"]["namespace"] = NS
    pod["spec"]["os"] = {"name": "windows"}
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}},
                              {"name": "logs", "hostPath": {"path": "C:\\logs", "type": "Directory"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "scratch", "mountPath": "C:\\scratch"},
        {"name": "logs", "mountPath": "C:\\host-logs", "readOnly": True},
    ]
    created = await client.create(pod)

    async def mounts() -> tuple[Mount, ...] | None:
        running = [c for c in await engine.list_containers() if not is_sandbox(c)]
        return engine.mounts(running[0].id) if running else None

    scratch, logs = await eventually(mounts)
    uid = created["metadata"]["uid"]
    assert scratch == Mount(
        target="C:\\scratch",
        source=str(agent.volumes.pod_dir(uid) / "volumes" / "kubernetes.io~empty-dir" / "scratch"),
    )
    assert logs == Mount(target="C:\\host-logs", source="C:\\logs", read_only=True)


@pytest.mark.parametrize(
    "os_name, mount, refusal",
    [
        pytest.param("windows", Mount("/data", "/src"),
                     "invalid mount config for type \"bind\": invalid mount path: '/data' mount path must be absolute",
                     id="linux-path-on-windows"),
        pytest.param("windows", Mount("C:\\", "/src"),
                     "invalid mount config for type \"bind\": invalid mount path: 'C:\\' mount path must be absolute",
                     id="windows-drive-root"),
        pytest.param("windows", Mount("C:\\cache", type="tmpfs"),
                     'invalid mount config for type "tmpfs": mount type unknown', id="tmpfs-on-windows"),
        pytest.param("linux", Mount("C:\\data", "/src"),
                     "invalid mount config for type \"bind\": invalid mount path: 'C:\\data' mount path must be absolute",
                     id="windows-path-on-linux"),
    ],
)
async def test_engine_refuses_mount_paths_of_the_other_os(os_name, mount, refusal):
    """A container whose mount path is not of its host OS's form is refused in Docker's words
    (a pod placed by hand, past the API's checks, gets this reason)."""
    image = f"{MCR}:ltsc2022" if os_name == "windows" else "busybox:latest"
    engine = SimulatedEngine(os=os_name, images=[image])
    with pytest.raises(StartError) as e:
        await engine.create_and_start(ContainerSpec(name="c", image=image, mounts=(mount,)))
    assert e.value.message == refusal
    assert await engine.list_containers() == []


async def test_engine_accepts_mount_paths_of_its_os():
    """The forms each OS takes: /data on Linux; C:\\data, C:/data and named pipes on Windows."""
    win = SimulatedEngine(images=[f"{MCR}:ltsc2022"])
    for i, target in enumerate(("C:\\data", "c:/data", "\\\\.\\pipe\\docker_engine")):
        await win.create_and_start(ContainerSpec(name=f"w{i}", image=f"{MCR}:ltsc2022",
                                                 mounts=(Mount(target, "C:\\src"),)))
    linux = SimulatedEngine(os="linux", images=["busybox:latest"])
    await linux.create_and_start(ContainerSpec(name="l", image="busybox:latest",
                                               mounts=(Mount("/data", "/src"), Mount("/m", type="tmpfs"))))
    assert len(await win.list_containers()) == 3 and len(await linux.list_containers()) == 1


async def test_windows_pod_gets_configmap_files_and_secret_env(windows_node, client):
    """On a simulated Windows node a ConfigMap volume is written by the agent and mounted
    at its C:\\ path, read-only, and a Secret key reaches the container's environment."""
    engine, agent = windows_node
    await client.apply([PRIVILEGED_NS])
    await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "iis", "namespace": NS},
                         "data": {"web.config": "<configuration/>"}})
    await client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "iis", "namespace": NS},
                         "stringData": {"key": "k3y"}})
    pod = windows_pod("wincfg", "win-vol", f"{MCR}:ltsc2022", "process")
    pod["metadata"]["namespace"] = NS
    pod["spec"]["os"] = {"name": "windows"}
    pod["spec"]["volumes"] = [{"name": "conf", "configMap": {"name": "iis"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "conf", "mountPath": "C:\\inetpub\\conf"}]
    pod["spec"]["containers"][0]["env"] = [
        {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "iis", "key": "key"}}}]
    await client.create(pod)

    async def running() -> list | None:
        return [c for c in await engine.list_containers() if not is_sandbox(c)] or None

    [c] = await eventually(running)
    [mount] = engine.mounts(c.id)
    assert (mount.target, mount.read_only) == ("C:\\inetpub\\conf", True)
    with open(os.path.join(mount.source, "web.config")) as f:
        assert f.read() == "<configuration/>"
    assert engine.container_env(c.id)["KEY"] == "k3y"
