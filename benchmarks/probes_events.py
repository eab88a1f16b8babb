"""What probes and node events cost: ``python -m benchmarks.probes_events [--containers 2000]
[--seconds 10] [--pods 500]``.

1. probes: one agent's prober over a simulated engine with ``--containers`` running
   containers, each with an httpGet liveness and an exec readiness probe every second, for
   ``--seconds``: probes run per second against the 2 x containers per second asked for, and
   the process CPU they took (the simulated engine answers at once, so this is the prober's
   own cost, what thousands of hollow nodes in one process pay);
2. events: emit() cost (a repeat of one event, aggregated in memory, and new events), then
   ``--pods`` x 3 distinct events (Pulled, Created, Started) written through an in-process
   control plane on the embedded store: seconds until all are written, writes/s.

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import datetime, timezone
from typing import Any

from mixfleet.client import Client
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.events import EventLimits, NodeEvents
from mixfleet.nodeagent.podspec import container_spec
from mixfleet.nodeagent.probes import Prober

IMAGE = "mixfleet/busybox:latest"


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"uid-{i}"},
        "spec": {"containers": [{
            "name": "app", "image": IMAGE, "command": ["sleep", "600"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
            "readinessProbe": {"exec": {"command": ["test", "-f", "/ready"]}, "periodSeconds": 1},
        }]},
    }


async def probes(containers: int, seconds: float) -> dict[str, Any]:
    engine = SimulatedEngine(os="linux", images=[IMAGE])
    pods = [_pod(i) for i in range(containers)]
    for p in pods:
        await engine.create_and_start(container_spec(p, p["spec"]["containers"][0], attempt=0, host_os="linux"))
    prober = Prober(engine)
    prober.sync(pods, await engine.list_containers(), wall_now=datetime.now(timezone.utc))
    task = asyncio.create_task(prober.run())
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall, ran = time.process_time() - cpu0, time.monotonic() - t0, prober.probes_run
    task.cancel()
    return {
        "containers": containers,
        "probes_asked_per_s": 2 * containers,
        "probes_per_s": round(ran / wall, 1),
        "cpu_pct": round(100 * cpu / wall, 1),
        "cpu_us_per_probe": round(1e6 * cpu / max(1, ran), 1),
        "ready": len(prober.ready),
    }


async def events(pods: int) -> dict[str, Any]:
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    with tempfile.TemporaryDirectory() as tmp:
        cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp}/state.db", listen="127.0.0.1:0"))
        await cp.start()
        try:
            async with Client(cp.address) as client:
                rec = NodeEvents(client, "bench", limits=EventLimits(concurrency=8))
                obj = {"kind": "Pod", "metadata": {"name": "x", "namespace": "default", "uid": "u"}}
                n = 100_000
                t0 = time.perf_counter()
                for _ in range(n):
                    rec.emit(obj, type="Warning", reason="Unhealthy", message="Liveness probe failed: x")
                repeat_us = 1e6 * (time.perf_counter() - t0) / n
                objs = [{"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}}
                        for i in range(pods)]
                t0 = time.perf_counter()
                for o in objs:
                    for reason in ("Pulled", "Created", "Started"):
                        rec.emit(o, type="Normal", reason=reason, message=f"{reason} container app")
                new_us = 1e6 * (time.perf_counter() - t0) / (3 * pods)
                task = asyncio.create_task(rec.run())
                t0 = time.monotonic()
                await rec.flush(timeout=600)
                took = time.monotonic() - t0
                task.cancel()
                return {
                    "emit_repeat_us": round(repeat_us, 2),
                    "emit_new_us": round(new_us, 2),
                    "events_written": rec.written,
                    "write_seconds": round(took, 2),
                    "writes_per_s": round(rec.written / took, 1),
                }
        finally:
            await cp.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--containers", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pods", type=int, default=500)
    args = ap.parse_args(argv)
    result = {"probes": asyncio.run(probes(args.containers, args.seconds)),
              "events": asyncio.run(events(args.pods))}
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
