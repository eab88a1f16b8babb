"""The scheduler loop: watches pending pods and binds them with compare-and-swap writes.

Pending pods wait in a queue; a pod that could not be placed parks in ``unschedulable``
until the cluster changes (a node added or changed, a pod deleted), the way Kubernetes
moves pods back to the active queue on cluster events, so there is no busy loop.

Bindings of one batch go to the registry's ``bind`` in chunks, one store transaction each;
each binding is validated and is a CAS on the pod's mod_revision, so two schedulers racing
for a pod cannot both win: when a chunk conflicts (or one binding is refused), nothing of it
is written and it is retried pod by pod; the losers are re-planned from fresh state.

One :class:`Snapshot` lives across batches, as Kubernetes' scheduler cache does: pod events
charge a bound pod to its node (``charge_bound``) or forget a deleted or finished one, so a
batch costs its own decisions rather than a re-index of every node and bound pod. Pods this
loop bound stay *assumed* until the informer confirms them (a rebuild re-applies them, a
lost CAS forgets them). Node changes that matter to placement (anything ``read_node``
reads) only mark the snapshot stale; it is rebuilt lazily before the next batch.
"""

from __future__ import annotations

import asyncio

from mixfleet.api import claims, times
from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.pods import key as pod_uid  # the snapshot's identity of a pod
from mixfleet.api.quantity import QuantityError
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.claimbinding import claim_count
from mixfleet.controlplane.events import NORMAL, WARNING, EventRecorder
from mixfleet.controlplane.informer import Informer, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import (
    Binding,
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
)
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.scheduler import (
    Placement,
    Scheduler,
    SchedulerConfig,
    Snapshot,
    Unschedulable,
)
from mixfleet.scheduler.nodes import read_node
from mixfleet.util import log

_log = log.get("scheduler")

TXN_OPS = 100  # etcd's default --max-txn-ops is 128
SCHEDULER_NAMES = ("", "default-scheduler", "mixfleet")


def is_pending(pod: ObjView) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and spec.get("schedulerName", "") in SCHEDULER_NAMES
        and (pod.get("status") or {}).get("phase", "Pending") == "Pending"
    )


