"""Users, roles and refusals over real TLS on 127.0.0.1, against a control plane that
requires credentials: bearer tokens made as `mixfleet user create` makes them (on the TLS
port without client certificates), client certificates (mutual TLS), RoleBindings
of the built-in roles, UNAUTHENTICATED and PERMISSION_DENIED with Kubernetes' wording, the
escalation check, `can-i` answers and the audit log of every write."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from mixfleet.client import Client, UnauthenticatedError
from mixfleet.client import PermissionDeniedError as ForbiddenError
from mixfleet.controlplane.access import tokens
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from mixfleet.pki.certs import NODES_GROUP
from tests.security.conftest import PKI


def pod(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def binding(name: str, ns: str, role: str, user: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}


def secret(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": {"password": "hunter2-do-not-log"}}


class Cluster:
    def __init__(self, cp: ControlPlane, pki: PKI) -> None:
        self.cp = cp
        self.pki = pki
        self._clients: list[Client] = []

    async def client(self, user: str = "", *groups: str) -> Client:
        """A client as ``user`` with a fresh bearer token, or with no credentials for ``""``."""
        assert self.cp.store is not None
        token = await tokens.create(self.cp.store, user, groups) if user else ""
        return self._keep(Client(self.cp.token_address, tls=self.pki.ca_only, retry_seconds=2, token=token))

    def node(self, name: str) -> Client:
        """A client with node ``name``'s certificate (CN system:node:NAME, O system:nodes)."""
        tls = self.pki.client(f"system:node:{name}", (NODES_GROUP,))
        return self._keep(Client(self.cp.address, tls=tls, retry_seconds=2))

    def _keep(self, c: Client) -> Client:
        self._clients.append(c)
        return c

    async def close(self) -> None:
        for c in self._clients:
            await c.close()


@contextlib.asynccontextmanager
async def secure_cluster(tmp_path: Path, pki: PKI) -> AsyncIterator[Cluster]:
    cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'state.db'}",
                                         listen="127.0.0.1:0", token_listen="127.0.0.1:0",
                                         pki_dir=str(pki.directory)))
    await cp.start()
    cluster = Cluster(cp, pki)
    try:
        yield cluster
    finally:
        await cluster.close()
        await cp.stop()


@pytest_asyncio.fixture
async def cluster(tmp_path: Path, pki: PKI) -> AsyncIterator[Cluster]:
    async with secure_cluster(tmp_path, pki) as c:
        admin = await c.client("root", "system:masters")
        await admin.apply([namespace("a"), namespace("b")])
        yield c


async def test_anonymous_and_bad_tokens_are_refused(cluster: Cluster) -> None:
    """No credentials, or a token the server never made: UNAUTHENTICATED on reads and writes."""
    anonymous = await cluster.client()
    with pytest.raises(UnauthenticatedError, match="anonymous requests are refused"):
        await anonymous.get("Namespace", "default")
    with pytest.raises(UnauthenticatedError):
        await anonymous.apply([pod("p", "a")])
    with pytest.raises(UnauthenticatedError):
        async for _ in anonymous.watch("Pod", all_namespaces=True):
            break
    forged = Client(cluster.cp.token_address, tls=cluster.pki.ca_only, retry_seconds=2,
                    token="mixfleet_" + "x" * 43)
    try:
        with pytest.raises(UnauthenticatedError, match="bearer token is not valid"):
            await forged.list("Pod", namespace="a")
    finally:
        await forged.close()


async def test_a_view_user_can_read_but_not_write_nor_read_secrets(cluster: Cluster) -> None:
    """view in namespace a: get and list pods there; apply and reading Secrets refused,
    with Kubernetes' wording naming user, verb, resource and namespace."""
    admin = await cluster.client("root", "system:masters")
    await admin.apply([pod("web", "a"), secret("db", "a"), binding("val-view", "a", "view", "val")])
    val = await cluster.client("val", "devs")
    assert (await val.get("Pod", "web", "a"))["metadata"]["name"] == "web"
    assert [p["metadata"]["name"] for p in (await val.list("Pod", namespace="a"))[0]] == ["web"]
    with pytest.raises(ForbiddenError) as refused:
        await val.apply([pod("mine", "a")])
    assert refused.value.message == 'user "val" cannot create resource "pods" in namespace "a"'
    with pytest.raises(ForbiddenError, match='cannot get resource "secrets" in namespace "a"'):
        await val.get("Secret", "db", "a")
    with pytest.raises(ForbiddenError, match='cannot list resource "pods" in namespace "b"'):
        await val.list("Pod", namespace="b")
    with pytest.raises(ForbiddenError, match="at the cluster scope"):
        await val.list("Pod", all_namespaces=True)


