"""`mixctl drain`: cordon, then evict within each Deployment's availability budget."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import pytest

from mixfleet.api import pods as P
from mixfleet.client import Client
from mixfleet.mixctl.commands.drain import drain
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import (
    deployment,
    eventually,
    run_mixctl,
    track_min_available,
)

pytestmark = pytest.mark.etcd


@pytest.fixture
async def nodes(etcd_client: Client) -> AsyncIterator[list[SimulatedNode]]:
    started = [await SimulatedNode(etcd_client, n).start() for n in ("dr-a", "dr-b")]
    yield started
    for node in started:
        await node.stop()


async def _available(client: Client, app: str) -> list[dict]:
    pods, _ = await client.list("Pod")
    return [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == app
            and P.is_available(p)]


async def test_drain_moves_pods_within_the_budget(
    etcd_client: Client, etcd_controlplane: object, nodes: list[SimulatedNode]
) -> None:
    """All pods leave the drained node, never more than maxUnavailable at a time, and a pod
    no controller owns blocks the drain unless forced."""
    await etcd_client.create(deployment("dr", replicas=3, image="busybox:latest", max_unavailable=1))
    pods = await eventually(lambda: _n_available(etcd_client, "dr", 3), what="3 pods")
    node = pods[0]["spec"]["nodeName"]
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:latest"}]}}
    await etcd_client.create(bare)
    out = await run_mixctl(etcd_controlplane.address, "drain", node, expect=1)  # type: ignore[attr-defined]
    assert "use --force" in out and "default/bare" in out

    low = [3]
    watcher = asyncio.create_task(track_min_available(etcd_client, "dr", low))
    await asyncio.sleep(0.2)
    said: list[str] = []
    await asyncio.wait_for(drain(etcd_client, node, force=True, emit=said.append), 60)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    left, _ = await etcd_client.list("Pod")
    assert [p for p in left if p["spec"].get("nodeName") == node] == []
    assert (await etcd_client.get("Node", node))["spec"]["unschedulable"] is True
    assert low[0] >= 2
    assert said[-1] == f"node/{node} drained"
    await eventually(lambda: _n_available(etcd_client, "dr", 3), what="3 pods elsewhere")


async def _n_available(client: Client, app: str, n: int) -> list[dict] | None:
    pods = await _available(client, app)
    return pods if len(pods) == n else None
