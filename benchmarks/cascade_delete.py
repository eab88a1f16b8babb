"""Cascading deletion of a big Deployment through a real control plane:
``python -m benchmarks.cascade_delete --pods 10000 [--policy Foreground] [--bound] [--etcd]``.

Starts an in-process :class:`controlplane.app.ControlPlane` (API server, scheduler loop and
controllers) on the embedded store in a temporary directory (``--etcd``: on a private etcd
started on free 127.0.0.1 ports, if the ``etcd`` binary is installed), creates one
Deployment of ``--pods`` replicas and waits until its ReplicaSet has made every pod, then
deletes the Deployment with each ``--policy`` in turn and times the cascade: from the delete
call until the store holds no pod, ReplicaSet or Deployment of it.

Pods: without ``--bound`` there are no nodes, so the pods stay unscheduled and the
registry removes them at once. With ``--bound`` they are placed on Node objects (no agent,
no Lease: the node lifecycle controller leaves them alone), and those Nodes are deleted
before the cascade, as after losing the nodes: no agent is left to stop the pods, so the
garbage collector removes them at once. (Pods on live nodes are only marked; their agents
then confirm each one, which is the agents' work and not timed here.)

Reported per policy: seconds, pods/s, and the store transactions committed during the
cascade (every writer's). Logging is set to warning: per-object info lines would measure
the terminal. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from mixfleet.api import kinds
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from mixfleet.store.base import Store
from mixfleet.util import log

NAMESPACE = "default"
POLL = 0.05  # seconds between counts of what is left


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}},
    }


def _node(name: str) -> dict[str, Any]:
    res = {"cpu": "64", "memory": "256Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
            "spec": {},
            "status": {"capacity": res, "allocatable": res,
                       "nodeInfo": {"operatingSystem": "linux", "architecture": "amd64"},
                       "platform": {"kernelVersion": "6.1.0", "simulated": True},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


class TxnCounter:
    """Counts the store's transactions (the real store still commits each)."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        real = store.txn

        @functools.wraps(real)
        async def txn(ops: Sequence[Any]) -> int:
            self.count += 1
            return await real(ops)

        store.txn = txn  # type: ignore[method-assign]


async def _count(store: Store, kind: str) -> int:
    kvs, _ = await store.list(kinds.by_kind(kind).prefix(NAMESPACE))
    return len(kvs)


async def _pods(store: Store, *, bound: bool) -> int:
    kvs, _ = await store.list(kinds.by_kind("Pod").prefix(NAMESPACE))
    return sum(1 for kv in kvs if not bound or b'"nodeName"' in kv.value)


async def _wait_for(what: str, probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(POLL)


async def _cascade(cp: ControlPlane, *, name: str, pods: int, policy: str, bound: bool,
                   nodes: int, timeout: float) -> dict[str, Any]:
    registry, store = cp.registry, cp.store
    assert registry is not None and store is not None
    if bound:
        await registry.apply([_node(f"{name}-n{i}") for i in range(nodes)])
    start = time.perf_counter()
    await registry.create(_deployment(name, pods))
    await _wait_for(f"{pods} pods", lambda: _full(store, pods, bound), timeout)
    made_s = time.perf_counter() - start
    if bound:
        for i in range(nodes):
            await registry.delete("Node", f"{name}-n{i}")
    counter = TxnCounter(store)
    start = time.perf_counter()
    await registry.delete("Deployment", name, NAMESPACE, propagation_policy=policy)
    try:
        await _wait_for("the cascade", lambda: _empty(store), timeout)
        timed_out = False
    except TimeoutError:
        timed_out = True
    cascade_s = time.perf_counter() - start
    left = await _count(store, "Pod")
    return {
        "policy": policy, "pods": pods, "bound": bound, "create_s": round(made_s, 2),
        "cascade_s": round(cascade_s, 2), "pods_per_s": round((pods - left) / cascade_s, 1),
        "store_txns": counter.count, "pods_left": left, "timed_out": timed_out,
    }


async def _full(store: Store, pods: int, bound: bool) -> bool:
    return await _pods(store, bound=bound) >= pods


async def _empty(store: Store) -> bool:
    for kind in ("Pod", "ReplicaSet", "Deployment"):
        if await _count(store, kind):
            return False
    return True


@contextlib.asynccontextmanager
async def _etcd(tmp: str) -> AsyncIterator[str]:
    """A private single-member etcd; yields its store URL."""
    binary = shutil.which("etcd")
    if binary is None:
        raise SystemExit("--etcd needs the etcd binary (Debian package etcd-server)")
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    client, peer = (f"http://127.0.0.1:{p}" for p in ports)
    proc = subprocess.Popen(
        [binary, f"--data-dir={tmp}/etcd", f"--listen-client-urls={client}",
         f"--advertise-client-urls={client}", f"--listen-peer-urls={peer}",
         f"--initial-advertise-peer-urls={peer}", f"--initial-cluster=default={peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield f"etcd://127.0.0.1:{ports[0]}/bench"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def run(*, pods: int, policies: list[str], bound: bool, etcd: bool, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mixfleet-bench-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            url = await stack.enter_async_context(_etcd(tmp)) if etcd else f"sqlite:///{tmp}/state.db"
            cp = ControlPlane(ControlPlaneConfig(store_url=url, listen="127.0.0.1:0", max_replicas=pods))
            await cp.start()
            try:
                await _wait_for("leadership", lambda: _leading(cp), 60.0)
                nodes = -(-pods // 110)
                runs = []
                for p in policies:
                    runs.append(await _cascade(cp, name=f"cascade-{p.lower()}", pods=pods, policy=p,
                                               bound=bound, nodes=nodes, timeout=timeout))
                    _print(runs[-1], "etcd" if etcd else "embedded")
            finally:
                await cp.stop()
    return {"store": "etcd" if etcd else "embedded", "runs": runs,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


async def _leading(cp: ControlPlane) -> bool:
    return cp.is_leader


def _print(x: dict[str, Any], store: str) -> None:
    print(f"{store} store, {x['pods']:,} {'bound' if x['bound'] else 'unscheduled'} pods, "
          f"{x['policy']}: cascade {x['cascade_s']} s ({x['pods_per_s']:,} pods/s, "
          f"{x['store_txns']:,} store transactions; {x['pods_left']} pods left"
          f"{', TIMED OUT' if x['timed_out'] else ''}); creating them took {x['create_s']} s",
          file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--policy", action="append", choices=("Background", "Foreground"),
                    help="repeatable; default both")
    ap.add_argument("--bound", action="store_true", help="pods placed on Nodes that are then deleted")
    ap.add_argument("--etcd", action="store_true", help="on a private etcd instead of the embedded store")
    ap.add_argument("--timeout", type=float, default=900.0, help="give up waiting after this many seconds")
    args = ap.parse_args(argv)
    log.configure(json=True, level="warning")
    try:
        r = asyncio.run(run(pods=args.pods, policies=args.policy or ["Background", "Foreground"],
                            bound=args.bound, etcd=args.etcd, timeout=args.timeout))
    except TimeoutError as e:  # the pods were not all made: no cascade to time
        print(f"cascade_delete: {e} (raise --timeout)", file=sys.stderr)
        return 1
    print(json.dumps(r, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
