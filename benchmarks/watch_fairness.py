"""Does one client's watching slow another client's writes?
``python -m benchmarks.watch_fairness [--watches 2000] [--pods 100] [-- extra controlplane flags]``.

Starts ``mixfleet controlplane`` as its own process on the embedded store (so the server has
its event loop to itself, as in production), then, for each watch count in ``--watches``
(default 0 and 2000):

* a separate *watcher* process opens that many Pod watch streams (all namespaces, no
  selector: each sees every pod change) over one channel, as one misbehaving client would,
  and waits until each stream has delivered its first event or been refused;
* this process, a second client, creates ``--pods`` pods one after another and times it.

Printed per run: how many streams the server accepted and refused (and with which code),
the seconds to create the pods, how long until every open stream had seen the last pod
(from the first create: watchers must not pay for the writers' speed), and the streams that
ended on their own (refused or ended by the server) rather than closed by the watcher. The
last line is one JSON object with every figure.
Flags after ``--`` go to ``mixfleet controlplane`` (e.g. ``-- --max-watches-per-client 5000``);
``--profile PATH`` writes a cProfile of the control-plane process.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

from mixfleet.client import Client

NAMESPACE = "default"


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"bench": "fairness"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "10m"}}}]},
    }


# --- the watcher process --------------------------------------------------------------


async def _one_watch(
    c: Client, opened: asyncio.Queue[str], ends: collections.Counter[str], seen: collections.Counter[str]
) -> None:
    first = True
    try:
        async for ev in c.watch("Pod", all_namespaces=True):
            seen[ev.object["metadata"]["name"]] += 1
            if first:
                first = False
                await opened.put("open")
        ends["server ended the stream"] += 1
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a refusal or an early end: count it by its gRPC code
        code = getattr(e, "code", grpc.StatusCode.UNKNOWN)
        ends[f"{getattr(code, 'name', code)}: {str(e)[:90]}"] += 1
        if first:
            await opened.put(getattr(code, "name", str(code)))


async def _watchers(target: str, count: int) -> None:
    """Open ``count`` streams on one channel and say how many opened. Then, told a pod's
    name on stdin, say when every open stream has seen it; on stdin EOF, close them all and
    say which ended early."""
    loop = asyncio.get_running_loop()
    async with Client(target, retry_seconds=5) as c:
        opened: asyncio.Queue[str] = asyncio.Queue()
        ends: collections.Counter[str] = collections.Counter()
        seen: collections.Counter[str] = collections.Counter()
        tasks = [asyncio.create_task(_one_watch(c, opened, ends, seen)) for _ in range(count)]
        outcomes: collections.Counter[str] = collections.Counter()
        deadline = time.monotonic() + 120
        while sum(outcomes.values()) < count and time.monotonic() < deadline:
            try:
                outcomes[await asyncio.wait_for(opened.get(), 5)] += 1
            except asyncio.TimeoutError:
                pass
        print(json.dumps({"ready": dict(outcomes)}), flush=True)
        name = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        deadline = time.monotonic() + 300
        while seen[name] < outcomes["open"] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        print(json.dumps({"all_seen": time.time() if seen[name] >= outcomes["open"] else None}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        early = dict(ends)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        print(json.dumps({"ended_early": early}), flush=True)


# --- the benchmark --------------------------------------------------------------------


def _start_controlplane(workdir: Path, extra: list[str], profile: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "cp.port"
    env = {**os.environ, "MIXFLEET_LOG_FORMAT": "json", "MIXFLEET_LOG_LEVEL": "warning"}
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    proc = subprocess.Popen(
        [sys.executable, *profiler, "-m", "mixfleet", "controlplane", "--store", f"sqlite:///{workdir / 'state.db'}",
         "--listen", "127.0.0.1:0", "--port-file", str(port_file), "--insecure", *extra],
        stdout=subprocess.DEVNULL, stderr=(workdir / "cp.log").open("wb"), env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, f"127.0.0.1:{port_file.read_text().strip()}"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"control plane did not start:\n{(workdir / 'cp.log').read_text()}")


async def _create_pods(target: str, prefix: str, count: int) -> tuple[float, float]:
    """Create ``count`` pods one after another: (wall-clock start, seconds taken)."""
    async with Client(target, timeout=120, retry_seconds=60) as c:
        start, t = time.time(), time.perf_counter()
        for i in range(count):
            await c.create(_pod(f"{prefix}-{i}"))
        return start, time.perf_counter() - t


def _run(target: str, watches: int, pods: int, run: int) -> dict[str, Any]:
    watcher = None
    ready: dict[str, int] = {}
    if watches:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.watch_fairness", "--role", "watchers",
             "--target", target, "--count", str(watches)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert watcher.stdout is not None and watcher.stdin is not None
        ready = json.loads(watcher.stdout.readline())["ready"]
    start, seconds = asyncio.run(_create_pods(target, f"run{run}", pods))
    early: dict[str, int] = {}
    delivered = None
    if watcher is not None:
        assert watcher.stdout is not None and watcher.stdin is not None
        watcher.stdin.write(f"run{run}-{pods - 1}\n")
        watcher.stdin.flush()
        all_seen = json.loads(watcher.stdout.readline())["all_seen"]
        delivered = None if all_seen is None else round(all_seen - start, 3)
        watcher.stdin.close()
        early = json.loads(watcher.stdout.readline())["ended_early"]
        watcher.wait(60)
    result = {"watches": watches, "streams": ready, "create_s": round(seconds, 3),
              "all_watchers_saw_last_pod_s": delivered, "ended_early": early}
    print(f"{watches:5d} watch streams from another client ({ready or 'none'}): "
          f"{pods} pods created in {seconds:.2f} s"
          + (f"; every open stream had seen the last pod {delivered} s after the first create" if watches else "")
          + f"; streams that ended on their own: {early or 'none'}",
          flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--watches", type=int, nargs="+", default=[0, 2000])
    p.add_argument("--pods", type=int, default=100)
    p.add_argument("--profile", metavar="PATH", help="write a cProfile of the control plane here")
    p.add_argument("--role", choices=("bench", "watchers"), default="bench", help=argparse.SUPPRESS)
    p.add_argument("--target", help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("controlplane_args", nargs="*", help="flags for mixfleet controlplane (after --)")
    args = p.parse_args()
    if args.role == "watchers":
        asyncio.run(_watchers(args.target, args.count))
        return
    with tempfile.TemporaryDirectory(prefix="watch-fairness-") as tmp:
        proc, target = _start_controlplane(Path(tmp), args.controlplane_args, args.profile)
        try:
            # One pod up front, so every watch stream opens with an ADDED event: proof it is open.
            asyncio.run(_create_pods(target, "marker", 1))
            results = [_run(target, n, args.pods, i) for i, n in enumerate(args.watches)]
        finally:
            proc.terminate()
            proc.wait(30)
    print(json.dumps({"pods": args.pods, "controlplane_args": args.controlplane_args, "runs": results}))


if __name__ == "__main__":
    main()
