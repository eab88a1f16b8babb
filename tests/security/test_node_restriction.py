"""A node certificate (CN system:node:NAME, O system:nodes) over real mutual TLS: its own Node, Lease,
pods and their Secrets only, as Kubernetes' Node authorizer and NodeRestriction allow; and
the daemonEndpoint the control plane dials for logs only ever as the node itself wrote it,
naming its own address (a user's Node pointing elsewhere never makes it dial)."""

from __future__ import annotations

import asyncio
import copy
import socket
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio

from mixfleet.api import times
from mixfleet.api.defaults import apply_defaults
from mixfleet.api.kinds import key_for
from mixfleet.api.objects import new_uid
from mixfleet.client import APIError, Client
from mixfleet.client import PermissionDeniedError as ForbiddenError
from mixfleet.controlplane.objects import encode
from mixfleet.store.base import Op
from tests.controllers.agents import node_object
from tests.security.conftest import PKI
from tests.security.test_access import Cluster, namespace, pod, secret, secure_cluster

LEASE_NS = "mixfleet-node-lease"


def with_env_secret(p: dict[str, Any], name: str) -> dict[str, Any]:
    """A pod whose container takes a variable from Secret ``name``."""
    out = copy.deepcopy(p)
    out["spec"]["containers"][0]["env"] = [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": name, "key": "password"}}}]
    return out


async def store_pod(cluster: Cluster, obj: dict[str, Any]) -> None:
    """Write a pod straight into the store: until env valueFrom is honoured at apply
    (issue 10), the API refuses a pod that refers to a Secret, but the rule must hold for
    the pods it will admit."""
    assert cluster.cp.store is not None
    obj = apply_defaults(copy.deepcopy(obj))
    obj["metadata"].update(uid=new_uid(), creationTimestamp=times.now())
    await cluster.cp.store.txn([Op.create(key_for(obj), encode(obj))])


@pytest_asyncio.fixture
async def nodes(tmp_path: Path, pki: PKI) -> AsyncIterator[tuple[Cluster, Client, Client, Client]]:
    """A secure cluster with nodes n1 and n2 registered by themselves, a pod bound to each,
    Secrets s1, s2, other in namespace a, and an admin client."""
    async with secure_cluster(tmp_path, pki) as cluster:
        admin = await cluster.client("root", "system:masters")
        n1, n2 = cluster.node("n1"), cluster.node("n2")
        await n1.create(node_object("n1"))
        await n2.create(node_object("n2"))
        await admin.apply([namespace("a"), secret("s1", "a"), secret("s2", "a"), secret("other", "a")])
        await admin.create(pod("p1", "a", nodeName="n1"))
        await admin.create(pod("p2", "a", nodeName="n2"))
        yield cluster, admin, n1, n2


async def test_a_node_writes_its_own_node_and_lease_not_anothers(nodes: Any) -> None:
    """n1 updates Node n1 and its Lease; Node n2, n2's Lease and deleting n2 are refused."""
    _, admin, n1, _ = nodes
    mine = await n1.get("Node", "n1")
    mine["status"]["conditions"][0]["reason"] = "StillHere"
    await n1.update_status(mine)
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "n1", "namespace": LEASE_NS},
             "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}
    await n1.create(lease)
    theirs = await n1.get("Node", "n2")  # reading Nodes is allowed, as for the kubelet
    theirs["metadata"]["labels"]["evil"] = "yes"
    with pytest.raises(ForbiddenError, match='user "system:node:n1" cannot update resource "nodes".*own Node'):
        await n1.update(theirs)
    with pytest.raises(ForbiddenError):
        await n1.update_status(theirs)
    with pytest.raises(ForbiddenError):
        await n1.delete("Node", "n2")
    with pytest.raises(ForbiddenError, match="own Lease"):
        await n1.create({**lease, "metadata": {"name": "n2", "namespace": LEASE_NS}})
    assert "evil" not in (await admin.get("Node", "n2"))["metadata"]["labels"]


