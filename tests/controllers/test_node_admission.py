"""Pods bound by hand (``spec.nodeName`` set by the user, so the scheduler never saw them) are
checked by the node's agent before anything starts, on a real control plane (embedded
store) with a real agent on a simulated Linux engine (8 CPUs, 16 GiB): one the node cannot
run is Failed with the reason in its status, for `mixctl` and events to show."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from mixfleet.client import Client
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import eventually, run_mixctl

NODE = "adm-linux"


@pytest.fixture
async def node(client: Client) -> AsyncIterator[SimulatedNode]:
    started = await SimulatedNode(client, NODE).start()
    await eventually(lambda: _exists(client), what=f"{NODE} registered")
    yield started
    await started.stop()


async def _exists(client: Client) -> bool:
    nodes, _ = await client.list("Node")
    return any(n["metadata"]["name"] == NODE for n in nodes)


def bound_pod(name: str, *, cpu: str = "100m", os: str | None = None,
              image: str = "busybox:latest") -> dict:
    spec: dict = {
        "nodeName": NODE,
        "containers": [{"name": "app", "image": image, "command": ["sleep", "3600"],
                        "resources": {"requests": {"cpu": cpu}}}],
    }
    if os:
        spec["os"] = {"name": os}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


async def _status_if(client: Client, name: str, phase: str) -> dict | None:
    pod = await client.get("Pod", name, "default")
    st = pod.get("status") or {}
    return pod if st.get("phase") == phase else None


async def _event(client: Client, pod: str, reason: str) -> dict | None:
    events, _ = await client.list("Event")
    return next((e for e in events if e["involvedObject"]["name"] == pod
                 and e["reason"] == reason), None)


async def test_windows_pod_bound_to_linux_node_fails_with_reason(
    client: Client, controlplane: object, node: SimulatedNode
) -> None:
    """A Windows pod whose nodeName is a Linux node is Failed, reason NodeAffinity, with a
    message naming the node and both OSes, shown by `mixctl get pods` and `describe`; no
    container is started for it, and nothing rebinds it elsewhere."""
    await client.create(bound_pod("win-on-linux", os="windows",
                                  image="mcr.microsoft.com/windows/nanoserver:ltsc2022"))
    pod = await eventually(lambda: _status_if(client, "win-on-linux", "Failed"),
                           what="the pod Failed")
    st = pod["status"]
    assert st["reason"] == "NodeAffinity"
    assert st["message"] == f"Pod was rejected: node {NODE}: node OS is linux, pod needs windows"
    assert pod["spec"]["nodeName"] == NODE
    assert pod["metadata"]["uid"] not in await node.pod_uids()
    assert await eventually(lambda: _event(client, "win-on-linux", "NodeAffinity"),
                            what="a NodeAffinity event")
    server = controlplane.address  # type: ignore[attr-defined]
    table = await run_mixctl(server, "get", "pods")
    row = next(line for line in table.splitlines() if line.startswith("win-on-linux"))
    assert "NodeAffinity" in row.split()
    described = await run_mixctl(server, "describe", "pod", "win-on-linux")
    assert "node OS is linux, pod needs windows" in described


async def test_pod_requesting_more_cpu_than_the_node_fails_out_of_cpu(
    client: Client, node: SimulatedNode
) -> None:
    """Requests are summed over the pods the node admitted: a 5-CPU pod runs on the 8-CPU
    node, a second 5-CPU pod is Failed OutOfcpu, and so is one asking for 16 CPUs alone."""
    await client.create(bound_pod("first", cpu="5"))
    await eventually(lambda: _status_if(client, "first", "Running"), what="first Running")
    await client.create(bound_pod("second", cpu="5"))
    await client.create(bound_pod("huge", cpu="16"))
    second = await eventually(lambda: _status_if(client, "second", "Failed"), what="second Failed")
    huge = await eventually(lambda: _status_if(client, "huge", "Failed"), what="huge Failed")
    assert second["status"]["reason"] == huge["status"]["reason"] == "OutOfcpu"
    assert second["status"]["message"] == (
        f"Pod was rejected: node {NODE} didn't have enough resource: cpu, "
        "requested: 5000m, used: 5000m, capacity: 8000m")
    assert "requested: 16000m, used: 5000m" in huge["status"]["message"]
    running = await node.pod_uids()
    assert second["metadata"]["uid"] not in running and huge["metadata"]["uid"] not in running
    assert (await client.get("Pod", "first", "default"))["status"]["phase"] == "Running"
