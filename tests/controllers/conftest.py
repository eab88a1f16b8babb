"""Control planes on real etcd for controller tests, and helpers to wait for a state."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable, TypeVar

import pytest_asyncio

from tests.fixtures.etcd import EtcdCluster, unique_prefix

# Caches hand out frozen objects here (also in control-plane processes started from here):
# a reader that changes a shared object instead of a copy fails (controlplane/objects.py).
os.environ.setdefault("MIXFLEET_FROZEN_CACHES", "1")

if TYPE_CHECKING:
    from mixfleet.client import Client

T = TypeVar("T")
WAIT_SECONDS = 30.0  # generous: a bound on a hang, not a speed assertion


async def eventually(probe: Callable[[], Awaitable[T | None]], *, what: str,
                     timeout: float = WAIT_SECONDS, interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` otherwise."""
    last: object = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last  # type: ignore[return-value]
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def deployment(name: str, *, replicas: int, image: str = "example/app:1",
               max_surge: object = 1, max_unavailable: object = 1,
               readiness: bool = False) -> dict:
    container: dict = {"name": "app", "image": image}
    if readiness:
        container["readinessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [container]}},
        },
    }


async def run_mixctl(server: str, *args: str, expect: int = 0) -> str:
    """Run the real `mixctl` as a process; returns stdout + stderr, checking the exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mixfleet.mixctl", "--server", server, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_SECONDS * 2)
    assert proc.returncode == expect, (out + err).decode()
    return (out + err).decode()


async def track_min_available(client: "Client", app: str, low: list[int]) -> None:
    """Follow every pod change (list, then watch) and keep in ``low[0]`` the fewest
    available pods of ``app`` seen at any revision. Runs until cancelled."""
    from mixfleet.api.pods import is_available

    pods, rev = await client.list("Pod")
    state = {p["metadata"]["name"]: p for p in pods}
    async for ev in client.watch("Pod", from_revision=rev + 1):
        if ev.type == "DELETED":
            state.pop(ev.object["metadata"]["name"], None)
        else:
            state[ev.object["metadata"]["name"]] = ev.object
        low[0] = min(low[0], sum(1 for p in state.values()
                                 if (p["metadata"].get("labels") or {}).get("app") == app
                                 and is_available(p)))


@pytest_asyncio.fixture
async def etcd_controlplane(etcd_server: EtcdCluster, tmp_path: Path) -> AsyncIterator[object]:
    """An in-process ControlPlane on the session etcd (own prefix), short node timeouts."""
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    cp = ControlPlane(ControlPlaneConfig(
        store_url=f"etcd://{etcd_server.endpoint}{unique_prefix()}",
        listen="127.0.0.1:0",
        leader_ttl=2.0,
        node_monitor_grace=2.0,
        pod_eviction_timeout=1.0,
    ))
    await cp.start()
    try:
        yield cp
    finally:
        await cp.stop()


@pytest_asyncio.fixture
async def etcd_client(etcd_controlplane: object) -> AsyncIterator[object]:
    from mixfleet.client import Client

    async with Client(etcd_controlplane.address, retry_seconds=5) as c:  # type: ignore[attr-defined]
        yield c
