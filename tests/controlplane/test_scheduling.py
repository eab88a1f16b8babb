"""The scheduler loop inside a real control plane: pending pods get bound to hosts that can
run them, with the isolation chosen, or are refused with an explanation."""

from __future__ import annotations

import asyncio
from typing import Any

from mixfleet.client import Client
from tests.scheduler.builders import make_node


def windows_pod(name: str, *, os_version: str, isolation: str = "auto") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": ""},
        "spec": {
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "platform": {"os": "windows", "isolation": isolation, "osVersion": os_version},
            "containers": [
                {
                    "name": "app",
                    "image": "mcr.microsoft.com/windows/servercore:ltsc",
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                }
            ],
        },
    }


def linux_pod(name: str, *, cpu: str = "100m") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "app", "image": "mixfleet/busybox:latest",
                 "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}
            ]
        },
    }


async def _create_nodes(client: Client, *nodes: dict[str, Any]) -> None:
    for n in nodes:
        n["metadata"].pop("uid", None)
        await client.create(n)


async def _wait_for(client: Client, name: str, predicate, timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pod = await client.get("pods", name)
        if predicate(pod):
            return pod
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"pod {name} never reached the expected state: {pod}")
        await asyncio.sleep(0.05)


def _bound(pod: dict[str, Any]) -> bool:
    return bool(pod["spec"].get("nodeName"))


def _refused(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "PodScheduled" and c["status"] == "False" for c in conds)


async def test_pods_land_on_hosts_that_can_run_them(client: Client) -> None:
    """Linux, Windows process and Windows Hyper-V pods each land where they can run."""
    await _create_nodes(
        client,
        make_node("lin-1").linux().obj(),
        make_node("win-17763").windows(build=17763).obj(),
        make_node("win-20348").windows(build=20348).obj(),
        make_node("win-26100-hv").windows(build=26100).hyperv().obj(),
    )
    await client.apply([
        linux_pod("l-0"),
        windows_pod("w2019", os_version="10.0.17763.5000"),
        windows_pod("w2022", os_version="10.0.20348.2655", isolation="process"),
        windows_pod("w2019-hv", os_version="10.0.17763.5000", isolation="hyperv"),
    ])
    lin = await _wait_for(client, "l-0", _bound)
    w2019 = await _wait_for(client, "w2019", _bound)
    w2022 = await _wait_for(client, "w2022", _bound)
    hv = await _wait_for(client, "w2019-hv", _bound)
    assert lin["spec"]["nodeName"] == "lin-1"
    assert (w2019["spec"]["nodeName"], w2019["spec"]["binding"]["isolation"]) == ("win-17763", "process")
    assert w2022["spec"]["nodeName"] in ("win-20348", "win-26100-hv")
    assert (hv["spec"]["nodeName"], hv["spec"]["binding"]["isolation"]) == ("win-26100-hv", "hyperv")


async def test_impossible_pod_is_refused_with_explanation_and_event(client: Client) -> None:
    """A pod no node can run stays Pending with PodScheduled=False and a summed-up reason."""
    await _create_nodes(
        client,
        make_node("lin-1").linux().obj(),
        make_node("win-17763").windows(build=17763).obj(),
    )
    await client.apply([windows_pod("w2022", os_version="10.0.20348.2655", isolation="process")])
    # The node and pod watches are separate streams: the first verdict may predate a node.
    pod = await _wait_for(client, "w2022", lambda p: _refused(p) and "0/2 nodes" in str(p["status"]))
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"].startswith("0/2 nodes are available: ")
    assert "17763" in cond["message"] and "20348" in cond["message"]
    for _ in range(100):  # the event is written just after the status
        events, _ = await client.list("events", field_selector="involvedObject.name=w2022")
        if cond["message"] in [e["message"] for e in events]:
            break
        await asyncio.sleep(0.05)
    assert {e["reason"] for e in events} == {"FailedScheduling"}
    assert cond["message"] in [e["message"] for e in events]


async def test_waiting_pod_is_bound_when_a_node_arrives(client: Client) -> None:
    """A refused pod is retried when the cluster changes, and then bound."""
    await _create_nodes(client, make_node("lin-1").linux().obj())
    await client.apply([windows_pod("w", os_version="10.0.20348.2655")])
    await _wait_for(client, "w", _refused)
    await _create_nodes(client, make_node("win-20348").windows(build=20348).obj())
    pod = await _wait_for(client, "w", _bound)
    assert pod["spec"]["nodeName"] == "win-20348"


async def test_binpack_fills_one_node_before_the_next(client: Client) -> None:
    """With the default binpack strategy, small pods share the fullest node."""
    await _create_nodes(
        client,
        make_node("lin-a").linux().cpu("4").memory("8Gi").obj(),
        make_node("lin-b").linux().cpu("4").memory("8Gi").obj(),
    )
    await client.apply([linux_pod(f"p-{i}", cpu="500m") for i in range(6)])
    nodes = {(await _wait_for(client, f"p-{i}", _bound))["spec"]["nodeName"] for i in range(6)}
    assert len(nodes) == 1


def _prebound(name: str, node: str, *, cpu: str) -> dict[str, Any]:
    pod = linux_pod(name, cpu=cpu)
    pod["spec"]["nodeName"] = node
    return pod


async def test_pod_bound_by_another_writer_is_counted_before_the_next_placement(client: Client) -> None:
    """A pod written with spec.nodeName already set takes its node's capacity: the next
    pending pod that no longer fits there is refused for insufficient cpu."""
    await _create_nodes(client, make_node("lin-1").linux().cpu("2").memory("8Gi").obj())
    await client.apply([linux_pod("first", cpu="100m")])
    await _wait_for(client, "first", _bound)  # the scheduler's snapshot is live from here
    await client.create(_prebound("other-writer", "lin-1", cpu="1500m"))
    await client.apply([linux_pod("late", cpu="1")])
    pod = await _wait_for(client, "late", _refused)
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["message"] == "0/1 nodes are available: 1 insufficient cpu."
    await client.delete("pods", "other-writer", grace_period_seconds=0)
    pod = await _wait_for(client, "late", _bound)
    assert pod["spec"]["nodeName"] == "lin-1"
