"""An etcd outage of any length: when etcd comes back, so does the cluster.

Before issue 9, ``campaign()`` raising UnavailableError (a store call gives up after ~15 s)
ended the leadership task silently, and once that was fixed the leader's loops still never
started again: gRPC reports a call on a channel that another task closed (the store's
failover) as CancelledError, which ended a watch cache's task as if it had been cancelled,
and every informer waiting on that cache waited for ever. Here etcd is killed for 30 s and
120 s, or frozen with SIGSTOP, and scheduling, rollouts and node lifecycle must all work
again within seconds of its return."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mixfleet.client import APIError, Client
from mixfleet.controlplane.app import LEADER_HEALTH_SERVICE, ControlPlane, ControlPlaneConfig
from tests.controllers.agents import SimulatedNode
from tests.controllers.conftest import deployment, eventually
from tests.fixtures.etcd import EtcdCluster, _start_cluster, require_etcd, unique_prefix

pytestmark = pytest.mark.etcd

NODE_GRACE_SECONDS = 6.0
# "Within a few seconds of its return": the store's backoff between attempts is at most
# ~5 s, a campaign needs the old lease to expire (leader_ttl), then informers re-list.
RECOVERY_SECONDS = 20.0


async def _leader_health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=LEADER_HEALTH_SERVICE), timeout=2)
        return resp.status


async def _serving(address: str) -> bool:
    return await _leader_health(address) == health_pb2.HealthCheckResponse.SERVING


async def _not_serving(address: str) -> bool:
    return await _leader_health(address) == health_pb2.HealthCheckResponse.NOT_SERVING


def _outage(etcd: EtcdCluster, how: str) -> tuple[Any, Any]:
    """(begin, end) of an outage: SIGKILL and restart on the same data, or SIGSTOP (a
    frozen member: connections stay open and nothing answers) and SIGCONT."""
    member = etcd.members[0]
    if how == "kill":
        return (lambda: etcd.kill(0)), (lambda: etcd.restart(0))
    assert member.proc is not None
    proc = member.proc
    return (lambda: proc.send_signal(signal.SIGSTOP)), (lambda: proc.send_signal(signal.SIGCONT))


@pytest.mark.parametrize(
    ("how", "seconds"),
    [
        pytest.param("kill", 30.0, id="killed-30s"),
        pytest.param("kill", 120.0, id="killed-120s"),
        pytest.param("stop", 30.0, id="sigstopped-30s"),
    ],
)
async def test_the_cluster_recovers_after_an_etcd_outage(tmp_path: Path, how: str, seconds: float) -> None:
    """While etcd is away health says no leader; within seconds of its return the replica
    leads again, a new Deployment is scheduled and runs, a rollout completes, and an agent
    that stops heartbeating has its node marked not ready."""
    require_etcd()
    etcd = _start_cluster(1, str(tmp_path))
    cp = ControlPlane(
        ControlPlaneConfig(
            store_url=f"etcd://{etcd.endpoint}{unique_prefix()}",
            listen="127.0.0.1:0",
            leader_ttl=2.0,
            node_monitor_grace=NODE_GRACE_SECONDS,
        )
    )
    begin, end = _outage(etcd, how)
    try:
        await cp.start()
        async with Client(cp.address, retry_seconds=10) as client:
            nodes = [await SimulatedNode(client, f"outage-{i}").start() for i in range(2)]
            try:
                await client.create(deployment("before", replicas=2, image="busybox:latest"))
                await eventually(lambda: _running(client, "before", "busybox:latest", 2),
                                 what="Deployment 'before' running")
                await eventually(lambda: _serving(cp.address), what="leader health SERVING")

                begin()
                await eventually(lambda: _not_serving(cp.address), what="NOT_SERVING during the outage")
                await asyncio.sleep(seconds)
                await asyncio.to_thread(end)

                await eventually(lambda: _serving(cp.address), what="leading again", timeout=RECOVERY_SECONDS)
                await eventually(lambda: _create(client, deployment("after", replicas=1, image="busybox:latest")),
                                 what="API writes again", timeout=RECOVERY_SECONDS)
                await eventually(lambda: _running(client, "after", "busybox:latest", 1),
                                 what="the new Deployment's pod scheduled and running",
                                 timeout=RECOVERY_SECONDS)

                await _set_image(client, "before", "nginx:latest")
                await eventually(lambda: _running(client, "before", "nginx:latest", 2),
                                 what="the rollout to nginx:latest complete", timeout=RECOVERY_SECONDS)

                await nodes[1].stop()
                await eventually(lambda: _not_ready(client, "outage-1"),
                                 what="the stopped agent's node not ready",
                                 timeout=NODE_GRACE_SECONDS + RECOVERY_SECONDS)
            finally:
                for n in nodes:
                    await n.stop()
    finally:
        with contextlib.suppress(Exception):
            end()  # a frozen etcd would never die on stop()
        await cp.stop()
        etcd.stop()


async def _create(client: Client, obj: dict[str, Any]) -> bool:
    with contextlib.suppress(APIError):
        await client.create(obj)
        return True
    return False


async def _running(client: Client, app: str, image: str, want: int) -> bool:
    """Exactly ``want`` pods of the app, each bound, Running and on ``image``."""
    pods, _ = await client.list("Pod", namespace="default", label_selector=f"app={app}")
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return len(live) == want and all(
        p["spec"].get("nodeName")
        and (p.get("status") or {}).get("phase") == "Running"
        and p["spec"]["containers"][0]["image"] == image
        for p in live
    )


async def _set_image(client: Client, name: str, image: str) -> None:
    for _ in range(10):
        d = await client.get("Deployment", name, namespace="default")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        with contextlib.suppress(APIError):
            await client.update(d)
            return
    raise AssertionError(f"could not update Deployment {name}")


async def _not_ready(client: Client, node: str) -> bool:
    n = await client.get("Node", node)
    ready = [c for c in (n.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
    return bool(ready) and ready[0].get("status") != "True"
