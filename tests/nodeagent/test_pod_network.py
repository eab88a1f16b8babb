"""Pods are pods, on a real dockerd: one network namespace per pod held by its sandbox, the
pod's address in status.podIP, reachable from the host, and the sandbox's lifecycle (first
up, last down, a dead one replaced with the pod's containers)."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import pytest

from mixfleet.nodeagent.engines.base import ContainerState
from mixfleet.nodeagent.engines.docker_engine import parse_time
from mixfleet.nodeagent.podspec import LABEL_POD_UID, MANAGED
from mixfleet.nodeagent.sandbox import LABEL_SANDBOX, PAUSE_IMAGE, is_sandbox
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import IMAGE, Harness, harness  # noqa: F401  (fixture)

pytestmark = pytest.mark.docker
WEB = "echo served-by-web > /www/index.html; httpd -f -p 8080 -h /www"
SIDECAR = "until wget -qO- http://127.0.0.1:8080/; do sleep 0.2; done; sleep 600"


def two_container_pod(name: str, node: str, *, restart: str = "Always") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 2,
            "containers": [
                {"name": "web", "image": IMAGE, "command": ["sh", "-c", WEB],
                 "ports": [{"containerPort": 8080}]},
                {"name": "sidecar", "image": IMAGE, "command": ["sh", "-c", SIDECAR]},
            ],
        },
    }


async def _all(h: Harness, uid: str) -> list[ContainerState]:
    return await h.engine.list_containers({**MANAGED, LABEL_POD_UID: uid})


async def _with_ip(h: Harness, name: str) -> dict | None:
    st = await h.status(name)
    running = [cs for cs in st.get("containerStatuses") or () if "running" in cs["state"]]
    return st if st.get("podIP") and len(running) == 2 else None


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.read().decode()


async def _http(url: str) -> str | None:
    try:
        return await asyncio.to_thread(_get, url)
    except OSError:
        return None


async def _sidecar_output(h: Harness, uid: str) -> bytes:
    [side] = [c for c in await h.containers(uid) if c.name.split("_")[3] == "sidecar"]
    return b"".join([chunk async for chunk in h.engine.logs(side.id)])


async def test_sidecar_reaches_main_container_on_localhost(harness, client, dockerd):  # noqa: F811
    """Two containers of one pod share a network namespace: the sidecar's wget of
    127.0.0.1:8080 gets the web container's page; both joined the pod's sandbox."""
    await harness.start()
    created = await client.create(two_container_pod("duo", harness.node))
    uid = created["metadata"]["uid"]
    await eventually(lambda: _with_ip(harness, "duo"))
    out = await eventually(lambda: _sidecar_output(harness, uid))
    assert b"served-by-web" in out
    [box] = [c for c in await _all(harness, uid) if is_sandbox(c)]
    assert dockerd.client.api.inspect_container(box.id)["Config"]["Image"] == PAUSE_IMAGE
    for c in await harness.containers(uid):
        assert dockerd.client.api.inspect_container(c.id)["HostConfig"]["NetworkMode"] == f"container:{box.id}"
        assert c.labels[LABEL_SANDBOX] == box.id


async def test_pod_ip_reported_and_reachable_from_host(harness, client):  # noqa: F811
    """status.podIP/podIPs name the sandbox's address on the node's pod network, and the
    host reaches the pod's server there; status.hostIP is the node's address."""
    await harness.start(host_ip="127.0.0.1")
    created = await client.create(two_container_pod("reach", harness.node))
    st = await eventually(lambda: _with_ip(harness, "reach"))
    [box] = [c for c in await _all(harness, created["metadata"]["uid"]) if is_sandbox(c)]
    assert st["podIP"] == box.ip and st["podIPs"] == [{"ip": box.ip}]
    assert st["hostIP"] == "127.0.0.1" and st["hostIPs"] == [{"ip": "127.0.0.1"}]
    assert "served-by-web" in await eventually(lambda: _http(f"http://{st['podIP']}:8080/"))


async def test_dead_sandbox_is_replaced_with_the_pods_containers(harness, client, dockerd):  # noqa: F811
    """When the sandbox dies, the pod's containers are stopped and started again in a new
    sandbox (restart counts go up), and the pod serves on its new address."""
    await harness.start()
    created = await client.create(two_container_pod("phoenix", harness.node))
    uid = created["metadata"]["uid"]
    await eventually(lambda: _with_ip(harness, "phoenix"))
    [old] = [c for c in await _all(harness, uid) if is_sandbox(c)]
    dockerd.client.api.kill(old.id)

    async def replaced() -> dict | None:
        st = await _with_ip(harness, "phoenix")
        restarted = st and all(cs["restartCount"] >= 1 for cs in st["containerStatuses"])
        return st if restarted else None

    st = await eventually(replaced)
    [new] = [c for c in await _all(harness, uid) if is_sandbox(c) and c.state.value == "running"]
    assert new.id != old.id and st["podIP"] == new.ip
    running = [c for c in await harness.containers(uid) if c.state.value == "running"]
    assert {c.labels[LABEL_SANDBOX] for c in running} == {new.id}
    assert "served-by-web" in await eventually(lambda: _http(f"http://{new.ip}:8080/"))


async def test_delete_removes_sandbox_last(harness, client):  # noqa: F811
    """Deleting a pod stops and removes its containers first and its sandbox last."""
    await harness.start()
    created = await client.create(two_container_pod("gone", harness.node))
    uid = created["metadata"]["uid"]
    await eventually(lambda: _with_ip(harness, "gone"))
    ids = {c.id: is_sandbox(c) for c in await _all(harness, uid)}
    await client.delete("Pod", "gone", "default")
    await eventually(lambda: _pod_absent(client, "gone"))
    assert await _all(harness, uid) == []
    removed = [cid for call, cid, _ in harness.engine.calls if call == "remove" and cid in ids]
    assert sorted(removed, key=lambda cid: ids[cid]) == removed and ids[removed[-1]]


async def test_orphan_sandbox_removed(harness, client):  # noqa: F811
    """A sandbox whose pod no longer exists (with its joined container) is cleaned up."""
    await harness.start()
    created = await client.create(two_container_pod("orphaned", harness.node))
    uid = created["metadata"]["uid"]
    await eventually(lambda: _with_ip(harness, "orphaned"))
    await harness.kill()
    await client.delete("Pod", "orphaned", "default", grace_period_seconds=0)
    await harness.start()
    await eventually(lambda: _none_left(harness, uid))


async def _none_left(h: Harness, uid: str) -> bool:
    return not await _all(h, uid)


async def _pod_absent(client: Any, name: str) -> bool:
    try:
        await client.get("Pod", name, "default")
    except Exception:
        return True
    return False


async def test_sidecar_manifest_pod_becomes_ready(harness, client, dockerd):  # noqa: F811
    """The pod of manifests/sidecar.yaml on a Docker node: its init container finishes
    before the others start, then the web server (on 127.0.0.1 only, so not reachable at
    the pod's IP) and its sidecar, which fetches the page on localhost, are both Ready."""
    from mixfleet.api.manifest import load
    from tests.fixtures.controlplane import REPO

    await harness.start()
    [doc] = [d.obj for d in load([str(REPO / "manifests" / "sidecar.yaml")])]
    template = doc["spec"]["template"]
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "trio", "namespace": "default", "labels": template["metadata"]["labels"]},
         "spec": {**template["spec"], "nodeName": harness.node}}
    uid = (await client.create(p))["metadata"]["uid"]

    async def ready() -> dict | None:
        st = await harness.status("trio")
        conds = {c["type"]: c["status"] for c in st.get("conditions") or ()}
        return st if conds.get("Ready") == "True" and st.get("podIP") else None

    st = await eventually(ready)
    [init] = st["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed"
    def state(status: dict) -> dict:
        return dockerd.client.api.inspect_container(status["containerID"].split("://")[-1])["State"]

    init_end = parse_time(state(init)["FinishedAt"])
    for cs in st["containerStatuses"]:
        assert init_end <= parse_time(state(cs)["StartedAt"]), cs["name"]
    [fetcher] = [c for c in await harness.containers(uid) if c.name.split("_")[3] == "fetcher"]
    page = b"".join([chunk async for chunk in harness.engine.logs(fetcher.id)])
    assert b"<h1>rendered for trio</h1>" in page
    assert await _http(f"http://{st['podIP']}:8080/") is None  # localhost only


async def test_pod_ip_in_the_environment_is_the_sandboxs(harness, client):  # noqa: F811
    """env fieldRef status.podIP holds the pod's address from the first start, before any
    status was reported (the kubelet reads it from the sandbox)."""
    await harness.start()
    p = two_container_pod("envip", harness.node)
    p["spec"]["containers"][1].update(
        command=["sh", "-c", 'echo "pod-ip=$POD_IP"; sleep 600'],
        env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    )
    uid = (await client.create(p))["metadata"]["uid"]
    st = await eventually(lambda: _with_ip(harness, "envip"))
    out = await eventually(lambda: _sidecar_output(harness, uid))
    assert f"pod-ip={st['podIP']}\n".encode() in out