async def test_an_edit_user_in_one_namespace_cannot_touch_another(cluster: Cluster) -> None:
    """edit in a: create, update and delete pods in a; nothing in b; no RoleBindings."""
    admin = await cluster.client("root", "system:masters")
    await admin.apply([pod("theirs", "b"), binding("eve-edit", "a", "edit", "eve")])
    eve = await cluster.client("eve")
    await eve.create(pod("mine", "a"))
    labelled = pod("mine", "a")
    labelled["metadata"]["labels"] = {"tier": "web"}
    assert [outcome for _, outcome in await eve.apply([labelled])] == ["configured"]
    await eve.delete("Pod", "mine", "a", grace_period_seconds=0)
    for attempt in (
        eve.create(pod("x", "b")),
        eve.get("Pod", "theirs", "b"),
        eve.delete("Pod", "theirs", "b"),
        eve.apply([binding("eve-admin", "a", "admin", "eve")]),
    ):
        with pytest.raises(ForbiddenError):
            await attempt
    assert (await admin.get("Pod", "theirs", "b"))["metadata"]["name"] == "theirs"


async def test_a_namespace_admin_hands_out_roles_but_cannot_escalate(cluster: Cluster) -> None:
    """admin in a binds edit there (it takes effect at once) but not cluster-admin, and no
    ClusterRoleBinding at all."""
    admin = await cluster.client("root", "system:masters")
    await admin.apply([binding("ann-admin", "a", "admin", "ann")])
    ann = await cluster.client("ann")
    bob = await cluster.client("bob")
    with pytest.raises(ForbiddenError):
        await bob.create(pod("p", "a"))
    await ann.apply([binding("bob-edit", "a", "edit", "bob")])
    await bob.create(pod("p", "a"))  # a refusal is re-checked against the store: no lag
    with pytest.raises(ForbiddenError, match='would grant role "cluster-admin"'):
        await ann.apply([binding("bob-root", "a", "cluster-admin", "bob")])
    crb = {**binding("bob-all", "", "view", "bob"), "kind": "ClusterRoleBinding"}
    crb["metadata"] = {"name": "bob-all"}
    with pytest.raises(ForbiddenError, match='cannot create resource "clusterrolebindings"'):
        await ann.apply([crb])


async def test_a_binding_to_a_role_mixfleet_lacks_is_refused_naming_the_field(cluster: Cluster) -> None:
    """A binding that would silently grant nothing (custom role, ServiceAccount) is refused."""
    from mixfleet.client import InvalidError

    admin = await cluster.client("root", "system:masters")
    bad = binding("x", "a", "pod-reader", "val")
    bad["subjects"].append({"kind": "ServiceAccount", "name": "default", "namespace": "a"})
    with pytest.raises(InvalidError) as refused:
        await admin.apply([bad])
    assert "roleRef.name" in refused.value.message and "subjects[1].kind" in refused.value.message


async def test_can_i_answers_for_the_caller(cluster: Cluster) -> None:
    """AccessReview says yes or no per verb, kind and namespace, and who the caller is."""
    admin = await cluster.client("root", "system:masters")
    await admin.apply([binding("val-view", "a", "view", "val")])
    val = await cluster.client("val", "devs")
    assert (await val.access_review("list", "pods", namespace="a")).allowed
    no = await val.access_review("create", "pods", namespace="a")
    assert not no.allowed and 'user "val" cannot create resource "pods"' in no.reason
    assert not (await val.access_review("get", "secrets", namespace="a")).allowed
    assert not (await val.access_review("get", "pods", namespace="b")).allowed
    assert no.user == "val" and "devs" in no.groups
    assert (await admin.access_review("delete", "nodes")).allowed


async def test_every_write_is_audited_without_its_contents(cluster: Cluster) -> None:
    """One audit line per object written: who, verb, object, outcome (allowed, denied, error);
    never a Secret's value. (A caller without credentials is refused before any handler:
    authn.refused says so.)"""
    admin = await cluster.client("root", "system:masters")
    await admin.apply([binding("val-view", "a", "view", "val")])
    val = await cluster.client("val")
    with capture_logs() as logs:
        await admin.apply([secret("db", "a"), pod("web", "a")])
        with pytest.raises(ForbiddenError):
            await val.delete("Pod", "web", "a")
        with contextlib.suppress(Exception):
            await admin.create(pod("web", "a"))  # exists: allowed, then failed
    audit = [e for e in logs if e.get("event") == "audit"]
    seen = {(e["user"], e["verb"], e["kind"], e["name"], e["outcome"]) for e in audit}
    assert ("root", "create", "Secret", "db", "allowed") in seen
    assert ("root", "create", "Pod", "web", "allowed") in seen
    assert ("val", "delete", "Pod", "web", "denied") in seen
    assert ("root", "create", "Pod", "web", "error") in seen
    assert [e["code"] for e in audit if e["outcome"] == "error"] == ["ALREADY_EXISTS"]
    assert all(e["namespace"] == "a" and e["via"] == "token" for e in audit if e["kind"] == "Pod")
    assert "hunter2" not in repr(logs)
