"""Claims bound by racing bindings: a claim is bound once, to one node, and every pod of it
ends up there, because the claim's binding is a compare-and-swap in the pod's transaction."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from mixfleet.api import claims
from mixfleet.controlplane.events import EventRecorder
from mixfleet.controlplane.registry import Binding, Registry, StaleObjectError
from mixfleet.controlplane.scheduling import SchedulerLoop, is_pending
from mixfleet.scheduler import SchedulerConfig
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.util.aio import run_together
from tests.scheduler.builders import make_node


def _claim(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def _pod(name: str, claim: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "10m"}},
                                     "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],
                     "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}}


@pytest.fixture
async def registry(tmp_path):
    reg = Registry(EmbeddedStore(str(tmp_path / "s.db")))
    await reg.ensure_system_namespaces()
    for name in ("n1", "n2", "n3"):
        await reg.create(make_node(name).linux().cpu("64").memory("256Gi").obj())
    yield reg
    await reg.store.close()


async def test_two_bindings_of_one_claim_to_two_nodes_one_wins(registry: Registry) -> None:
    """Both read the claim unbound; the store lets exactly one binding through."""
    await registry.create(_claim("data"))
    a, b = [await registry.create(_pod(n, "data")) for n in ("a", "b")]
    results = await asyncio.gather(
        registry.bind([Binding(a, "n1", {"images": {}})]),
        registry.bind([Binding(b, "n2", {"images": {}})]),
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in results) == 1, results
    assert sum(isinstance(r, StaleObjectError) for r in results) == 1, results
    claim = await registry.get(claims.KIND, "data", "default")
    winner = "n1" if isinstance(results[0], int) else "n2"
    assert claims.selected_node(claim) == winner and claim["status"]["phase"] == "Bound"
    pods, _ = await registry.list("pods")
    assert sorted(p["spec"].get("nodeName") or "" for p in pods) == ["", winner]


async def test_bindings_to_the_claims_node_need_no_claim_write(registry: Registry) -> None:
    """A second pod bound to the claim's node commits; to another node it is refused."""
    await registry.create(_claim("data"))
    a, b, c = [await registry.create(_pod(n, "data")) for n in ("a", "b", "c")]
    await registry.bind([Binding(a, "n3", {"images": {}})])
    before = await registry.get(claims.KIND, "data", "default")
    await registry.bind([Binding(b, "n3", {"images": {}})])
    assert (await registry.get(claims.KIND, "data", "default"))["metadata"]["resourceVersion"] == \
        before["metadata"]["resourceVersion"]
    with pytest.raises(StaleObjectError):
        await registry.bind([Binding(c, "n1", {"images": {}})])


class HalfLoop(SchedulerLoop):
    """A scheduler that takes only the pods of one parity (p-0, p-2, ... or p-1, p-3, ...),
    so two of them bind different pods of one claim at the same moment."""

    def __init__(self, registry: Registry, parity: int) -> None:
        super().__init__(registry, config=SchedulerConfig(strategy="spread"),
                         events=EventRecorder(registry, component=f"s{parity}"), batch_size=3)
        self.parity = parity

    def _on_pod(self, type_: str, pod: Any) -> None:
        if int(pod["metadata"]["name"].split("-")[1]) % 2 != self.parity and is_pending(pod):
            self._track_usage(type_, pod)
            return
        super()._on_pod(type_, pod)


async def test_racing_scheduler_loops_put_each_claims_pods_on_one_node(registry: Registry) -> None:
    """Two schedulers, each binding its half of the pods of five claims (twelve pods each,
    both halves in every claim), spread: each claim is bound once, all its pods on its node."""
    await registry.apply([_claim(f"c{i}") for i in range(5)])
    await registry.apply([_pod(f"p-{i}", f"c{i % 5}") for i in range(60)])
    loops = [HalfLoop(registry, parity) for parity in (0, 1)]
    schedulers = asyncio.create_task(run_together(*(loop.run() for loop in loops)))

    async def all_bound() -> list[dict[str, Any]]:
        while True:
            pods, _ = await registry.list("pods")
            if all(p["spec"].get("nodeName") for p in pods):
                return pods
            await asyncio.sleep(0.1)

    try:
        pods = await asyncio.wait_for(all_bound(), 30)
    finally:
        schedulers.cancel()
        await asyncio.gather(schedulers, return_exceptions=True)
    nodes_of: dict[str, set[str]] = defaultdict(set)
    for p in pods:
        nodes_of[p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]].add(p["spec"]["nodeName"])
    objs, _ = await registry.list(claims.KIND)
    assert {c["metadata"]["name"]: {claims.selected_node(c)} for c in objs} == dict(nodes_of)
    assert len(set().union(*nodes_of.values())) > 1  # spread did spread the claims
