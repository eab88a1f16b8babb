"""Control-plane memory under update churn (issue 9, item 7):
``python -m benchmarks.memory_churn --duration 3600 --pods 10 --size-kb 1024``.

Starts ``mixfleet controlplane`` as its own process (so its RSS is its own) on the embedded
store, or on etcd with ``--store etcd://...``, creates ``--pods`` pods of about
``--size-kb`` each, then updates a label of each in turn as fast as one client can for
``--duration`` seconds, sampling the control plane's RSS (from /proc) every
``--sample-seconds``. At the end it deletes the pods and samples again after a pause.

Flat means: RSS after the first minutes stops growing (bounded by the watch cache's byte
budget and the store's history compaction), and does not keep the churned objects after
they are deleted. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mixfleet.client import Client

REPO = Path(__file__).resolve().parents[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pod(name: str, size: int) -> dict[str, Any]:
    chunk = 64 * 1024
    env = [{"name": f"PAD{i}", "value": "x" * min(chunk, size - i * chunk)}
           for i in range((size + chunk - 1) // chunk)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        # No node matches: the pod stays Pending and nothing runs it, so only the API server,
        # the watch cache and the store see the churn. (A pod bound to a node that does not
        # exist is deleted by the pod garbage collector, as in Kubernetes.)
        "spec": {"nodeSelector": {"mixfleet.io/benchmark": "no-such-node"},
                 "containers": [{"name": "c", "image": "busybox:latest", "env": env}]},
    }


def _start(workdir: Path, store: str) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "cp.port"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MIXFLEET_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixfleet", "controlplane", "--store", store,
         "--listen", "127.0.0.1:0", "--port-file", str(port_file), "--insecure"],
        stdout=subprocess.DEVNULL, stderr=(workdir / "cp.log").open("wb"), cwd=workdir, env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, f"127.0.0.1:{port_file.read_text().strip()}"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"control plane did not start: {(workdir / 'cp.log').read_text()}")


async def _churn(args: argparse.Namespace, pid: int, address: str) -> dict[str, Any]:
    samples: list[tuple[float, float, int]] = []  # (seconds, RSS MB, updates so far)
    async with Client(address, timeout=30, retry_seconds=30) as client:
        baseline = _rss_mb(pid)
        names = [f"churn-{i}" for i in range(args.pods)]
        for n in names:
            await client.create(_pod(n, args.size_kb * 1024))
        start = time.monotonic()
        next_sample = start
        updates = 0
        while (now := time.monotonic()) - start < args.duration:
            if now >= next_sample:
                samples.append((round(now - start, 1), round(_rss_mb(pid), 1), updates))
                print(f"t={now - start:7.1f}s rss={samples[-1][1]:8.1f} MB updates={updates}", flush=True)
                next_sample += args.sample_seconds
            name = names[updates % len(names)]
            pod = await client.get("Pod", name, namespace="default")
            pod["metadata"]["labels"] = {"n": str(updates)}
            await client.update(pod)
            updates += 1
        churned = _rss_mb(pid)
        for n in names:
            await client.delete("Pod", n, namespace="default")
        await asyncio.sleep(args.settle_seconds)
        after_delete = _rss_mb(pid)
    steady = [rss for t, rss, _ in samples if t >= min(args.duration / 4, 300)]
    return {
        "duration_s": args.duration,
        "pods": args.pods,
        "pod_kb": args.size_kb,
        "updates": updates,
        "updates_per_s": round(updates / args.duration, 1),
        "rss_mb_baseline": round(baseline, 1),
        "rss_mb_peak": max(rss for _, rss, _ in samples),
        "rss_mb_steady_min": min(steady) if steady else None,
        "rss_mb_steady_max": max(steady) if steady else None,
        "rss_mb_end_of_churn": round(churned, 1),
        "rss_mb_after_delete": round(after_delete, 1),
        "samples": samples,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds of churn")
    p.add_argument("--pods", type=int, default=10)
    p.add_argument("--size-kb", type=int, default=1024, help="approximate size of each pod")
    p.add_argument("--sample-seconds", type=float, default=10.0)
    p.add_argument("--settle-seconds", type=float, default=10.0)
    p.add_argument("--store", default=None, help="default: a fresh embedded store")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="mixfleet-churn-") as tmp:
        workdir = Path(tmp)
        proc, address = _start(workdir, args.store or f"sqlite:///{workdir / 'state.db'}")
        try:
            result = asyncio.run(_churn(args, proc.pid, address))
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