class SchedulerLoop:
    def __init__(
        self,
        registry: Registry,
        *,
        config: SchedulerConfig,
        events: EventRecorder,
        batch_size: int = 500,
        watches: WatchCache | None = None,
    ) -> None:
        self.registry = registry
        self.scheduler = Scheduler(config)
        self.events = events
        self.batch_size = batch_size
        self.nodes = Informer(registry, "Node", handler=self._on_node, watches=watches)
        self.pods = Informer(registry, "Pod", handler=self._on_pod, watches=watches)
        self.claims = Informer(registry, claims.KIND, handler=self._on_claim, watches=watches)
        self._active: dict[str, None] = {}  # ordered set of pod cache keys
        self._unschedulable: set[str] = set()
        self._wake = asyncio.Event()
        self._snap: Snapshot | None = None  # None: stale, rebuilt before the next batch
        # Pods this loop bound that the informer has not shown bound yet, by uid.
        self._assumed: dict[str, tuple[ObjView, Placement]] = {}

    @property
    def snapshot(self) -> Snapshot | None:
        """The live snapshot (None while stale), for diagnostics and tests; read only."""
        return self._snap

    def _on_node(self, type_: str, node: ObjView) -> None:
        if self._snap is not None and _node_changed(self._snap, type_, node):
            self._snap = None
        self._retry_unschedulable()

    def _on_claim(self, type_: str, claim: ObjView) -> None:
        """A claim created, bound or being deleted changes where its pods may go."""
        if self._snap is not None:
            if type_ == "DELETED":
                self._snap.claims.remove(claim)
            elif not self._snap.claims.observe(claim):
                return
        self._retry_unschedulable()

    def _on_pod(self, type_: str, pod: ObjView) -> None:
        self._track_usage(type_, pod)
        key = cache_key(pod)
        if type_ == "DELETED" or not is_pending(pod):
            self._active.pop(key, None)
            self._unschedulable.discard(key)
            if type_ == "DELETED" or (pod.get("status") or {}).get("phase") in (
                "Succeeded",
                "Failed",
            ):
                self._retry_unschedulable()  # capacity was freed
            return
        if key not in self._unschedulable:
            self._active[key] = None
            self._wake.set()

    def _track_usage(self, type_: str, pod: ObjView) -> None:
        """Keep the live snapshot's usage in step with the pod's object."""
        uid = pod_uid(pod)
        if type_ == "DELETED":
            self._assumed.pop(uid, None)
            if self._snap is not None:
                self._snap.forget(pod)
            return
        if not (pod.get("spec") or {}).get("nodeName"):
            return  # pending: nothing to count (an in-flight assumption stays)
        self._assumed.pop(uid, None)  # confirmed (or bound by someone else)
        if self._snap is not None:
            self._snap.charge_bound(pod)

    def _snapshot(self) -> Snapshot:
        if self._snap is None:
            snap = Snapshot.build(
                self.nodes.items(), self.pods.items(), config=self.scheduler.config, claims=self.claims.items()
            )
            for pod, placement in self._assumed.values():
                if pod_uid(pod) not in snap.charges and placement.node_name in snap.index:
                    snap.assume(pod, placement)
            self._snap = snap
        elif len(self._snap.plans) > self.scheduler.config.template_cache_size:
            self._snap.plans.clear()  # a long-lived snapshot must not collect every template
        return self._snap

    def _retry_unschedulable(self) -> None:
        if self._unschedulable:
            for key in self._unschedulable:
                self._active[key] = None
            self._unschedulable.clear()
        self._wake.set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(i.run()) for i in (self.nodes, self.pods, self.claims)]
        try:
            await self.nodes.synced.wait()
            await self.pods.synced.wait()
            await self.claims.synced.wait()
            _log.info("scheduler.started", nodes=len(self.nodes.cache))
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._active:
                    await self.schedule_batch()
                    await asyncio.sleep(0)  # let watches deliver what the batch caused
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def schedule_batch(self) -> None:
        keys = list(self._active)[: self.batch_size]
        for k in keys:
            self._active.pop(k, None)
        pods = [p for p in (self.pods.get(k) for k in keys) if p is not None and is_pending(p)]
        if not pods:
            return
        snap = self._snapshot()
        bound: list[tuple[ObjView, Placement]] = []
        refused: list[tuple[ObjView, Unschedulable]] = []
        for pod in pods:
            result = self.scheduler.schedule(pod, snap, seed=pod["metadata"].get("uid", ""))
            if isinstance(result, Placement):
                snap.assume(pod, result)
                self._assumed[pod_uid(pod)] = (pod, result)
                bound.append((pod, result))
            else:
                # Parked now, before any await, so a node event during the writes below
                # still moves it back to the queue.
                self._unschedulable.add(cache_key(pod))
                refused.append((pod, result))
        try:
            for chunk in _chunks(bound):
                await self._commit(chunk)
        except BaseException:
            # Unknown which writes landed: start over from the informers' view.
            self._snap = None
            self._assumed.clear()
            raise
        for pod, result in refused:
            await self._mark_unschedulable(pod, result)

    async def _commit(self, chunk: list[tuple[ObjView, Placement]]) -> None:
        try:
            await self.registry.bind([_binding(p, pl) for p, pl in chunk])
            done = chunk
        except (StaleObjectError, ObjectNotFoundError, InvalidObjectError) as e:
            _log.info("scheduler.batch_conflict", pods=len(chunk), error=str(e))
            done = [(p, pl) for p, pl in chunk if await self._commit_one(p, pl)]
        for pod, placement in done:
            _log.info(
                "pod.bound", pod=cache_key(pod), node=placement.node_name, isolation=placement.isolation
            )
        # One transaction for the chunk's events, not one write per pod.
        await self.events.record_many(
            [(pod, _scheduled_message(pod, placement)) for pod, placement in done],
            type=NORMAL,
            reason="Scheduled",
        )

    async def _commit_one(self, pod: ObjView, placement: Placement) -> bool:
        try:
            await self.registry.bind([_binding(pod, placement)])
            return True
        except (StaleObjectError, ObjectNotFoundError):
            # Lost the race (another scheduler bound it, or it changed): re-plan from the
            # watch's fresh copy, if it is still pending.
            _log.info("scheduler.bind_conflict", pod=cache_key(pod))
            self._unassume(pod)
            self._active[cache_key(pod)] = None
            self._wake.set()
            return False
        except InvalidObjectError as e:
            # The registry refused this binding (a bug here, not a race): park the pod
            # until the cluster changes rather than retrying it in a loop.
            _log.error("scheduler.bind_refused", pod=cache_key(pod), error=str(e))
            self._unassume(pod)
            self._unschedulable.add(cache_key(pod))
            return False

    def _unassume(self, pod: ObjView) -> None:
        """Drop this loop's assumption, unless the informer already replaced it with the
        pod's real binding (which must stay counted)."""
        if self._assumed.pop(pod_uid(pod), None) is not None and self._snap is not None:
            self._snap.forget(pod)

    async def _mark_unschedulable(self, pod: ObjView, result: Unschedulable) -> None:
        key = cache_key(pod)
        conds = (pod.get("status") or {}).get("conditions") or []
        old = next((c for c in conds if c.get("type") == "PodScheduled"), None)
        if old and old.get("message") == result.message and old.get("status") == "False":
            return
        _log.info("pod.unschedulable", pod=key, message=result.message)
        new: Obj = thaw(pod)
        status = new.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status["conditions"] = [c for c in conds if c.get("type") != "PodScheduled"] + [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": result.message,
                "lastTransitionTime": times.now(),
            }
        ]
        try:
            await self.registry.update(new, status_only=True)
        except (StaleObjectError, ObjectNotFoundError):
            return  # it changed; the watch brings the new version back to the queue
        await self.events.record(
            pod, type=WARNING, reason="FailedScheduling", message=result.message
        )


