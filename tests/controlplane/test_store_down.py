"""When etcd goes away the API answers UNAVAILABLE with a readable message, and works again
once etcd is back: nothing is lost, because all state is in etcd."""

from __future__ import annotations

import asyncio
from typing import Iterator

import pytest

from mixfleet.client import Client, UnavailableError
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.etcd import EtcdCluster, _cluster, unique_prefix


@pytest.fixture
def private_etcd() -> Iterator[EtcdCluster]:
    """An etcd of this test's own, so stopping it disturbs no other test."""
    yield from _cluster(1)


async def test_store_down_is_unavailable_then_recovers(private_etcd: EtcdCluster) -> None:
    """Requests fail with UNAVAILABLE while etcd is down and succeed after it restarts."""
    store = EtcdStore([private_etcd.endpoint], prefix=unique_prefix(), timeout=1.0, retry_budget=1.0)
    cp = ControlPlane(ControlPlaneConfig(store_url="", listen="127.0.0.1:0", leader_ttl=2.0), store=store)
    await cp.start()
    try:
        async with Client(cp.address, timeout=10, retry_seconds=0.5) as client:
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kept"}}
            await client.create(ns)
            private_etcd.kill(0)
            # The server answers "store unavailable"; on a loaded machine the client's own
            # deadline may come first. Either way: UNAVAILABLE, one readable line.
            with pytest.raises(UnavailableError, match="store unavailable|cannot reach the control plane"):
                await client.get("namespaces", "kept")
            private_etcd.restart(0)
            got = None
            for _ in range(60):  # gRPC reconnects to etcd with its own backoff
                try:
                    got = await client.get("namespaces", "kept")
                    break
                except UnavailableError:
                    await asyncio.sleep(0.25)
            assert got is not None and got["metadata"]["name"] == "kept"
    finally:
        await cp.stop()
