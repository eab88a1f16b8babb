"""What the hollow-node benchmark watches: Node readiness, Lease renewals and pod lifecycles
(through in-process watches on the control plane's registry), and the process's CPU, RSS
and event-loop lag (sampled once a second)."""

from __future__ import annotations

import asyncio
import os
import resource
import threading
import time
from typing import Any

from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.watch import watch
from mixfleet.util.aio import run_together

LEASE_NAMESPACE = "mixfleet-node-lease"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def _ready_status(node: dict[str, Any]) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("status"))
    return None


class Observer:
    """Timestamps (monotonic) of what the benchmark measures, from three watches."""

    def __init__(self, registry: Registry, *, names: set[str], namespace: str) -> None:
        self.registry, self.names, self.namespace = registry, names, namespace
        self.started = asyncio.Event()
        self.ready_at: dict[str, float] = {}
        self.not_ready: dict[str, str] = {}  # node -> what its Ready condition said
        self.last_renewal: dict[str, float] = {}
        self.gaps: list[float] = []  # seconds between two renewals of one node
        self._renewals = 0
        self._window = (0.0, 0)  # (start, renewals at start)
        self.created: dict[str, float] = {}  # filled by the churn driver
        self.delete_requested: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        self.unschedulable: set[str] = set()
        self.failed: dict[str, str] = {}

    async def run(self) -> None:
        revs = [(await self.registry.list(k, all_namespaces=True))[1] for k in ("Node", "Lease", "Pod")]
        self.started.set()
        await run_together(self._nodes(revs[0] + 1), self._leases(revs[1] + 1), self._pods(revs[2] + 1))

    async def _nodes(self, rev: int) -> None:
        async for ev in watch(self.registry, "Node", all_namespaces=True, from_revision=rev):
            name = ev.object["metadata"]["name"]
            status = None if ev.type == "DELETED" else _ready_status(ev.object)
            if status == "True":
                self.ready_at.setdefault(name, time.monotonic())
            elif name in self.ready_at and name not in self.not_ready:
                conds = (ev.object.get("status") or {}).get("conditions") or []
                ready = next((c for c in conds if c.get("type") == "Ready"), {})
                self.not_ready[name] = f"{ev.type} Ready={status} {ready.get('reason')}: {ready.get('message')}"

    async def _leases(self, rev: int) -> None:
        async for ev in watch(self.registry, "Lease", namespace=LEASE_NAMESPACE, from_revision=rev):
            if ev.type == "DELETED":
                continue
            name, now = ev.object["metadata"]["name"], time.monotonic()
            if name in self.last_renewal:
                self.gaps.append(now - self.last_renewal[name])
            self.last_renewal[name] = now
            self._renewals += 1

    async def _pods(self, rev: int) -> None:
        async for ev in watch(self.registry, "Pod", namespace=self.namespace, from_revision=rev):
            name, now = ev.object["metadata"]["name"], time.monotonic()
            if ev.type == "DELETED":
                self.gone.setdefault(name, now)
                continue
            st = ev.object.get("status") or {}
            if st.get("phase") == "Running":
                self.running.setdefault(name, now)
            elif st.get("phase") == "Failed":
                self.failed.setdefault(name, f"{st.get('reason')}: {st.get('message')}")
            if any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                   for c in st.get("conditions") or []):
                self.unschedulable.add(name)

    def lease_window_start(self) -> None:
        self._window = (time.monotonic(), self._renewals)

    def lease_rates(self) -> dict[str, float]:
        start, count = self._window
        elapsed = time.monotonic() - start
        return {"lease_writes_per_s": round((self._renewals - count) / elapsed, 1)}

    def gone_count(self) -> int:
        return sum(1 for n in self.created if n in self.gone)

    def pod_figures(self) -> dict[str, Any]:
        start = [self.running[n] - t for n, t in self.created.items() if n in self.running]
        delete = [self.gone[n] - t for n, t in self.delete_requested.items() if n in self.gone]
        return {
            "pods_running": len(start),
            "pods_unschedulable": len(self.unschedulable & set(self.created)),
            "pods_failed": len(self.failed),
            "pods_not_gone": len(self.created) - self.gone_count(),
            "start_p50_s": round(pct(start, 50), 3),
            "start_p99_s": round(pct(start, 99), 3),
            "start_max_s": round(max(start, default=float("nan")), 3),
            "delete_p50_s": round(pct(delete, 50), 3),
            "delete_p99_s": round(pct(delete, 99), 3),
        }

    def health(self) -> dict[str, Any]:
        return {
            "not_ready_nodes": len(self.not_ready),
            "not_ready_examples": dict(list(self.not_ready.items())[:3]),
            "max_lease_gap_s": round(max(self.gaps, default=0.0), 2),
            "lease_gap_p99_s": round(pct(self.gaps, 99), 2) if self.gaps else 0.0,
        }


def _thread_cpu_s(native_id: int) -> float:
    """utime + stime of one thread of this process, from /proc (Linux)."""
    try:
        with open(f"/proc/self/task/{native_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """CPU of the process, of the event-loop thread and of the store's thread; RSS; loop lag."""

    def __init__(self, *, store_thread_prefix: str, period: float = 1.0) -> None:
        self.store_thread_prefix, self.period = store_thread_prefix, period
        self._mark = self._now()
        self._lags: list[float] = []
        self._rss: list[float] = []

    def _store_cpu(self) -> float:
        return sum(_thread_cpu_s(t.native_id) for t in threading.enumerate()
                   if t.name.startswith(self.store_thread_prefix) and t.native_id)

    def _now(self) -> tuple[float, float, float, float]:
        return time.monotonic(), time.process_time(), time.thread_time(), self._store_cpu()

    async def run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(self.period)
            self._lags.append(time.monotonic() - t - self.period)
            self._rss.append(_rss_mb())

    def mark(self) -> None:
        self._mark, self._lags, self._rss = self._now(), [], []

    def since_mark(self) -> dict[str, float]:
        now = self._now()
        wall = max(1e-9, now[0] - self._mark[0])
        out = {
            "wall_s": round(wall, 1),
            "cpu_pct": round(100 * (now[1] - self._mark[1]) / wall, 1),
            "loop_cpu_pct": round(100 * (now[2] - self._mark[2]) / wall, 1),
            "store_cpu_pct": round(100 * (now[3] - self._mark[3]) / wall, 1),
            "rss_mb": round(max(self._rss, default=_rss_mb()), 1),
            "loop_lag_p99_ms": round(1000 * pct(self._lags, 99), 1) if self._lags else 0.0,
            "loop_lag_max_ms": round(1000 * max(self._lags, default=0.0), 1),
        }
        self.mark()
        return out

    @staticmethod
    def peak_rss_mb() -> float:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