def _chunks(bound: list[tuple[ObjView, Placement]]) -> list[list[tuple[ObjView, Placement]]]:
    """Bindings in transactions of at most TXN_OPS store operations: one per pod, plus one
    per claim a pod may bind with it (controlplane/claimbinding.py)."""
    out: list[list[tuple[ObjView, Placement]]] = []
    chunk: list[tuple[ObjView, Placement]] = []
    ops = 0
    for pair in bound:
        cost = 1 + (claim_count(pair[0]) if (pair[0].get("spec") or {}).get("volumes") else 0)
        if chunk and ops + cost > TXN_OPS:
            out.append(chunk)
            chunk, ops = [], 0
        chunk.append(pair)
        ops += cost
    return out + [chunk] if chunk else out


def _node_changed(snap: Snapshot, type_: str, node: ObjView) -> bool:
    """Whether a node event changes what placement reads (heartbeat-only rewrites do not)."""
    name = (node.get("metadata") or {}).get("name", "")
    i = snap.index.get(name)
    if type_ == "DELETED":
        return i is not None
    try:
        facts = read_node(node)
    except QuantityError:
        return i is not None  # a rebuild drops the malformed node (and logs why)
    return i is None or facts != snap.nodes[i]


def _scheduled_message(pod: ObjView, placement: Placement) -> str:
    how = f" with {placement.isolation} isolation" if placement.isolation else ""
    return f"Successfully assigned {cache_key(pod)} to {placement.node_name}{how}"


def _binding(pod: ObjView, placement: Placement) -> Binding:
    return Binding(pod, placement.node_name, placement.binding())
