"""Hollow nodes at scale: ``python -m benchmarks.hollow --nodes 1000 [--seconds 60]
[--churn 10] [--heartbeat 5]``.

One process: an in-process :class:`controlplane.app.ControlPlane` on the embedded store in a
temporary directory, and N hollow nodes, each a real node agent (``nodeagent.runner.run_node``
over a :class:`nodeagent.engines.simulated.SimulatedEngine`) talking gRPC to it through one
shared :class:`controlplane.client.Client`, as ``mixfleet agent --simulate`` runs them. The
fleet is ~70% Linux and ~30% Windows (builds 17763, 20348 and 26100, some with Hyper-V).

Phases, in order:

1. register: start every agent at once; time until every Node is Ready;
2. idle: ``--seconds`` of heartbeats only (Lease writes/s, CPU, RSS, event-loop lag);
3. churn: ``--seconds`` creating ``--churn`` pods/s (Linux and Windows of mixed builds,
   process and Hyper-V) through the API, each deleted gracefully ``--lifetime`` s after it
   was created, so placement, binding, agent starts, status writes and graceful deletion all
   run; then drain: wait until every churned pod is gone.

Throughout, a watch on the Nodes counts nodes whose Ready condition left True after they
first became Ready (must be 0), and a watch on the Leases times every heartbeat, so the
longest gap between two renewals of one node shows trouble long before the node lifecycle
controller's ``node_monitor_grace`` (default 40 s) runs out. CPU% and RSS are of the whole
process (control plane and agents share it); the event-loop and store threads are also
shown on their own. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from benchmarks.hollow_observe import Observer, Sampler, pct
from mixfleet.client import APIError, Client
from mixfleet.cmd.agents import NodePlan, simulated_node
from mixfleet.cmd.simspec import parse_all
from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
from mixfleet.nodeagent.agent import AgentConfig
from mixfleet.nodeagent.runner import run_node
from mixfleet.util import log
from mixfleet.util.aio import run_together

NAMESPACE = "hollow"
_WIN_TOLERATION = [{"key": "os", "value": "windows", "effect": "NoSchedule"}]
_MCR = "mcr.microsoft.com/windows"


def fleet_specs(nodes: int) -> list[str]:
    """``--simulate`` specs for ~70% Linux, ~30% Windows over three builds, some Hyper-V."""
    win = max(3, round(nodes * 0.3)) if nodes >= 6 else min(nodes, 3)
    b17763, b20348 = win // 3, win // 3
    b26100 = win - b17763 - b20348
    hv20348, hv26100 = b20348 // 2, max(1, b26100 // 2) if b26100 else 0
    counts = {
        "linux/6.1": nodes - win,
        "windows/17763": b17763,
        "windows/20348": b20348 - hv20348,
        "windows/20348+hyperv": hv20348,
        "windows/26100": b26100 - hv26100,
        "windows/26100+hyperv": hv26100,
    }
    return [f"{spec}x{n}" for spec, n in counts.items() if n > 0]


def _windows(image: str, *, platform: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "annotations": annotations or {},
        "spec": {
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "tolerations": _WIN_TOLERATION,
            "platform": platform,
            "containers": [{"name": "app", "image": image,
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
        },
    }


# (template name, metadata extras + spec); the cycle is 60% Linux, 40% Windows.
_LINUX = {
    "annotations": {},
    "spec": {"containers": [{"name": "app", "image": "mixfleet/busybox:latest",
                             "command": ["sleep", "3600"],
                             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
}
TEMPLATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("linux", _LINUX),
    ("win2019-process", _windows(f"{_MCR}/servercore:ltsc2019",
                                 platform={"isolation": "process", "osVersion": "10.0.17763.6189"})),
    ("linux", _LINUX),
    ("win2022-auto", _windows(f"{_MCR}/servercore:ltsc2022", platform={"isolation": "auto"})),
    ("linux", _LINUX),
    ("win2019-hyperv", _windows(
        f"{_MCR}/nanoserver:ltsc2019", platform={"osVersion": "10.0.17763.6189"},
        annotations={"experimental.windows.kubernetes.io/isolation-type": "hyperv"})),
    ("linux", _LINUX),
    ("win2025-auto", _windows(f"{_MCR}/servercore:ltsc2025", platform={"isolation": "auto"})),
    ("linux", _LINUX),
    ("linux", _LINUX),
)


def pod_manifest(i: int, *, grace: int) -> dict[str, Any]:
    template, body = TEMPLATES[i % len(TEMPLATES)]
    spec = {**body["spec"], "terminationGracePeriodSeconds": grace}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"churn-{i:06d}", "namespace": NAMESPACE,
                     "labels": {"template": template}, "annotations": body["annotations"]},
        "spec": spec,
    }


@dataclass
class Churn:
    """Creates pods at a fixed rate and deletes each one ``lifetime`` s after creating it."""

    client: Client
    observer: Observer
    rate: float
    lifetime: float
    grace: int
    errors: list[str] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, seconds: float) -> int:
        start, i = time.monotonic(), 0
        while (due := start + i / self.rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            t = asyncio.create_task(self._one(i))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
            i += 1
        return i

    async def _one(self, i: int) -> None:
        pod = pod_manifest(i, grace=self.grace)
        name = pod["metadata"]["name"]
        try:
            self.observer.created[name] = time.monotonic()
            await self.client.create(pod)
            await asyncio.sleep(self.lifetime)
            self.observer.delete_requested[name] = time.monotonic()
            await self.client.delete("Pod", name, NAMESPACE)
        except APIError as e:
            self.errors.append(f"{name}: {e}")

    async def wait(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


async def _until(check: Callable[[], bool], *, timeout: float, step: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(step)
    return True


def _start_agents(client: Client, plans: list[NodePlan], heartbeat: float) -> asyncio.Task[None]:
    config = AgentConfig(heartbeat_seconds=heartbeat)
    agents = [
        run_node(client, p.engine, p.name, listen="127.0.0.1:0", advertise_host="127.0.0.1",
                 facts=p.facts, config=config)
        for p in plans
    ]
    return asyncio.create_task(run_together(*agents), name="hollow-agents")


async def run(*, nodes: int, seconds: float, churn: float, heartbeat: float, grace: float,
              lifetime: float, pod_grace: int, ready_timeout: float) -> dict[str, Any]:
    plans = [simulated_node(s) for s in parse_all(fleet_specs(nodes))]
    names = {p.name for p in plans}
    r: dict[str, Any] = {"nodes": nodes, "heartbeat_s": heartbeat, "node_monitor_grace_s": grace,
                         "churn_pods_per_s": churn, "phase_seconds": seconds,
                         "windows_nodes": sum(p.facts.os == "windows" for p in plans)}
    with tempfile.TemporaryDirectory(prefix="mixfleet-hollow-") as tmp:
        cp = ControlPlane(ControlPlaneConfig(
            store_url=f"sqlite:///{tmp}/state.db", listen="127.0.0.1:0",
            node_monitor_grace=grace, pod_eviction_timeout=max(60.0, grace)))
        await cp.start()
        assert cp.registry is not None
        await cp.registry.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
        obs = Observer(cp.registry, names=names, namespace=NAMESPACE)
        sampler = Sampler(store_thread_prefix="mixfleet-sqlite")
        observing = asyncio.create_task(run_together(obs.run(), sampler.run()), name="observe")
        await obs.started.wait()
        agents_client = Client(cp.address, retry_seconds=60)
        user_client = Client(cp.address, retry_seconds=30)
        agents: asyncio.Task[None] | None = None
        try:
            t0 = time.monotonic()
            agents = _start_agents(agents_client, plans, heartbeat)
            all_ready = await _until(lambda: len(obs.ready_at) >= nodes, timeout=ready_timeout)
            r["register_all_ready_s"] = round(time.monotonic() - t0, 2)
            r["ready_nodes"] = len(obs.ready_at)
            r["all_ready"] = all_ready
            if all_ready:
                ready = sorted(t - t0 for t in obs.ready_at.values())
                r["register_ready_p50_s"] = round(pct(ready, 50), 2)
                r["register"] = sampler.since_mark()
                await asyncio.sleep(heartbeat)  # let the first renewals after registration settle
                sampler.mark()
                obs.lease_window_start()
                await asyncio.sleep(seconds)
                r["idle"] = {**sampler.since_mark(), **obs.lease_rates(),
                             "lease_expected_per_s": round(nodes / heartbeat, 1)}
                if churn > 0:
                    r["churn"] = await _churn_phase(user_client, obs, sampler, churn=churn,
                                                    seconds=seconds, lifetime=lifetime,
                                                    pod_grace=pod_grace)
        finally:
            r.update(obs.health())
            r["peak_rss_mb"] = sampler.peak_rss_mb()
            if agents is not None:
                agents.cancel()
                await asyncio.gather(agents, return_exceptions=True)
            for p in plans:
                await p.engine.close()
            await agents_client.close()
            await user_client.close()
            observing.cancel()
            await asyncio.gather(observing, return_exceptions=True)
            await cp.stop()
    return r


async def _churn_phase(client: Client, obs: Observer, sampler: Sampler, *, churn: float,
                       seconds: float, lifetime: float, pod_grace: int) -> dict[str, Any]:
    sampler.mark()
    obs.lease_window_start()
    c = Churn(client, obs, rate=churn, lifetime=lifetime, grace=pod_grace)
    created = await c.run(seconds)
    out: dict[str, Any] = {**sampler.since_mark(), **obs.lease_rates(), "pods_created": created}
    await c.wait(timeout=lifetime + 60)
    drained = await _until(lambda: obs.gone_count() >= created, timeout=120)
    out.update(obs.pod_figures(), drained=drained, api_errors=len(c.errors))
    if c.errors:
        out["first_api_error"] = c.errors[0]
    return out


def summary(r: dict[str, Any]) -> str:
    idle, ch = r.get("idle") or {}, r.get("churn") or {}
    lines = [
        f"{r['nodes']:,} hollow nodes ({r['windows_nodes']} Windows), heartbeat {r['heartbeat_s']} s, "
        f"grace {r['node_monitor_grace_s']} s: all Ready in {r.get('register_all_ready_s')} s "
        f"({r.get('ready_nodes')}/{r['nodes']})",
        f"idle: {idle.get('lease_writes_per_s')} Lease writes/s (expected {idle.get('lease_expected_per_s')}), "
        f"CPU {idle.get('cpu_pct')}% (loop {idle.get('loop_cpu_pct')}%, store {idle.get('store_cpu_pct')}%), "
        f"RSS {idle.get('rss_mb')} MB, loop lag p99 {idle.get('loop_lag_p99_ms')} ms",
    ]
    if ch:
        lines.append(
            f"churn {r['churn_pods_per_s']} pods/s: {ch.get('pods_created')} created, "
            f"{ch.get('pods_running')} Running, start p50 {ch.get('start_p50_s')} s p99 {ch.get('start_p99_s')} s, "
            f"delete p50 {ch.get('delete_p50_s')} s p99 {ch.get('delete_p99_s')} s, "
            f"{ch.get('lease_writes_per_s')} Lease writes/s, CPU {ch.get('cpu_pct')}% "
            f"(loop {ch.get('loop_cpu_pct')}%, store {ch.get('store_cpu_pct')}%), RSS {ch.get('rss_mb')} MB"
        )
    bad = r.get("not_ready_nodes", 0)
    lines.append(
        f"nodes that went NotReady: {bad}" + (f" -- NOT ZERO: {r.get('not_ready_examples')}" if bad else "")
        + f"; longest heartbeat gap {r.get('max_lease_gap_s')} s (p99 {r.get('lease_gap_p99_s')} s)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the idle and of the churn phase")
    ap.add_argument("--churn", type=float, default=5.0, help="pods created per second (0: no churn phase)")
    ap.add_argument("--heartbeat", type=float, default=AgentConfig().heartbeat_seconds)
    ap.add_argument("--grace", type=float, default=ControlPlaneConfig("").node_monitor_grace,
                    help="node_monitor_grace of the node lifecycle controller")
    ap.add_argument("--lifetime", type=float, default=10.0, help="seconds from creating a pod to deleting it")
    ap.add_argument("--pod-grace", type=int, default=2, help="pods' terminationGracePeriodSeconds")
    ap.add_argument("--ready-timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    log.configure(json=True, level="warning")
    r = asyncio.run(run(nodes=args.nodes, seconds=args.seconds, churn=args.churn,
                        heartbeat=args.heartbeat, grace=args.grace, lifetime=args.lifetime,
                        pod_grace=args.pod_grace, ready_timeout=args.ready_timeout))
    print(summary(r), file=sys.stderr)
    print(json.dumps(r, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
