"""Liveness, readiness and startup probes: one scheduler per agent runs every running
container's probes on their periods and keeps the results in memory, with the kubelet's
semantics (pkg/kubelet/prober/worker.go):

- each probe is ``exec``, ``httpGet``, ``tcpSocket`` or ``grpc`` (``engines/netprobe.py``;
  the engine runs it, so simulated nodes answer through the same logic);
- a probe's result flips after ``successThreshold`` consecutive successes or
  ``failureThreshold`` consecutive failures; an error or a timeout is a failure; nothing is
  probed before ``initialDelaySeconds`` after the container started;
- readiness starts failing (not ready), liveness starts passing, startup starts unknown;
- while a startup probe has not passed, liveness and readiness are not run and the container
  is neither started nor ready; once it passed it is not run again for that container;
- a liveness or startup probe that fails (threshold reached) marks the container unhealthy:
  the reconcile plan stops it (with the probe's ``terminationGracePeriodSeconds`` or the
  pod's grace) and the restart policy and back-off decide the rest; the probe is on hold
  until a new container runs;
- every failed probe records an ``Unhealthy`` Warning event ("Liveness probe failed: HTTP
  probe failed with statuscode: 500"), aggregated with a count;
- a pod being deleted is no longer liveness- or startup-probed.

Results belong to one run of a container: a new container id (the agent restarts by
recreating) or a new start time starts over.

Cheap on purpose, since thousands of hollow nodes share one process: no task per
container, just a heap of due times and one loop per agent that sleeps until the earliest
one; due probes run in small concurrent batches.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from mixfleet.nodeagent.engines.base import ContainerState, Engine, EngineError, RunState
from mixfleet.nodeagent.engines.netprobe import (
    ExecAction,
    GRPCAction,
    HTTPGetAction,
    ProbeAction,
    TCPSocketAction,
)
from mixfleet.nodeagent.podspec import LABEL_CONTAINER, LABEL_POD_UID, pod_uid
from mixfleet.util import log
from mixfleet.util.aio import wait_event

_log = log.get("nodeagent.probes")


class ProbeKind(enum.Enum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        return self.value[0].lower() + self.value[1:] + "Probe"


class PortNotFound(ValueError):
    pass


def resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p["containerPort"])
    raise PortNotFound(f"port {port!r} not found in the container's ports")


def action_of(handler: Mapping[str, Any], container: Mapping[str, Any]) -> ProbeAction | None:
    """The check a probe (or hook) handler asks for; None without a handler we run.
    Raises PortNotFound for a named port the container does not have."""
    if (ex := handler.get("exec")) and ex.get("command"):
        return ExecAction(tuple(str(w) for w in ex["command"]))
    if (h := handler.get("httpGet")) is not None:
        return HTTPGetAction(
            port=resolve_port(h.get("port"), container),
            path=str(h.get("path") or "/"),
            host=str(h.get("host") or ""),
            scheme=str(h.get("scheme") or "HTTP").upper(),
            headers=tuple((str(x.get("name")), str(x.get("value") or ""))
                          for x in h.get("httpHeaders") or ()),
        )
    if (t := handler.get("tcpSocket")) is not None:
        return TCPSocketAction(port=resolve_port(t.get("port"), container), host=str(t.get("host") or ""))
    if (g := handler.get("grpc")) is not None:
        return GRPCAction(port=int(g.get("port") or 0), service=str(g.get("service") or ""))
    return None


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    action: ProbeAction
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3
    kind: ProbeKind = ProbeKind.READINESS
    termination_grace: int | None = None  # liveness/startup: the kill's grace, if set

    @classmethod
    def of(
        cls, container: Mapping[str, Any], kind: ProbeKind = ProbeKind.READINESS
    ) -> ProbeSpec | None:
        """The container's probe of ``kind``, with Kubernetes defaults; None without one.
        Zero or absent numbers take the default, as the API server would fill them in."""
        probe = container.get(kind.field) or {}
        try:
            action = action_of(probe, container)
        except PortNotFound:
            action = None  # refused at apply (api/probes.py); nothing to run here
        if action is None:
            return None
        grace = probe.get("terminationGracePeriodSeconds")
        return cls(
            action=action,
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
            kind=kind,
            termination_grace=int(grace) if grace is not None and kind is not ProbeKind.READINESS else None,
        )


def probes_of(container: Mapping[str, Any], *, deleting: bool = False) -> list[ProbeSpec]:
    kinds = [ProbeKind.READINESS] if deleting else list(ProbeKind)
    return [s for k in kinds if (s := ProbeSpec.of(container, k)) is not None]


def gates_readiness(container: Mapping[str, Any]) -> bool:
    """Whether readiness waits for a probe (a readiness or a startup probe we run)."""
    return any(ProbeSpec.of(container, k) for k in (ProbeKind.READINESS, ProbeKind.STARTUP))


@dataclass(frozen=True, slots=True)
class ProbeState:
    """Consecutive results of one container's probe; ``ready`` is whether it passes."""

    ready: bool = False
    successes: int = 0
    failures: int = 0

    def record(self, ok: bool, spec: ProbeSpec) -> ProbeState:
        if ok:
            n = self.successes + 1
            return ProbeState(self.ready or n >= spec.success_threshold, n, 0)
        n = self.failures + 1
        return ProbeState(self.ready and n < spec.failure_threshold, 0, n)


