"""A full disk under the embedded store: creates and updates are refused with a clear
RESOURCE_EXHAUSTED, reads and deletes keep working, and writes work again once deletes
(or someone else) freed space; a log on the same full disk does not break the server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mixfleet.client import Client, NotFoundError, ResourceExhaustedError
from tests.fixtures.controlplane import start_controlplane_process
from tests.fixtures.smallfs import fill

_NOTE = "x" * 20_000  # 20 KB per object: the 64 MiB disk fills in a few hundred


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "annotations": {"note": _NOTE}}}


async def _fill_with_objects(client: Client, *, limit: int = 5000) -> tuple[int, ResourceExhaustedError]:
    """Create namespaces until the store refuses one; (how many were made, the refusal)."""
    for i in range(limit):
        try:
            await client.create(_namespace(f"fill-{i}"))
        except ResourceExhaustedError as e:
            return i, e
    raise AssertionError(f"{limit} objects of 20 KB fitted on a 64 MiB disk")


@pytest.fixture(params=["new", "legacy"])
async def full_disk_controlplane(request: pytest.FixtureRequest, small_fs: Path) -> Any:
    """A control plane whose store is on the small disk: a database made by the store
    itself, or ("legacy") one made before it used auto_vacuum=INCREMENTAL, whose freed
    pages stay in the file."""
    import sqlite3

    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
    from mixfleet.store.embedded import _SCHEMA

    if request.param == "legacy":
        db = sqlite3.connect(small_fs / "state.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.close()
    cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite://{small_fs / 'state.db'}", listen="127.0.0.1:0"))
    await cp.start()
    try:
        yield cp
    finally:
        await cp.stop()


def _lease(renew: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "node-1", "namespace": "default"},
            "spec": {"holderIdentity": "node-1", "renewTime": renew, "leaseDurationSeconds": 40}}


async def test_full_store_refuses_writes_but_reads_and_deletes_work(full_disk_controlplane: Any) -> None:
    """Filling the store's disk with objects: the next create is RESOURCE_EXHAUSTED saying
    the disk is full and what still works; an update growing an object is refused too,
    while a heartbeat (a Lease renewal, same size) still commits; get and list answer;
    deleting most of the objects succeeds, after which creates succeed again."""
    async with Client(full_disk_controlplane.address, retry_seconds=5) as client:
        lease = await client.create(_lease("2026-12-03T07:00:00.000000Z"))
        made, refused = await _fill_with_objects(client)
        assert made > 100
        assert "store disk full" in refused.message
        assert "deletes and updates that do not grow objects (heartbeats, status) still work" in refused.message
        ns = await client.get("Namespace", "fill-0")
        ns["metadata"]["annotations"]["more"] = "y" * 5000
        with pytest.raises(ResourceExhaustedError, match="store disk full"):
            await client.update(ns)
        lease["spec"]["renewTime"] = "2026-12-03T07:00:05.000000Z"
        renewed = await client.update(lease)
        assert renewed["spec"]["renewTime"] == "2026-12-03T07:00:05.000000Z"

        items, _ = await client.list("Namespace")
        assert len([i for i in items if i["metadata"]["name"].startswith("fill-")]) == made
        for i in range(made - 10):
            await client.delete("Namespace", f"fill-{i}")

        created = await client.create(_namespace("after-cleanup"))
        assert created["metadata"]["name"] == "after-cleanup"


async def test_disk_filled_by_something_else(full_disk_controlplane: Any, small_fs: Path) -> None:
    """Another file fills the disk to the last byte: creates are refused clearly, a delete
    still commits (in the store's released reserve), and once that file is gone writes
    work again."""
    async with Client(full_disk_controlplane.address, retry_seconds=5) as client:
        for i in range(20):
            await client.create(_namespace(f"early-{i}"))
        filler = small_fs / "filler"
        fill(filler)
        with pytest.raises(ResourceExhaustedError, match="store disk full"):
            await client.create(_namespace("too-much"))
        for i in range(20):
            await client.delete("Namespace", f"early-{i}")
        assert (await client.get("Namespace", "default"))["metadata"]["name"] == "default"
        filler.unlink()
        assert (await client.create(_namespace("later")))["metadata"]["name"] == "later"


def test_server_survives_its_log_on_the_full_disk(small_fs: Path) -> None:
    """`mixfleet controlplane` with its store and its log on one disk that fills up: a
    create answers RESOURCE_EXHAUSTED (not "Unexpected OSError"), the process keeps
    running, and after space is freed it takes writes again."""
    cp = start_controlplane_process(small_fs, f"sqlite://{small_fs / 'state.db'}")
    filler = small_fs / "filler"

    async def scenario() -> None:
        async with Client(cp.address, retry_seconds=5) as client:
            await client.create(_namespace("before"))
            fill(filler)
            with pytest.raises(ResourceExhaustedError, match="store disk full"):
                await client.create(_namespace("during"))
            await client.delete("Namespace", "before")
            assert cp.proc.poll() is None, "the control plane died on the full disk"
            filler.unlink()
            await client.create(_namespace("after"))
            names = {i["metadata"]["name"] for i in (await client.list("Namespace"))[0]}
            assert "after" in names and "before" not in names and "during" not in names

    try:
        asyncio.run(scenario())
        assert cp.proc.poll() is None, "the control plane died on the full disk"
    finally:
        cp.stop()
    assert "log.lines_dropped" in cp.logs() or "store.disk_full" in cp.logs()


async def test_running_pod_is_deleted_and_node_heartbeats_on_a_full_disk(
    full_disk_controlplane: Any, small_fs: Path
) -> None:
    """With the store's disk filled to the last byte by another file, a running pod is
    still deleted (the graceful mark, then the agent's final delete) and its node's Lease
    keeps being renewed."""
    from tests.controllers.agents import SimulatedNode
    from tests.controllers.conftest import eventually

    async with Client(full_disk_controlplane.address, retry_seconds=5) as client:
        node = await SimulatedNode(client, "sim-1").start()
        try:
            await client.create({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "app", "image": "mixfleet/busybox:latest"}]},
            })

            async def running() -> bool:
                pod = await client.get("Pod", "web")
                return (pod.get("status") or {}).get("phase") == "Running"

            await eventually(running, what="the pod running")
            fill(small_fs / "filler")
            with pytest.raises(ResourceExhaustedError):
                await client.create(_namespace("refused"))
            before = (await client.get("Lease", "sim-1", "mixfleet-node-lease"))["spec"]["renewTime"]
            await client.delete("Pod", "web")

            async def gone() -> bool:
                try:
                    await client.get("Pod", "web")
                except NotFoundError:
                    return True
                return False

            await eventually(gone, what="the pod deleted on the full disk")

            async def renewed() -> bool:
                lease = await client.get("Lease", "sim-1", "mixfleet-node-lease")
                return lease["spec"]["renewTime"] != before

            await eventually(renewed, what="the node's Lease renewed on the full disk")
        finally:
            await node.stop()