async def test_a_node_cannot_change_its_taints_or_restricted_labels(nodes: Any) -> None:
    """NodeRestriction: taints stay the admins' and the node lifecycle's; labels under
    node-restriction.kubernetes.io/ and other kubernetes.io keys are not the node's to set."""
    _, admin, n1, _ = nodes
    node = await admin.get("Node", "n1")
    node["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    await admin.update(node)
    mine = await n1.get("Node", "n1")
    mine["spec"]["taints"] = []
    with pytest.raises(ForbiddenError, match="not allowed to modify taints"):
        await n1.update(mine)
    for key in ("node-restriction.kubernetes.io/pci", "node-role.kubernetes.io/control-plane"):
        mine = await n1.get("Node", "n1")
        mine["metadata"]["labels"][key] = "true"
        with pytest.raises(ForbiddenError, match="not allowed to modify label"):
            await n1.update(mine)
    mine = await n1.get("Node", "n1")
    mine["metadata"]["labels"]["node.kubernetes.io/windows-build"] = "10.0.20348"
    mine["metadata"]["labels"]["example.com/rack"] = "r1"
    await n1.update(mine)  # the kubelet's own label namespaces and anyone else's are fine


async def test_a_node_sees_and_writes_only_the_pods_bound_to_it(nodes: Any) -> None:
    """n1 lists and watches pods with spec.nodeName=n1 only, writes p1's status, deletes p1;
    p2 (bound to n2) cannot be read, have its status written, or be deleted by n1."""
    _, admin, n1, _ = nodes
    listed, _ = await n1.list("Pod", all_namespaces=True, field_selector="spec.nodeName=n1")
    assert [p["metadata"]["name"] for p in listed] == ["p1"]
    for selector in ("", "spec.nodeName=n2", "spec.nodeName!=n1"):
        with pytest.raises(ForbiddenError, match="field selector spec.nodeName=n1"):
            await n1.list("Pod", all_namespaces=True, field_selector=selector)
    with pytest.raises(ForbiddenError):
        async for _ in n1.watch("Pod", all_namespaces=True):
            break
    p1 = await n1.get("Pod", "p1", "a")
    p1["status"] = {"phase": "Running"}
    await n1.update_status(p1)
    p2 = await admin.get("Pod", "p2", "a")
    with pytest.raises(ForbiddenError, match='cannot get resource "pods" in namespace "a"'):
        await n1.get("Pod", "p2", "a")
    p2["status"] = {"phase": "Failed", "reason": "Forged"}
    with pytest.raises(ForbiddenError, match='cannot update resource "pods/status"'):
        await n1.update_status(p2)
    with pytest.raises(ForbiddenError):
        await n1.update({**p1, "metadata": {**p1["metadata"], "labels": {"x": "y"}}})  # a spec write
    with pytest.raises(ForbiddenError):
        await n1.delete("Pod", "p2", "a", grace_period_seconds=0)
    with pytest.raises(ForbiddenError, match='cannot create resource "pods"'):
        await n1.create(pod("mirror", "a", nodeName="n1"))
    assert (await admin.get("Pod", "p2", "a")).get("status", {}).get("reason") != "Forged"
    await n1.delete("Pod", "p1", "a", grace_period_seconds=0)


async def test_a_node_reads_only_the_secrets_its_own_pods_refer_to(nodes: Any) -> None:
    """n1 gets s1 (p1 refers to it), not s2 (only n2's pod does) nor an unreferenced one,
    and lists no Secrets at all; a pod bound to it a moment ago counts at once."""
    cluster, admin, n1, n2 = nodes
    await store_pod(cluster, with_env_secret(pod("p1s", "a", nodeName="n1"), "s1"))
    await store_pod(cluster, with_env_secret(pod("p2s", "a", nodeName="n2"), "s2"))
    assert (await n1.get("Secret", "s1", "a"))["metadata"]["name"] == "s1"
    assert (await n2.get("Secret", "s2", "a"))["metadata"]["name"] == "s2"
    for name in ("s2", "other"):
        with pytest.raises(ForbiddenError, match=f'no pod bound to node "n1" refers to Secret "{name}"'):
            await n1.get("Secret", name, "a")
    with pytest.raises(ForbiddenError):
        await n1.list("Secret", namespace="a")
    await store_pod(cluster, with_env_secret(pod("p3", "a", nodeName="n1"), "other"))
    assert (await n1.get("Secret", "other", "a"))["metadata"]["name"] == "other"


class Recorder:
    """A TCP listener on 127.0.0.2 that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.2", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    try:
        yield r
    finally:
        r.close()


def _pointing_at(name: str, endpoint: str) -> dict[str, Any]:
    node = node_object(name)
    node["status"]["daemonEndpoint"] = endpoint
    return node


async def _ask_for_logs(client: Client, pod_name: str) -> None:
    with pytest.raises(APIError):
        async for _ in client.logs("a", pod_name):
            pass


async def test_a_users_node_never_makes_the_control_plane_dial_elsewhere(nodes: Any, recorder: Recorder) -> None:
    """Secure cluster: a cluster-admin's Node with daemonEndpoint 127.0.0.2:PORT is refused
    (only the node itself may set it), so are the node's own writes naming an address its
    connection does not come from; asking for logs never connects to 127.0.0.2."""
    cluster, admin, n1, _ = nodes
    evil = f"127.0.0.2:{recorder.port}"
    with pytest.raises(ForbiddenError, match="only the node itself"):
        await admin.create(_pointing_at("rogue", evil))
    with pytest.raises(ForbiddenError, match="only the node itself"):
        await admin.update_status(_pointing_at("n2", evil))
    mine = await n1.get("Node", "n1")
    mine["status"]["daemonEndpoint"] = evil
    with pytest.raises(ForbiddenError, match="not the address this node's connection comes from"):
        await n1.update_status(mine)
    mine["status"]["daemonEndpoint"] = "localhost:10250"
    with pytest.raises(ForbiddenError, match="must be an IP address"):
        await n1.update_status(mine)
    mine["status"]["daemonEndpoint"] = "127.0.0.1:10250"  # where n1's connection comes from
    await n1.update_status(mine)
    await admin.create(pod("victim", "a", nodeName="n2"))
    await _ask_for_logs(admin, "victim")
    await asyncio.sleep(0.3)  # a dial would have been accepted by now; none may come
    assert recorder.connections == 0


async def test_dev_mode_refuses_an_endpoint_elsewhere_too(tmp_path: Path, recorder: Recorder) -> None:
    """`mixfleet dev` (callers anonymous and cluster-admin): a Node naming 127.0.0.2 from a
    127.0.0.1 connection is refused; 127.0.0.1 is accepted."""
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'dev.db'}", listen="127.0.0.1:0"))
    await cp.start()
    try:
        async with Client(cp.address, retry_seconds=2) as c:
            with pytest.raises(ForbiddenError, match="not the address"):
                await c.create(_pointing_at("rogue", f"127.0.0.2:{recorder.port}"))
            await c.create(_pointing_at("n1", "127.0.0.1:10250"))
            await c.create(pod("victim", "default", nodeName="rogue"))
            with pytest.raises(APIError):
                async for _ in c.logs("default", "victim"):
                    pass
        assert recorder.connections == 0
    finally:
        await cp.stop()


def _event(name: str, host: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "a"},
            "involvedObject": {"kind": "Pod", "namespace": "a", "name": "p1"},
            "reason": "Started", "message": "started", "type": "Normal",
            "source": {"component": "mixfleet-agent", "host": host}}


async def test_a_node_writes_only_the_events_it_reports(nodes: Any) -> None:
    """n1 creates, reads and updates Events with source.host n1 (the agent's aggregation);
    one claiming to come from n2, or reading n2's, is refused; listing Events too."""
    _, _, n1, n2 = nodes
    mine = await n1.create(_event("p1.started", "n1"))
    mine["count"] = 2
    await n1.update(mine)
    assert (await n1.get("Event", "p1.started", "a"))["count"] == 2
    await n2.create(_event("p2.started", "n2"))
    for attempt in (n1.create(_event("forged", "n2")), n1.get("Event", "p2.started", "a"),
                    n1.list("Event", namespace="a")):
        with pytest.raises(ForbiddenError, match="Events it reports"):
            await attempt
