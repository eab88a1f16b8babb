"""The control plane's own writes through the registry (one write path): batched
transactions and bindings are validated like API writes, compare-and-swap on what was read,
and all or nothing; a fenced registry refuses every write once its leader stepped down."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import AsyncIterator

import pytest

from mixfleet.api.errors import InvalidObjectError
from mixfleet.controlplane.registry import (
    Binding,
    Create,
    Delete,
    Guard,
    NotLeaderError,
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
    Update,
)
from mixfleet.store.embedded import EmbeddedStore


def _pod(name: str, *, node: str = "") -> dict:
    spec: dict = {"containers": [{"name": "app", "image": "busybox"}], "schedulerName": "none"}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def _replicaset(name: str) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "busybox"}]}}},
    }


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    r = Registry(EmbeddedStore(str(tmp_path / "state.db")))
    await r.ensure_system_namespaces()
    yield r
    await r.store.close()


async def _names(registry: Registry, kind: str) -> set[str]:
    items, _ = await registry.list(kind)
    return {o["metadata"]["name"] for o in items}


async def test_a_batch_with_one_invalid_object_writes_nothing(registry: Registry) -> None:
    """A controller's decision is committed whole or not at all: one invalid object (here
    an update that changes an immutable field) refuses the batch, naming that object."""
    rs = await registry.create(_replicaset("web"))
    before = await registry.store.current_revision()
    changed = copy.deepcopy(rs)
    changed["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    changed["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(InvalidObjectError) as e:
        await registry.txn([Create(_pod("web-a")), Update(rs, changed), Create(_pod("web-b"))])
    assert "ReplicaSet/web" in str(e.value) and "spec.selector" in str(e.value)
    assert await registry.store.current_revision() == before
    assert await _names(registry, "Pod") == set()


async def test_created_objects_are_defaulted_and_validated_like_api_writes(registry: Registry) -> None:
    bad = _pod("Not_A_Name")
    with pytest.raises(InvalidObjectError) as e:
        await registry.txn([Create(_pod("fine")), Create(bad)])
    assert "metadata.name" in str(e.value)
    assert await _names(registry, "Pod") == set()
    result = await registry.txn([Create(_pod("fine"))])
    [pod] = result.objects
    assert pod is not None and pod["metadata"]["uid"] and pod["metadata"]["resourceVersion"] == str(result.revision)
    stored = await registry.get("Pod", "fine")
    assert stored["spec"]["restartPolicy"] == "Always"  # defaulted


async def test_a_create_needs_its_namespace(registry: Registry) -> None:
    pod = _pod("p")
    pod["metadata"]["namespace"] = "nowhere"
    with pytest.raises(Exception, match='namespaces "nowhere" not found'):
        await registry.txn([Create(pod)])


async def test_a_stale_read_loses_the_whole_batch(registry: Registry) -> None:
    """Two writers decide from the same revision of a ReplicaSet (say a deposed leader
    that has not noticed yet, and the new one): the second commit fails and none of its
    consequences (the pod it would create) is written."""
    rs = await registry.create(_replicaset("web"))
    first = copy.deepcopy(rs)
    first["status"] = {"replicas": 1}
    await registry.txn([Update(rs, first), Create(_pod("web-first"))])
    late = copy.deepcopy(rs)
    late["status"] = {"replicas": 1}
    with pytest.raises(StaleObjectError, match='replicasets "web"'):
        await registry.txn([Update(rs, late), Create(_pod("web-late"))])
    assert await _names(registry, "Pod") == {"web-first"}
    with pytest.raises(StaleObjectError):
        await registry.txn([Guard(rs), Create(_pod("web-guarded"))])
    assert await _names(registry, "Pod") == {"web-first"}


async def test_update_keeps_identity_and_counts_spec_generations(registry: Registry) -> None:
    rs = await registry.create(_replicaset("web"))
    scaled = copy.deepcopy(rs)
    scaled["spec"]["replicas"] = 3
    scaled["metadata"]["uid"] = rs["metadata"]["uid"]
    scaled["metadata"].pop("creationTimestamp")
    [out] = (await registry.txn([Update(rs, scaled)])).objects
    assert out is not None
    assert out["metadata"]["generation"] == 2
    assert out["metadata"]["creationTimestamp"] == rs["metadata"]["creationTimestamp"]
    assert (await registry.get("ReplicaSet", "web"))["spec"]["replicas"] == 3


async def test_delete_follows_the_registry_rules(registry: Registry) -> None:
    """A pod running on a node is only marked (its agent stops it); others go at once;
    a delete of something changed since it was read fails."""
    running = await registry.create(_pod("on-node", node="n1"))
    idle = await registry.create(_pod("idle"))
    result = await registry.txn([Delete(running), Delete(idle)])
    marked, removed = result.objects
    assert marked is not None and marked["metadata"]["deletionTimestamp"] and removed is None
    assert await _names(registry, "Pod") == {"on-node"}
    with pytest.raises(StaleObjectError):
        await registry.txn([Delete(running)])  # read before it was marked


async def test_a_binding_batch_is_all_or_nothing(registry: Registry) -> None:
    """The scheduler's bind: one pod read at a stale revision, or one refused binding,
    binds none of the batch."""
    a = await registry.create(_pod("a"))
    b = await registry.create(_pod("b"))
    stale = copy.deepcopy(b)
    b_now = copy.deepcopy(b)
    b_now.setdefault("metadata", {}).setdefault("labels", {})["touched"] = "yes"
    b = await registry.update(b_now)
    with pytest.raises(StaleObjectError, match='pods "b"'):
        await registry.bind([Binding(a, "n1", {}), Binding(stale, "n1", {})])
    with pytest.raises(InvalidObjectError) as e:
        await registry.bind([Binding(a, "n1", {}), Binding(b, "Bad_Node", {})])
    assert "Pod/b" in str(e.value) and "spec.nodeName" in str(e.value)
    with pytest.raises(InvalidObjectError, match="binding.images"):
        await registry.bind([Binding(a, "n1", {"images": {"nosuch": "busybox"}})])
    for name in ("a", "b"):
        assert not (await registry.get("Pod", name))["spec"].get("nodeName")
    rev = await registry.bind([Binding(a, "n1", {}), Binding(b, "n2", {"images": {"app": "busybox"}})])
    bound = await registry.get("Pod", "b")
    assert bound["metadata"]["resourceVersion"] == str(rev)
    assert bound["spec"]["nodeName"] == "n2" and bound["spec"]["binding"] == {"images": {"app": "busybox"}}
    assert [c["type"] for c in bound["status"]["conditions"]] == ["PodScheduled"]
    with pytest.raises(InvalidObjectError, match="already bound"):
        await registry.bind([Binding(bound, "n1", {})])
    gone = await registry.create(_pod("gone"))
    await registry.delete("Pod", "gone")
    with pytest.raises(ObjectNotFoundError):
        await registry.bind([Binding(gone, "n1", {})])


async def test_a_fenced_registry_refuses_every_write_once_deposed(registry: Registry) -> None:
    """The leader's loops write through a registry fenced by the elector: from the moment
    it steps down, nothing they try reaches the store."""
    leading = [True]
    fenced = registry.fenced(lambda: leading[0])
    pod = await fenced.create(_pod("mine"))
    leading[0] = False
    before = await registry.store.current_revision()
    changed = copy.deepcopy(pod)
    changed["metadata"]["labels"] = {"x": "y"}
    attempts = [
        fenced.create(_pod("other")),
        fenced.apply([_pod("other")]),
        fenced.update(changed),
        fenced.delete("Pod", "mine", grace_period_seconds=0),
        fenced.txn([Create(_pod("other"))]),
        fenced.bind([Binding(pod, "n1", {})]),
    ]
    for attempt in attempts:
        with pytest.raises(NotLeaderError):
            await attempt
    assert await registry.store.current_revision() == before
    await registry.update(changed)  # the API server's own registry is not fenced


def _deployment(name: str) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "annotations": {"team": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "busybox"}]}}},
    }


async def test_reapply_keeps_controller_annotations_and_is_unchanged(tmp_path: Path) -> None:
    """Applying the same Deployment again is "unchanged" after the controller annotated its
    revision: the user's apply neither drops that annotation nor bumps the generation."""
    store = EmbeddedStore(str(tmp_path / "state.db"))
    registry = Registry(store)
    try:
        await registry.ensure_system_namespaces()
        [first] = await registry.apply([_deployment("web")])
        assert first.outcome == "created"
        stored = await registry.get("Deployment", "web", "default")
        stored["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
        await registry.update(stored)
        [again] = await registry.apply([_deployment("web")])
        assert again.outcome == "unchanged"
        after = await registry.get("Deployment", "web", "default")
        assert after["metadata"]["annotations"] == {"team": "web", "deployment.kubernetes.io/revision": "1"}
        assert after["metadata"]["generation"] == stored["metadata"]["generation"]
        changed = _deployment("web")
        changed["metadata"]["annotations"]["team"] = "api"
        [third] = await registry.apply([changed])
        assert third.outcome == "configured"
        assert (await registry.get("Deployment", "web", "default"))["metadata"]["annotations"] == {
            "team": "api", "deployment.kubernetes.io/revision": "1"}
    finally:
        await store.close()