@dataclass(frozen=True, slots=True)
class Unhealthy:
    """A container a liveness or startup probe failed: the plan stops it."""

    reason: str  # "failed liveness probe" | "failed startup probe"
    grace: int | None  # the probe's terminationGracePeriodSeconds, else the pod's


@dataclass(slots=True)
class _Target:  # mutable on purpose: the scheduler's own bookkeeping for one container run
    container_id: str
    pod_uid: str
    container: str
    spec: ProbeSpec
    started_at: datetime | None
    due: float
    state: ProbeState = ProbeState()
    on_hold: bool = False


# (pod uid, container name, message) -> records the Unhealthy event
UnhealthyEvent = Callable[[str, str, str], None]


class Prober:
    def __init__(
        self,
        engine: Engine,
        *,
        on_change: Callable[[], None] = lambda: None,
        on_unhealthy: UnhealthyEvent = lambda uid, container, message: None,
        now: Callable[[], float] = time.monotonic,
        batch: int = 16,
    ) -> None:
        self.engine = engine
        self.on_change = on_change  # readiness, start or health changed: reconcile, report
        self.on_unhealthy = on_unhealthy
        self.now = now
        self.batch = batch  # probes in flight at once
        # Live views, read by status and the reconcile plan:
        self.ready: set[str] = set()  # ids of containers gated by probes that are ready now
        self.started: set[str] = set()  # ids of containers whose startup probe passed
        self.unhealthy: dict[str, Unhealthy] = {}  # ids a liveness/startup probe failed
        self.probes_run = 0
        self._targets: dict[tuple[str, ProbeKind], _Target] = {}
        self._gated: set[str] = set()  # ids whose readiness waits on a probe
        self._heap: list[tuple[float, int, _Target]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def state(self, container_id: str, kind: ProbeKind = ProbeKind.READINESS) -> ProbeState | None:
        t = self._targets.get((container_id, kind))
        return t.state if t else None

    def sync(
        self,
        pods: Iterable[Mapping[str, Any]],
        containers: Iterable[ContainerState],
        *,
        wall_now: datetime,
    ) -> None:
        """Track exactly the running containers' probes."""
        specs: dict[tuple[str, str], list[ProbeSpec]] = {}
        for pod in pods:
            deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
            for ct in (pod.get("spec") or {}).get("containers") or ():
                found = probes_of(ct, deleting=deleting)
                if found:
                    specs[(pod_uid(pod), str(ct.get("name")))] = found
        live: set[tuple[str, ProbeKind]] = set()
        running: set[str] = set()
        present: set[str] = set()
        for c in containers:
            present.add(c.id)
            if c.state is not RunState.RUNNING:
                continue
            running.add(c.id)
            key = (c.labels.get(LABEL_POD_UID, ""), c.labels.get(LABEL_CONTAINER, ""))
            for spec in specs.get(key, ()):
                live.add((c.id, spec.kind))
                t = self._targets.get((c.id, spec.kind))
                if t is None or t.started_at != c.started_at or t.spec != spec:
                    self._track(c, key, spec, wall_now)
        for tk in [tk for tk in self._targets if tk not in live]:
            del self._targets[tk]  # its heap entry is dropped when it comes due
        self._gated = {cid for cid, kind in self._targets if kind is not ProbeKind.LIVENESS}
        for cid in list(self.ready):
            if cid not in self._gated:
                self.ready.discard(cid)
        self.started &= running
        # Kept while the killed container is there: its restart does not hang on its exit
        # code (the kubelet restarts a probe-killed container under OnFailure too).
        for cid in [cid for cid in self.unhealthy if cid not in present]:
            del self.unhealthy[cid]

    def _track(
        self, c: ContainerState, key: tuple[str, str], spec: ProbeSpec, wall_now: datetime
    ) -> None:
        """A new run of a container (or a new probe): start over."""
        ran = (wall_now - c.started_at).total_seconds() if c.started_at else 0.0
        due = self.now() + max(0.0, spec.initial_delay - ran)
        t = _Target(c.id, key[0], key[1], spec, c.started_at, due,
                    ProbeState(ready=spec.kind is ProbeKind.LIVENESS))
        old = self._targets.get((c.id, spec.kind))
        self._targets[(c.id, spec.kind)] = t
        if old is not None and old.started_at != c.started_at:
            self._restarted(c.id)
        self._push(t)
        self._wake.set()

    def _restarted(self, cid: str) -> None:
        changed = cid in self.ready or cid in self.started
        self.ready.discard(cid)
        self.started.discard(cid)
        self.unhealthy.pop(cid, None)
        if changed:
            self.on_change()

    def _push(self, t: _Target) -> None:
        heapq.heappush(self._heap, (t.due, next(self._seq), t))

    def next_due(self) -> float | None:
        while self._heap and not self._current(self._heap[0][2]):
            heapq.heappop(self._heap)  # no longer tracked
        return self._heap[0][0] if self._heap else None

    def _current(self, t: _Target) -> bool:
        return self._targets.get((t.container_id, t.spec.kind)) is t

    def _has_started(self, cid: str) -> bool:
        return (cid, ProbeKind.STARTUP) not in self._targets or cid in self.started

    async def run_due(self) -> None:
        """Run every probe that is due now."""
        now, due = self.now(), []
        while (at := self.next_due()) is not None and at <= now:
            due.append(heapq.heappop(self._heap)[2])
        for i in range(0, len(due), self.batch):
            await asyncio.gather(*(self._probe(t) for t in due[i : i + self.batch]))

    async def _probe(self, t: _Target) -> None:
        began = self.now()
        kind = t.spec.kind
        if t.on_hold:
            return  # until a new container: kubelet's worker does the same
        if (kind is ProbeKind.STARTUP) == self._has_started(t.container_id):
            # Startup passed: not run again. Not started yet: the others wait for it.
            t.due = began + t.spec.period
            if kind is not ProbeKind.STARTUP:
                self._push(t)
            return
        try:
            result = await self.engine.probe(t.container_id, t.spec.action, timeout=t.spec.timeout)
            ok, detail = result.ok, result.message
        except EngineError as e:
            ok, detail = False, e.message
        self.probes_run += 1
        if not self._current(t):
            return  # stopped or restarted meanwhile: the result is stale
        if not ok:
            self.on_unhealthy(t.pod_uid, t.container, f"{kind.value} probe failed: {detail}")
        was, t.state = t.state.ready, t.state.record(ok, t.spec)
        t.due = max(began + t.spec.period, self.now())
        if t.state.ready != was:
            self._flipped(t, detail if not ok else "")
        elif kind is ProbeKind.STARTUP and t.state.failures >= t.spec.failure_threshold:
            t.on_hold = True  # never started: it is killed and restarted, like a liveness failure
            self.unhealthy[t.container_id] = Unhealthy("failed startup probe", t.spec.termination_grace)
            _log.info("probe.changed", pod_uid=t.pod_uid, container=t.container,
                      probe=kind.value, passing=False, detail=detail)
            self.on_change()
        if not t.on_hold and not (kind is ProbeKind.STARTUP and t.state.ready):
            self._push(t)

    def _flipped(self, t: _Target, detail: str) -> None:
        kind, cid = t.spec.kind, t.container_id
        _log.info("probe.changed", pod_uid=t.pod_uid, container=t.container, probe=kind.value,
                  passing=t.state.ready, detail=detail)
        if kind is ProbeKind.STARTUP:
            self.started.add(cid)
            self._after_start(cid)
        elif kind is ProbeKind.READINESS:
            self._set_ready(cid)
        elif not t.state.ready:
            t.on_hold = True
            self.unhealthy[cid] = Unhealthy("failed liveness probe", t.spec.termination_grace)
        self.on_change()

    def _after_start(self, cid: str) -> None:
        """Startup passed: liveness and readiness start now, and readiness may follow."""
        now = self.now()
        for kind in (ProbeKind.LIVENESS, ProbeKind.READINESS):
            t = self._targets.get((cid, kind))
            if t is not None:
                t.due = now
                self._push(t)
        self._set_ready(cid)
        self._wake.set()

    def _set_ready(self, cid: str) -> None:
        readiness = self._targets.get((cid, ProbeKind.READINESS))
        ok = self._has_started(cid) and (readiness is None or readiness.state.ready)
        (self.ready.add if ok else self.ready.discard)(cid)

    async def run(self) -> None:
        """Run probes until cancelled."""
        while True:
            self._wake.clear()  # before the batch: a target added meanwhile wakes us again
            await self.run_due()
            at = self.next_due()
            timeout = None if at is None else max(0.0, at - self.now())
            await wait_event(self._wake, timeout)
