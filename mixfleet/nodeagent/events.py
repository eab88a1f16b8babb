"""Events from the node (Pulling, Pulled, Created, Started, Killing, BackOff, Unhealthy,
FailedMount, FailedCreate, ...), written to the control plane the way the kubelet's event
recorder does, without ever holding up the pod work that reports them.

- ``emit`` is synchronous and O(1): it only adds to an in-memory table. One task per agent
  (``run``) writes the table out, each write bounded by ``timeout``, so a slow or absent
  control plane delays events, never reconciliation, probes or status.
- Repeats are aggregated as Kubernetes' event correlator does: one Event per involved
  object, type, reason and message (its name is a digest of them, so a restarted agent
  finds and bumps the same object), whose ``count`` and ``lastTimestamp`` grow. Occurrences
  that arrive while a write is pending or in flight are summed, not lost.
- Writes are rate-limited per involved object (a token bucket: ``burst`` writes, then one
  per ``1/per_second`` seconds), like the correlator's spam filter; held-back occurrences
  stay counted and go out with the next write for that object.
- The table is bounded (``max_pending`` distinct events); beyond it the oldest is dropped
  and the drop logged.

Messages follow the kubelet's wording, so what users read matches what they know.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from mixfleet.api import times
from mixfleet.client import (
    AlreadyExistsError,
    APIError,
    Client,
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
)
from mixfleet.util import log
from mixfleet.util.aio import wait_event, within
from mixfleet.util.ratelimit import TokenBucket

_log = log.get("nodeagent.events")
NORMAL, WARNING = "Normal", "Warning"
COMPONENT = "mixfleet-agent"

_RETRY_MIN, _RETRY_MAX = 1.0, 30.0


@dataclass(slots=True)
class _Pending:  # mutable on purpose: occurrences summed until written
    name: str
    namespace: str
    body: dict[str, Any]  # the Event as first written (count and times filled at write)
    object_key: str  # the rate limit's unit: the involved object's uid
    count: int
    first: str
    last: str
    first_micro: str = ""  # eventTime: orders events of one second
    not_before: float = 0.0  # monotonic time of the next attempt (after a failed write)
    failures: int = 0


@dataclass(frozen=True, slots=True)
class EventLimits:
    timeout: float = 5.0  # per write
    burst: int = 25  # writes per object before the rate applies
    per_second: float = 0.2  # then one write per object every 5 s
    max_pending: int = 2048
    concurrency: int = 4  # writes in flight at once


class NodeEvents:
    def __init__(
        self,
        client: Client,
        node_name: str,
        *,
        limits: EventLimits = EventLimits(),
        now: Callable[[], float] = time.monotonic,
        wall: Callable[[], str] = times.now,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.limits = limits
        self.now = now
        self.wall = wall
        self.written = 0  # writes that reached the control plane (tests, metrics)
        self.dropped = 0
        self._pending: OrderedDict[str, _Pending] = OrderedDict()  # by event key
        self._in_flight: set[str] = set()
        self._stored: OrderedDict[str, dict[str, Any]] = OrderedDict()  # last written, by key
        self._buckets: dict[str, TokenBucket] = {}
        self._wake = asyncio.Event()

    # -- what callers use -----------------------------------------------------------------
    def emit(
        self,
        involved: Mapping[str, Any],
        *,
        type: str,
        reason: str,
        message: str,
        container: str = "",
    ) -> None:
        """Record one occurrence. Never blocks and never raises: events are best effort."""
        try:
            self._add(involved, type=type, reason=reason, message=message, container=container)
        except Exception:  # an odd object must not break the caller's pod work
            _log.exception("event.emit_failed", reason=reason)

    def failed_mount(self, pod: Mapping[str, Any], *, volume: str, message: str) -> None:
        """A volume of ``pod`` could not be set up (for the volume code): Warning FailedMount,
        ``MountVolume.SetUp failed for volume "v" : <message>`` as the kubelet words it."""
        self.emit(
            pod,
            type=WARNING,
            reason="FailedMount",
            message=f'MountVolume.SetUp failed for volume "{volume}" : {message}',
        )

    def pending(self) -> int:
        return len(self._pending) + len(self._in_flight)

    # -- the table --------------------------------------------------------------------------
    def _add(
        self, involved: Mapping[str, Any], *, type: str, reason: str, message: str, container: str
    ) -> None:
        m = involved.get("metadata") or {}
        uid, name = str(m.get("uid") or ""), str(m.get("name") or "")
        ns = str(m.get("namespace") or "default")
        field_path = f"spec.containers{{{container}}}" if container else ""
        key = "\0".join((uid, name, ns, field_path, type, reason, message))
        now = self.wall()
        p = self._pending.get(key)
        if p is not None:
            p.count += 1
            p.last = now
            return
        digest = hashlib.sha256(f"{key}\0{self.node_name}".encode()).hexdigest()[:12]
        ref: dict[str, Any] = {
            "kind": involved.get("kind") or "Pod",
            "name": name,
            "namespace": ns,
            "uid": uid,
        }
        if field_path:
            ref["fieldPath"] = field_path
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{digest}", "namespace": ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": COMPONENT, "host": self.node_name},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.node_name,
        }
        self._pending[key] = _Pending(
            f"{name}.{digest}", ns, body, uid or name, 1, now, now, times.now_micro()
        )
        while len(self._pending) > self.limits.max_pending:
            _, old = self._pending.popitem(last=False)
            self.dropped += 1
            _log.warning("event.dropped", reason=old.body["reason"], why="too many pending events")
        self._wake.set()

    def _take_ready(self) -> tuple[list[tuple[str, _Pending]], float | None]:
        """Pending events that may be written now (a token taken for each), and the seconds
        until the next one could be."""
        now, wait = self.now(), None
        ready: list[tuple[str, _Pending]] = []
        for key, p in list(self._pending.items()):
            if len(ready) >= self.limits.concurrency - len(self._in_flight):
                break
            if key in self._in_flight:
                continue
            if p.not_before > now:
                wait = _min(wait, p.not_before - now)
                continue
            bucket = self._bucket(p.object_key, now)
            later = bucket.take(now)
            if later > 0:
                wait = _min(wait, later)
                continue
            del self._pending[key]
            ready.append((key, p))
        self._forget_full_buckets(now)
        return ready, wait

    def _bucket(self, key: str, now: float) -> TokenBucket:
        b = self._buckets.get(key)
        if b is None:
            lim = self.limits
            b = self._buckets[key] = TokenBucket(lim.per_second, lim.burst, lim.burst, now)
        return b

    def _forget_full_buckets(self, now: float) -> None:
        if len(self._buckets) < 4 * self.limits.max_pending:
            return
        refill = self.limits.burst / self.limits.per_second
        for k in [k for k, b in self._buckets.items() if now - b.stamp > refill]:
            del self._buckets[k]

    # -- writing ------------------------------------------------------------------------
    async def run(self) -> None:
        """Write events until cancelled."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._wake.clear()
                ready, wait = self._take_ready()
                for key, p in ready:
                    self._in_flight.add(key)
                    t = asyncio.create_task(self._write_one(key, p), name="event-write")
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                if self._pending and len(self._in_flight) >= self.limits.concurrency:
                    wait = None  # a finishing write wakes us
                await wait_event(self._wake, wait)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def flush(self, *, timeout: float = 30.0) -> None:
        """Wait until nothing is pending or in flight (tests; a stopping agent)."""
        async with asyncio.timeout(timeout):
            while self.pending():
                self._wake.set()
                await asyncio.sleep(0.02)

    async def _write_one(self, key: str, p: _Pending) -> None:
        try:
            await within(self._write(key, p), self.limits.timeout)
            self.written += 1
        except (APIError, TimeoutError) as e:
            self._requeue(key, p, str(e) or "timed out")
        except Exception:
            _log.exception("event.write_crashed", reason=p.body["reason"])
        finally:
            self._in_flight.discard(key)
            self._wake.set()

    def _requeue(self, key: str, p: _Pending, error: str) -> None:
        """Put a failed write back, merged with occurrences that came meanwhile."""
        p.failures += 1
        p.not_before = self.now() + min(_RETRY_MAX, _RETRY_MIN * 2 ** (p.failures - 1))
        newer = self._pending.pop(key, None)
        if newer is not None:
            p.count += newer.count
            p.last = newer.last
        self._pending[key] = p
        self._pending.move_to_end(key, last=False)  # oldest first: it is dropped first
        if p.failures in (1, 5) or p.failures % 20 == 0:
            _log.warning(
                "event.write_failed", reason=p.body["reason"], failures=p.failures, error=error
            )

    async def _write(self, key: str, p: _Pending) -> None:
        stored = self._stored.get(key)
        for _ in range(3):
            try:
                if stored is None:
                    new = {**p.body, "count": p.count, "firstTimestamp": p.first,
                           "lastTimestamp": p.last, "eventTime": p.first_micro}
                    stored = await self.client.create(new)
                else:
                    bumped = {**stored, "count": int(stored.get("count") or 1) + p.count,
                              "lastTimestamp": p.last}
                    stored = await self.client.update(bumped)
                self._remember(key, stored)
                return
            except AlreadyExistsError:  # written by this node before the agent restarted
                stored = await self._get(p)
            except ConflictError:
                stored = await self._get(p)
            except NotFoundError:
                stored = None
            except OutcomeUnknownError:
                self._stored.pop(key, None)  # may or may not have counted: re-read next time
                return
        raise ConflictError(f"event {p.namespace}/{p.name}: kept changing under us")

    async def _get(self, p: _Pending) -> dict[str, Any] | None:
        try:
            return await self.client.get("Event", p.name, p.namespace)
        except NotFoundError:
            return None

    def _remember(self, key: str, stored: dict[str, Any]) -> None:
        self._stored[key] = stored
        self._stored.move_to_end(key)
        while len(self._stored) > self.limits.max_pending:
            self._stored.popitem(last=False)


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)
