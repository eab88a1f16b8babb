"""End-to-end placement through a real control plane:
``python -m benchmarks.controlplane --nodes 5000 --pods 10000``.

Starts an in-process :class:`controlplane.app.ControlPlane` (API server, scheduler loop and
controllers) on the embedded store in a temporary directory, creates the synthetic fleet of
``benchmarks/fleet.py`` as Node objects through ``Registry.apply`` (one store transaction
per chunk), then applies the pending pods the same way, and watches the pods until every
one is bound (spec.nodeName) or refused (PodScheduled=False). Nodes have no Lease, so the
node lifecycle controller leaves them alone, as it does simulated nodes.

Reported: pods/s end to end (first pod applied -> last pod decided), how long applying
took, the scheduler loop's own share (wall time inside ``schedule_batch``, which includes
its awaited store writes, and within it the CPU-bound snapshot builds and placement
decisions), and peak RSS. ``--profile`` adds a cProfile of the event-loop thread (the
embedded store's SQLite work runs on its own thread and shows up as waiting there).
Logging is set to warning: per-object info lines would measure the terminal. The last line
of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from benchmarks.fleet import make_workload
from mixfleet.controlplane import scheduling
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from mixfleet.controlplane.watch import watch
from mixfleet.scheduler import Scheduler, Snapshot
from mixfleet.util import log

NAMESPACE = "bench"


@dataclass
class Timers:
    """Seconds spent in the instrumented functions (wall time, event-loop thread)."""

    batch_s: float = 0.0
    batches: int = 0
    snapshot_s: float = 0.0
    snapshots: int = 0
    decide_s: float = 0.0


def _instrument(timers: Timers) -> Callable[[], None]:
    """Wrap the loop's batch, snapshot builds and decisions with timers; returns an undo."""
    originals = (scheduling.SchedulerLoop.schedule_batch, Snapshot.build.__func__, Scheduler.schedule)
    batch, build, decide = originals

    @functools.wraps(batch)
    async def timed_batch(self, *a, **kw):
        t = time.perf_counter()
        try:
            return await batch(self, *a, **kw)
        finally:
            timers.batch_s += time.perf_counter() - t
            timers.batches += 1

    @functools.wraps(build)
    def timed_build(cls, *a, **kw):
        t = time.perf_counter()
        try:
            return build(cls, *a, **kw)
        finally:
            timers.snapshot_s += time.perf_counter() - t
            timers.snapshots += 1

    @functools.wraps(decide)
    def timed_decide(self, *a, **kw):
        t = time.perf_counter()
        try:
            return decide(self, *a, **kw)
        finally:
            timers.decide_s += time.perf_counter() - t

    scheduling.SchedulerLoop.schedule_batch = timed_batch
    Snapshot.build = classmethod(timed_build)
    Scheduler.schedule = timed_decide

    def undo() -> None:
        scheduling.SchedulerLoop.schedule_batch = batch
        Snapshot.build = classmethod(build)
        Scheduler.schedule = decide

    return undo


def _pending(pod: dict) -> dict:
    # The synthetic pods name ReplicaSets that do not exist here; the garbage collector
    # would delete them as orphans, so they are created without an owner.
    md = {k: v for k, v in pod["metadata"].items() if k not in ("uid", "ownerReferences")}
    return {**pod, "metadata": md}


def _decided(pod: dict) -> bool:
    if (pod.get("spec") or {}).get("nodeName"):
        return True
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in conds)


async def _follow(registry, *, from_revision: int, total: int, decided: dict[str, bool]) -> None:
    async for ev in watch(registry, "Pod", namespace=NAMESPACE, from_revision=from_revision):
        if ev.type != "DELETED" and _decided(ev.object):
            decided[ev.object["metadata"]["name"]] = bool(ev.object["spec"].get("nodeName"))
            if len(decided) == total:
                return


async def _apply_chunks(registry, objects: list[dict], chunk: int) -> float:
    t = time.perf_counter()
    for i in range(0, len(objects), chunk):
        await registry.apply(objects[i : i + chunk])
    return time.perf_counter() - t


async def run(*, nodes: int, pods: int, seed: int, templates: int, chunk: int, timeout: float, profile: bool) -> dict:
    work = make_workload(nodes=nodes, pods=pods, templates=templates, seed=seed)
    pending = [_pending(p) for p in work.pods]
    timers = Timers()
    undo = _instrument(timers)
    with tempfile.TemporaryDirectory(prefix="mixfleet-bench-") as tmp:
        cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp}/state.db", listen="127.0.0.1:0"))
        await cp.start()
        try:
            registry = cp.registry
            assert registry is not None
            await registry.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
            nodes_s = await _apply_chunks(registry, work.nodes, chunk)
            await asyncio.sleep(1.0)  # let the scheduler's node informer catch up first
            _, rev = await registry.list("Pod", namespace=NAMESPACE)
            decided: dict[str, bool] = {}
            follower = asyncio.create_task(_follow(registry, from_revision=rev + 1, total=len(pending), decided=decided))
            prof = cProfile.Profile() if profile else None
            base = Timers(**asdict(timers))
            if prof:
                prof.enable()
            start = time.perf_counter()
            apply_s = await _apply_chunks(registry, pending, chunk)
            try:
                await asyncio.wait_for(follower, timeout)
            except asyncio.TimeoutError:
                pass
            total_s = time.perf_counter() - start
            if prof:
                prof.disable()
        finally:
            await cp.stop()
            undo()
    if prof:
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    bound = sum(decided.values())
    return {
        "nodes": nodes,
        "pods": len(pending),
        "decided": len(decided),
        "bound": bound,
        "unschedulable": len(decided) - bound,
        "timed_out": len(decided) < len(pending),
        "nodes_apply_s": round(nodes_s, 2),
        "pods_apply_s": round(apply_s, 2),
        "end_to_end_s": round(total_s, 2),
        "pods_per_s": round(len(decided) / total_s, 1),
        "loop_batches": timers.batches - base.batches,
        "loop_batch_s": round(timers.batch_s - base.batch_s, 2),
        "loop_snapshot_builds": timers.snapshots - base.snapshots,
        "loop_snapshot_s": round(timers.snapshot_s - base.snapshot_s, 2),
        "loop_decide_s": round(timers.decide_s - base.decide_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--templates", type=int, default=300, help="Deployment templates the pods come from")
    ap.add_argument("--chunk", type=int, default=100, help="objects per apply (one store transaction)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="give up waiting after this many seconds")
    ap.add_argument("--profile", action="store_true", help="cProfile the event-loop thread (slows the run)")
    args = ap.parse_args(argv)
    log.configure(json=True, level="warning")
    r = asyncio.run(
        run(nodes=args.nodes, pods=args.pods, seed=args.seed, templates=args.templates,
            chunk=args.chunk, timeout=args.timeout, profile=args.profile)
    )
    print(
        f"{r['nodes']:,} nodes x {r['pods']:,} pods: {r['pods_per_s']:,} pods/s end to end "
        f"({r['decided']:,} decided in {r['end_to_end_s']} s; applying took {r['pods_apply_s']} s); "
        f"scheduler loop {r['loop_batch_s']} s in {r['loop_batches']} batches, of which snapshot builds "
        f"{r['loop_snapshot_s']} s ({r['loop_snapshot_builds']}) and decisions {r['loop_decide_s']} s; "
        f"bound {r['bound']:,}, unschedulable {r['unschedulable']:,}; peak RSS {r['peak_rss_mb']} MB",
        file=sys.stderr,
    )
    print(json.dumps(r, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
