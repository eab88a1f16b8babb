"""Readiness probes: one scheduler per agent runs every running container's exec probe on
its period and keeps the results in memory.

Kubernetes semantics: a probed container is not ready until its first success; it turns
ready after ``successThreshold`` consecutive successes and unready after
``failureThreshold`` consecutive failures; a probe that errs or outlives ``timeoutSeconds``
has failed. Results belong to one run of a container: a new container id (the agent
restarts by recreating) or a new start time starts over, not ready. Containers without a
probe are not tracked here; status treats them as ready while they run.

Cheap on purpose, since thousands of hollow nodes share one process: no task per
container, just a heap of due times and one loop per agent that sleeps until the earliest
one; due probes run in small concurrent batches.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from mixfleet.nodeagent.engines.base import (
    ContainerState,
    Engine,
    EngineError,
    RunState,
)
from mixfleet.nodeagent.podspec import LABEL_CONTAINER, LABEL_POD_UID, pod_uid
from mixfleet.util import log
from mixfleet.util.aio import wait_event

_log = log.get("nodeagent.probes")


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    command: tuple[str, ...]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, container: Mapping[str, Any]) -> ProbeSpec | None:
        """The container's exec readinessProbe, with Kubernetes defaults; None without one.
        Zero or absent numbers take the default, as the API server would fill them in."""
        probe = container.get("readinessProbe") or {}
        command = (probe.get("exec") or {}).get("command")
        if not command:
            return None
        return cls(
            command=tuple(str(w) for w in command),
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


@dataclass(frozen=True, slots=True)
class ProbeState:
    """Consecutive results of one container's probe."""

    ready: bool = False
    successes: int = 0
    failures: int = 0

    def record(self, ok: bool, spec: ProbeSpec) -> ProbeState:
        if ok:
            n = self.successes + 1
            return ProbeState(self.ready or n >= spec.success_threshold, n, 0)
        n = self.failures + 1
        return ProbeState(self.ready and n < spec.failure_threshold, 0, n)


@dataclass(slots=True)
class _Target:  # mutable on purpose: the scheduler's own bookkeeping for one container run
    container_id: str
    pod_uid: str
    container: str
    spec: ProbeSpec
    started_at: datetime | None
    due: float
    state: ProbeState = ProbeState()


class Prober:
    def __init__(
        self,
        engine: Engine,
        *,
        on_change: Callable[[], None] = lambda: None,
        now: Callable[[], float] = time.monotonic,
        batch: int = 16,
    ) -> None:
        self.engine = engine
        self.on_change = on_change  # a container's readiness flipped: report status
        self.now = now
        self.batch = batch  # probes in flight at once
        self.ready: set[str] = set()  # ids of probed containers that are ready (live view)
        self.probes_run = 0
        self._targets: dict[str, _Target] = {}
        self._heap: list[tuple[float, int, _Target]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def state(self, container_id: str) -> ProbeState | None:
        t = self._targets.get(container_id)
        return t.state if t else None

    def sync(
        self,
        pods: Iterable[Mapping[str, Any]],
        containers: Iterable[ContainerState],
        *,
        wall_now: datetime,
    ) -> None:
        """Track exactly the running containers whose pod container has a probe."""
        specs: dict[tuple[str, str], ProbeSpec] = {}
        for pod in pods:
            for ct in (pod.get("spec") or {}).get("containers") or ():
                spec = ProbeSpec.of(ct)
                if spec is not None:
                    specs[(pod_uid(pod), str(ct.get("name")))] = spec
        live: set[str] = set()
        for c in containers:
            key = (c.labels.get(LABEL_POD_UID, ""), c.labels.get(LABEL_CONTAINER, ""))
            spec = specs.get(key)
            if c.state is not RunState.RUNNING or spec is None:
                continue
            live.add(c.id)
            t = self._targets.get(c.id)
            if t is None or t.started_at != c.started_at or t.spec != spec:
                self._track(c, key, spec, wall_now)
        for cid in [cid for cid in self._targets if cid not in live]:
            del self._targets[cid]  # its heap entry is dropped when it comes due
            self.ready.discard(cid)

    def _track(
        self, c: ContainerState, key: tuple[str, str], spec: ProbeSpec, wall_now: datetime
    ) -> None:
        """A new run of a container (or a new probe): start over, not ready."""
        ran = (wall_now - c.started_at).total_seconds() if c.started_at else 0.0
        due = self.now() + max(0.0, spec.initial_delay - ran)
        t = _Target(c.id, key[0], key[1], spec, c.started_at, due)
        self._targets[c.id] = t
        if c.id in self.ready:
            self.ready.discard(c.id)
            self.on_change()
        self._push(t)
        self._wake.set()

    def _push(self, t: _Target) -> None:
        heapq.heappush(self._heap, (t.due, next(self._seq), t))

    def next_due(self) -> float | None:
        while self._heap and not self._current(self._heap[0][2]):
            heapq.heappop(self._heap)  # no longer tracked
        return self._heap[0][0] if self._heap else None

    def _current(self, t: _Target) -> bool:
        return self._targets.get(t.container_id) is t

    async def run_due(self) -> None:
        """Run every probe that is due now."""
        now, due = self.now(), []
        while (at := self.next_due()) is not None and at <= now:
            due.append(heapq.heappop(self._heap)[2])
        for i in range(0, len(due), self.batch):
            await asyncio.gather(*(self._probe(t) for t in due[i : i + self.batch]))

    async def _probe(self, t: _Target) -> None:
        began = self.now()
        try:
            result = await self.engine.exec(t.container_id, t.spec.command, timeout=t.spec.timeout)
            ok, detail = result.exit_code == 0, result.output[-200:]
        except EngineError as e:
            ok, detail = False, e.message
        self.probes_run += 1
        if not self._current(t):
            return  # stopped or restarted meanwhile: the result is stale
        was, t.state = t.state.ready, t.state.record(ok, t.spec)
        t.due = max(began + t.spec.period, self.now())
        self._push(t)
        if t.state.ready != was:
            (self.ready.add if t.state.ready else self.ready.discard)(t.container_id)
            _log.info(
                "probe.readiness_changed",
                pod_uid=t.pod_uid,
                container=t.container,
                ready=t.state.ready,
                detail=detail if not ok else "",
            )
            self.on_change()

    async def run(self) -> None:
        """Run probes until cancelled."""
        while True:
            self._wake.clear()  # before the batch: a target added meanwhile wakes us again
            await self.run_due()
            at = self.next_due()
            timeout = None if at is None else max(0.0, at - self.now())
            await wait_event(self._wake, timeout)
