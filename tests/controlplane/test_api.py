"""The gRPC API through a real server on 127.0.0.1, as a client (mixctl, agents) sees it."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mixfleet.client import (
    AlreadyExistsError,
    Client,
    ConflictError,
    GoneError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)


def pod(name: str, *, labels: dict | None = None, image: str = "mixfleet/busybox:latest", ns: str = "default") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "web"}},
        # No scheduler claims this name: these tests look at the API alone.
        "spec": {"schedulerName": "none", "containers": [{"name": "app", "image": image}]},
    }


async def test_apply_creates_then_unchanged_then_configured(client: Client) -> None:
    """Apply is create-or-update and says which it did, like kubectl apply."""
    [(obj, outcome)] = await client.apply([pod("web-0")])
    assert outcome == "created" and obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"]
    [(_, outcome)] = await client.apply([pod("web-0")])
    assert outcome == "unchanged"
    [(changed, outcome)] = await client.apply([pod("web-0", labels={"app": "web", "tier": "front"})])
    assert outcome == "configured"
    assert changed["metadata"]["uid"] == obj["metadata"]["uid"]
    got = await client.get("pods", "web-0")
    assert got["metadata"]["labels"]["tier"] == "front"
    assert got["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]


async def test_apply_is_all_or_nothing(client: Client) -> None:
    """A batch whose second object cannot be written writes nothing at all."""
    with pytest.raises(NotFoundError, match='namespaces "nowhere" not found'):
        await client.apply([pod("a-0"), pod("b-0", ns="nowhere")])
    with pytest.raises(NotFoundError):
        await client.get("pods", "a-0")


async def test_namespace_created_in_same_apply(client: Client) -> None:
    """A Namespace and objects inside it can be applied together."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    results = await client.apply([ns, pod("x-0", ns="team-a")])
    assert [o for _, o in results] == ["created", "created"]
    assert (await client.get("po", "x-0", "team-a"))["metadata"]["namespace"] == "team-a"


async def test_invalid_object_names_field_path(client: Client) -> None:
    """INVALID_ARGUMENT lists the bad field's path."""
    bad = pod("web-0")
    bad["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "lots"}}
    with pytest.raises(InvalidError, match=r"spec\.containers\[0\]\.resources\.requests\.cpu"):
        await client.apply([bad])


async def test_get_missing_is_not_found(client: Client) -> None:
    """A missing object is NOT_FOUND with kubectl's wording."""
    with pytest.raises(NotFoundError, match='pods "ghost" not found'):
        await client.get("pods", "ghost")


async def test_unknown_kind_is_reported(client: Client) -> None:
    """An unknown resource type names itself."""
    with pytest.raises(NotFoundError, match='resource type "gadgets"'):
        await client.list("gadgets")


async def test_create_twice_is_already_exists(client: Client) -> None:
    """Create refuses an existing name."""
    await client.create(pod("web-0"))
    with pytest.raises(AlreadyExistsError, match='pods "web-0" already exists'):
        await client.create(pod("web-0"))


async def test_stale_update_is_a_conflict(client: Client) -> None:
    """An update carrying an old resourceVersion fails with ABORTED; a fresh one wins."""
    created = await client.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web-0", "labels": {}}}
    )
    fresh = json.loads(json.dumps(created))
    fresh["metadata"]["labels"]["v"] = "2"
    await client.update(fresh)
    created["metadata"]["labels"]["v"] = "3"
    with pytest.raises(ConflictError, match="has been modified"):
        await client.update(created)
    assert (await client.get("namespaces", "web-0"))["metadata"]["labels"]["v"] == "2"


async def test_status_update_keeps_spec(client: Client) -> None:
    """update_status writes only status; an update keeps status."""
    created = await client.create(pod("web-0"))
    created["status"] = {"phase": "Running"}
    created["spec"]["containers"][0]["image"] = "other:1"
    after = await client.update_status(created)
    assert after["status"]["phase"] == "Running"
    assert after["spec"]["containers"][0]["image"] == "mixfleet/busybox:latest"


async def test_list_with_label_and_field_selectors(client: Client) -> None:
    """List filters by label selector and by field selector."""
    await client.apply([pod("a-0", labels={"app": "a"}), pod("b-0", labels={"app": "b"})])
    items, rev = await client.list("pods", label_selector="app in (b)")
    assert [i["metadata"]["name"] for i in items] == ["b-0"] and rev > 0
    items, _ = await client.list("pods", field_selector="metadata.name=a-0")
    assert [i["metadata"]["name"] for i in items] == ["a-0"]
    items, _ = await client.list("pods", field_selector="spec.nodeName=n1")
    assert items == []
    with pytest.raises(InvalidError, match="labelSelector"):
        await client.list("pods", label_selector="app in (")


async def test_watch_streams_added_modified_deleted(client: Client) -> None:
    """A watch from 0 sees existing objects, then every change, in order."""
    await client.create(pod("a-0"))
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async for ev in client.watch("pods"):
            seen.append((ev.type, ev.object["metadata"]["name"]))
            if ev.type == "DELETED":
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    b = await client.create(pod("b-0"))
    b["metadata"]["labels"]["x"] = "y"
    await client.update(b)
    await client.delete("pods", "b-0")
    await asyncio.wait_for(task, 10)
    assert seen == [("ADDED", "a-0"), ("ADDED", "b-0"), ("MODIFIED", "b-0"), ("DELETED", "b-0")]


async def test_watch_from_compacted_revision_is_gone(controlplane, client: Client) -> None:
    """Watching from a revision that is compacted in the store and older than the server's
    watch cache fails with 'too old' so the client re-lists."""
    for i in range(3):
        await client.create(pod(f"p-{i}"))
    await controlplane.store.compact(await controlplane.store.current_revision())
    with pytest.raises(GoneError, match="too old"):
        # Revision 1 (the first system namespace) predates every watch cache.
        async for _ in client.watch("pods", from_revision=1):
            pass


async def test_delete_bound_pod_is_graceful(client: Client) -> None:
    """Deleting a pod on a node marks it terminating; grace 0 finalises it."""
    p = pod("web-0")
    p["spec"]["nodeName"] = "n1"
    await client.create(p)
    marked = await client.delete("pods", "web-0")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await client.get("pods", "web-0"))["metadata"]["deletionTimestamp"]
    await client.delete("pods", "web-0", grace_period_seconds=0)
    with pytest.raises(NotFoundError):
        await client.get("pods", "web-0")


async def test_health_and_reflection(controlplane) -> None:
    """grpc health says SERVING and reflection lists the ControlPlane service."""
    async with grpc.aio.insecure_channel(controlplane.address) as ch:
        resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        stream = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = [s.name async for r in stream for s in r.list_services_response.service]
    assert "mixfleet.v1.ControlPlane" in names


async def test_unreachable_server_is_unavailable() -> None:
    """A client with nothing listening gets UnavailableError naming the address."""
    async with Client("127.0.0.1:1", timeout=1, retry_seconds=0.5) as c:
        with pytest.raises(UnavailableError, match="cannot reach the control plane at 127.0.0.1:1"):
            await c.get("pods", "x")
