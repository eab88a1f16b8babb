"""Deleting an object while another writer changes it (a node agent writing pod status)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixfleet.controlplane.registry import Registry, StaleObjectError
from mixfleet.store.embedded import EmbeddedStore


class RacingStore(EmbeddedStore):
    """An embedded store where, the first time ``key`` is read, another writer changes it
    right after the read: the reader's compare-and-swap then loses."""

    def __init__(self, path: str, *, key: str, registry_box: list[Registry]) -> None:
        super().__init__(path)
        self.key, self.registry_box, self.raced = key, registry_box, False

    async def get(self, key: str):  # type: ignore[override]
        kv = await super().get(key)
        if key.endswith(self.key) and kv is not None and not self.raced:
            self.raced = True
            [registry] = self.registry_box
            pod = await registry.get("Pod", "web-0")
            pod.setdefault("status", {})["phase"] = "Running"
            await registry.update(pod, status_only=True)
        return kv


def _pod(grace: int) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default"},
        "spec": {"schedulerName": "none", "nodeName": "n1", "terminationGracePeriodSeconds": grace,
                 "containers": [{"name": "app", "image": "mixfleet/busybox:latest"}]},
    }


async def _racing_registry(tmp_path: Path, grace: int) -> tuple[Registry, RacingStore]:
    box: list[Registry] = []
    store = RacingStore(str(tmp_path / "state.db"), key="/web-0", registry_box=box)
    registry = Registry(store)
    box.append(registry)
    await registry.ensure_system_namespaces()
    await registry.create(_pod(grace))
    store.raced = False  # the create's own reads do not count
    return registry, store


@pytest.mark.parametrize("grace", [pytest.param(-1, id="graceful"), pytest.param(0, id="immediate")])
async def test_delete_without_precondition_survives_a_concurrent_write(tmp_path: Path, grace: int) -> None:
    """A plain delete is not refused because a status write landed between its read and its write."""
    registry, store = await _racing_registry(tmp_path, 30)
    try:
        await registry.delete("Pod", "web-0", "default", grace_period_seconds=grace)
        assert store.raced
        pods, _ = await registry.list("Pod", namespace="default")
        assert [p["metadata"].get("deletionTimestamp") is not None for p in pods] == ([True] if grace else [])  # graceful: marked, not gone
    finally:
        await store.close()


async def test_delete_with_precondition_still_refuses_a_changed_object(tmp_path: Path) -> None:
    """A delete pinned to a resourceVersion fails when the object moved on, as asked."""
    registry, store = await _racing_registry(tmp_path, 30)
    try:
        pod = await registry.get("Pod", "web-0")
        store.raced = False
        with pytest.raises(StaleObjectError):
            await registry.delete("Pod", "web-0", "default",
                                  precondition_resource_version=pod["metadata"]["resourceVersion"])
    finally:
        await store.close()
