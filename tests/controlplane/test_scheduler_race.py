"""Two scheduler loops racing over the same store: every pod is bound exactly once, because
bindings are compare-and-swap writes and the loser re-plans from fresh state."""

from __future__ import annotations

import asyncio

from mixfleet.controlplane.events import EventRecorder
from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.scheduling import SchedulerLoop
from mixfleet.controlplane.watch import watch
from mixfleet.scheduler import SchedulerConfig
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.util.aio import run_together
from tests.scheduler.builders import make_node


def _pod(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p-{i}", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                                 "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]},
    }


async def test_racing_schedulers_bind_each_pod_once(tmp_path) -> None:
    """No pod is bound twice or moved, and every pod ends up bound."""
    registry = Registry(EmbeddedStore(str(tmp_path / "s.db")))
    await registry.ensure_system_namespaces()
    for name in ("n1", "n2", "n3"):
        node = make_node(name).linux().cpu("64").memory("256Gi").obj()
        await registry.create(node)
    _, start = await registry.list("pods")
    await registry.apply([_pod(i) for i in range(60)])
    loops = [
        SchedulerLoop(registry, config=SchedulerConfig(), events=EventRecorder(registry, component=f"s{i}"), batch_size=7)
        for i in range(2)
    ]
    bindings: dict[str, list[str]] = {}

    async def observe() -> None:
        async for ev in watch(registry, "pods", from_revision=start + 1):
            node = ev.object["spec"].get("nodeName")
            seen = bindings.setdefault(ev.object["metadata"]["name"], [])
            if node and (not seen or seen[-1] != node):
                seen.append(node)
            if len(bindings) == 60 and all(bindings.values()):
                return

    schedulers = asyncio.create_task(run_together(*(loop.run() for loop in loops)))
    try:
        await asyncio.wait_for(observe(), 20)
        await asyncio.sleep(0.3)  # a late, wrong second binding would show up here
    finally:
        schedulers.cancel()
        await asyncio.gather(schedulers, return_exceptions=True)
    assert len(bindings) == 60
    assert all(len(nodes) == 1 for nodes in bindings.values()), bindings
    items, _ = await registry.list("pods")
    assert {p["metadata"]["name"]: p["spec"].get("nodeName") for p in items} == {
        name: nodes[0] for name, nodes in bindings.items()
    }
    # Each loop's live snapshot counts every pod once, where it really is: a lost race
    # left no stale assumption behind (that would make a node look fuller than it is).
    for loop in loops:
        snap = loop.snapshot
        assert snap is not None
        counted = {uid: snap.nodes[c.node].name for uid, c in snap.charges.items()}
        assert counted == {p["metadata"]["uid"]: p["spec"]["nodeName"] for p in items}
    await registry.store.close()
