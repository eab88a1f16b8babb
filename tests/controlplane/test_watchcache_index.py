"""The watch cache's index of node-pinned watchers (spec.nodeName=<node>): a pod change
reaches the agents it concerns, including the moment a pod is bound, and watchers whose
selector does not pin a node still see every change."""

from __future__ import annotations

import asyncio

import pytest

from mixfleet.client import Client
from mixfleet.controlplane.registry import ObjectFilter


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": "none", "containers": [{"name": "c", "image": "busybox"}]}}


async def _collect(client: Client, n: int, **kw) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    async for ev in client.watch("pods", **kw):
        out.append((ev.type, ev.object["metadata"]["name"], ev.object["spec"].get("nodeName", "")))
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize(
    ("selector", "value"),
    [
        pytest.param("spec.nodeName=n1", "n1", id="pinned"),
        pytest.param("spec.nodeName=n1,metadata.namespace=default", "n1", id="pinned-among-others"),
        pytest.param("spec.nodeName!=n1", None, id="negated-not-pinned"),
        pytest.param("metadata.name=a", None, id="other-field"),
        pytest.param("", None, id="none"),
    ],
)
def test_required_value_names_only_an_equality_on_the_field(selector: str, value: str | None) -> None:
    """Only an equality term on spec.nodeName pins a watcher to a node."""
    assert ObjectFilter("", selector).required_value("spec.nodeName") == value


async def test_bound_pod_reaches_its_node_watcher_and_unpinned_watchers_see_all(client: Client) -> None:
    """An agent's watch sees a pod appear when it is bound there, and only its own pods; an
    unpinned watch (spec.nodeName!=n1) still sees the pods of every other node."""
    mine = asyncio.create_task(_collect(client, 2, field_selector="spec.nodeName=n1"))
    others = asyncio.create_task(_collect(client, 3, field_selector="spec.nodeName!=n1"))
    await asyncio.sleep(0.5)
    for name in ("a", "b"):
        await client.create(_pod(name))
    for name, node in (("b", "n2"), ("a", "n1")):
        pod = await client.get("pods", name)
        pod["spec"]["nodeName"] = node
        await client.update(pod)
    await client.delete("pods", "a", grace_period_seconds=0)
    assert await asyncio.wait_for(mine, 10) == [("ADDED", "a", "n1"), ("DELETED", "a", "n1")]
    assert await asyncio.wait_for(others, 10) == [
        ("ADDED", "a", ""), ("ADDED", "b", ""), ("MODIFIED", "b", "n2")]
