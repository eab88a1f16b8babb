"""An etcd outage longer than a campaign's retries: leadership comes back when etcd does.

Before, ``campaign()`` raising UnavailableError (its store retries give up after ~15 s)
ended the leadership task silently: after a 20 s outage nothing was ever scheduled again,
and health still said SERVING."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mixfleet.client import APIError, Client
from mixfleet.controlplane.app import LEADER_HEALTH_SERVICE, ControlPlane, ControlPlaneConfig
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import deployment, eventually
from tests.fixtures.etcd import _start_cluster, require_etcd, unique_prefix

pytestmark = pytest.mark.etcd

OUTAGE_SECONDS = 20.0  # longer than the store's retry budget for one call


async def _leader_health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=LEADER_HEALTH_SERVICE), timeout=2)
        return resp.status


async def _serving(address: str) -> bool:
    return await _leader_health(address) == health_pb2.HealthCheckResponse.SERVING


async def _not_serving(address: str) -> bool:
    return await _leader_health(address) == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_scheduling_resumes_after_a_long_etcd_outage(tmp_path: Path) -> None:
    """etcd stopped for 20 s: health says no leader meanwhile; within seconds of etcd's
    return the replica campaigns, leads again, and the API takes writes."""
    require_etcd()
    etcd = _start_cluster(1, str(tmp_path))
    cp = ControlPlane(
        ControlPlaneConfig(
            store_url=f"etcd://{etcd.endpoint}{unique_prefix()}",
            listen="127.0.0.1:0",
            leader_ttl=2.0,
        )
    )
    try:
        await cp.start()
        async with Client(cp.address, retry_seconds=10) as client:
            node = await SimulatedNode(client, "outage-0").start()
            try:
                await eventually(lambda: _serving(cp.address), what="leader health SERVING")
                etcd.kill(0)
                await eventually(lambda: _not_serving(cp.address), what="NOT_SERVING during the outage")
                await asyncio.sleep(OUTAGE_SECONDS)
                await asyncio.to_thread(etcd.restart, 0)
                await eventually(lambda: _serving(cp.address), what="leading again", timeout=30)
                await eventually(lambda: _create(client), what="API writes again", timeout=30)
                # Left for issue 9: the leader's loops start again but wait on watch caches
                # that do not yet recover from the outage, so the pod is not scheduled yet.
            finally:
                await node.stop()
    finally:
        await cp.stop()
        etcd.stop()


async def _create(client: Client) -> bool:
    with contextlib.suppress(APIError):
        await client.create(deployment("after", replicas=1, image="busybox:latest"))
        return True
    return False
