"""A point-in-time view of the fleet, indexed for placement and updated as pods are assumed.

Per node the free CPU, memory and pod slots live in plain lists indexed by node number.
Nodes are also grouped into *pools* of interchangeable hardware (node class facts but
labels and kernel, plus allocatable size; a pool spans the node classes that differ only
in labels or kernel). Each pool keeps its nodes sorted by free CPU, by
free memory and by the two free fractions summed, so "the fullest node with enough CPU" or
"the emptiest node" is a bisect and a short walk instead of a pass over every node, and
nodes too full for the pod are never looked at. Nodes with no pod slot left are kept out
of the lists. Assuming a pod moves one entry in each list kept: binpack walks the lists by
free CPU and memory, spread the one by summed fractions, and a strategy's lists are sorted
the first time it searches this snapshot (:meth:`Snapshot.index_for`), then kept up to
date. A control plane schedules mostly with one strategy, so its assumes move one or two
entries rather than three.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, insort
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mixfleet.api import images as image_ref
from mixfleet.api.pods import key as pod_uid  # the pod's identity in the snapshot's books
from mixfleet.api.quantity import QuantityError
from mixfleet.api.versions import InvalidVersionError, WindowsVersion
from mixfleet.scheduler.claims import ClaimBook
from mixfleet.scheduler.config import SchedulerConfig
from mixfleet.scheduler.nodes import ClassFacts, NodeClass, NodeFacts, read_node
from mixfleet.scheduler.requirements import pod_requests
from mixfleet.scheduler.results import Placement
from mixfleet.util import log

_log = log.get("scheduler")

DONE_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(slots=True)
class ImageInfo:
    """What node agents report about one image name, across every node holding it."""

    os: str = ""
    version: WindowsVersion | None = None  # the first node's report, in node-name order
    archs: set[str] = field(default_factory=set)
    size: int = 0  # the largest size reported


@dataclass(slots=True)
class Pool:
    """Interchangeable nodes: same class facts except labels and kernel, same allocatable."""

    id: int
    cpu: int  # every member's allocatable millicores (at least 1)
    memory: int  # ... and bytes
    members: list[int] = field(default_factory=list)
    classes: set[int] = field(default_factory=set)
    # Members with a pod slot left (the others fit nothing), sorted; kept only once a
    # strategy that walks them has searched (Snapshot.index_for), else left empty:
    by_cpu: list[tuple[int, int]] = field(default_factory=list)  # (free millicores, node), sorted
    by_mem: list[tuple[int, int]] = field(default_factory=list)  # (free bytes, node), sorted
    # (free_cpu * memory + free_mem * cpu, node), sorted: proportional to the summed free
    # fractions, in exact integers; spread walks it from the emptiest end.
    by_sum: list[tuple[int, int]] = field(default_factory=list)

    def sum_key(self, free_cpu: int, free_mem: int) -> int:
        return free_cpu * self.memory + free_mem * self.cpu


class Charge(NamedTuple):
    """A pod counted on a node (a NamedTuple: one is made per bound pod per snapshot)."""

    node: int
    cpu: int
    memory: int
    namespace: str
    labels: tuple[tuple[str, str], ...]


class Snapshot:
    """Build with :meth:`build`; the scheduler reads it, ``assume``/``forget`` update it."""

    def __init__(self, nodes: list[NodeFacts], *, default_overhead: tuple[int, int]) -> None:
        self.nodes = nodes
        self.index = {n.name: i for i, n in enumerate(nodes)}
        self.name_bytes = [n.name.encode() for n in nodes]  # the search's tie-break hashes these
        self.default_overhead = default_overhead
        self.classes: list[NodeClass] = []
        self.node_class: list[int] = []
        self._group_classes()
        self.alloc_cpu = [max(n.cpu, 1) for n in nodes]
        self.alloc_mem = [max(n.memory, 1) for n in nodes]
        # The largest allocatable: binpack measures use in absolute terms against it.
        self.ref_cpu = max(self.alloc_cpu, default=1)
        self.ref_mem = max(self.alloc_mem, default=1)
        self.free_cpu = [n.cpu for n in nodes]
        self.free_mem = [n.memory for n in nodes]
        self.free_pods = [n.pods for n in nodes]
        self._deferred = False
        # Which sorted lists the pools keep current: by free CPU and memory, by summed fractions.
        self.resource_lists = self.sum_lists = False
        self.pools: list[Pool] = []
        self.node_pool: list[int] = []
        self.class_pools: list[list[int]] = [[] for _ in self.classes]
        self._group_pools()
        self.images: dict[str, ImageInfo] = {}
        self.holders: dict[str, list[int]] = {}
        self.node_images: list[dict[str, int]] = [{} for _ in nodes]
        self._index_images()
        self.pods_on: list[dict[str, Charge]] = [{} for _ in nodes]
        self.label_index: dict[tuple[str, str, str], dict[int, int]] = {}
        self.charges: dict[str, Charge] = {}
        self.plans: dict[tuple[object, Hashable], Any] = {}  # the scheduler's per-template class verdicts for this snapshot
        self.search_cache: dict[tuple[str, int], Any] = {}  # the search's per-plan constants (scheduler/search.py)
        self.claims = ClaimBook()  # PersistentVolumeClaims: their nodes, known and assumed

    @classmethod
    def build(
        cls, nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]], *,
        config: SchedulerConfig | None = None, claims: Iterable[Mapping[str, Any]] = (),
    ) -> Snapshot:
        """Index ``nodes``; pods bound to one of them (spec.nodeName set, phase not
        Succeeded/Failed) count as usage. ``config`` (a SchedulerConfig) sets the Hyper-V
        overhead for nodes that do not report one; ``claims`` are the PersistentVolumeClaims."""
        facts = sorted(_read_nodes(nodes), key=lambda n: n.name)
        snap = cls(facts, default_overhead=(config or SchedulerConfig()).default_overhead)
        snap.claims = ClaimBook(claims)
        snap._deferred = True  # charge every bound pod first, then sort the pools once
        for pod in pods:
            usage = snap.bound_usage(pod)
            if usage is not None:
                snap._charge(pod, *usage)
        snap._deferred = False
        snap._sort_pools()
        return snap

    # --- reading -----------------------------------------------------------------------

    def index_for(self, strategy: str) -> None:
        """Have the pools' sorted lists that ``strategy``'s search walks sorted and kept up
        to date from now on (the search calls this; a no-op once they are)."""
        if strategy == "spread":
            if not self.sum_lists:
                self.sum_lists = True
                self._sort_pools()
        elif not self.resource_lists:
            self.resource_lists = True
            self._sort_pools()

    def overhead(self, node: int) -> tuple[int, int]:
        """The Hyper-V overhead one pod pays on ``node``."""
        return self.class_facts(node).hyperv_overhead or self.default_overhead

    def class_facts(self, node: int) -> ClassFacts:
        return self.classes[self.node_class[node]].facts

    def image(self, name: str) -> ImageInfo | None:
        return self.images.get(image_ref.normalize(name))

    def bound_usage(self, pod: Mapping[str, Any]) -> tuple[int, int, int] | None:
        """(node, cpu millis, memory bytes) that a bound ``pod`` takes, as :meth:`build`
        counts it; None for a pod not bound to a node of this snapshot or already done."""
        spec = pod.get("spec") or {}
        node = self.index.get(spec.get("nodeName") or "")
        if node is None or (pod.get("status") or {}).get("phase") in DONE_PHASES:
            return None
        try:
            cpu_req, mem_req = pod_requests(spec)
        except QuantityError as e:
            # Validation keeps such pods out of the store; if one slips in, count it as
            # requesting nothing rather than refusing to schedule anything at all.
            _log.warning("scheduler.bound_pod_invalid", pod=pod_uid(pod), error=str(e))
            cpu_req = mem_req = 0
        if (spec.get("binding") or {}).get("isolation") == "hyperv":
            oc, om = self.overhead(node)
            cpu_req, mem_req = cpu_req + oc, mem_req + om
        return node, cpu_req, mem_req

    # --- assume / forget ----------------------------------------------------------------

    def assume(self, pod: Mapping[str, Any], placement: Placement) -> None:
        """Charge ``pod`` to ``placement.node_name`` so the next decision sees it."""
        uid = pod_uid(pod)
        if uid in self.charges:
            self.forget(pod)
        node = self.index.get(placement.node_name)
        if node is None:
            raise KeyError(f"node {placement.node_name!r} is not in this snapshot")
        self._charge(pod, node, placement.cpu_millis, placement.memory_bytes)
        if (pod.get("spec") or {}).get("volumes"):
            self.claims.assume(pod, placement.node_name)

    def charge_bound(self, pod: Mapping[str, Any]) -> bool:
        """Count ``pod`` as :meth:`build` would from its current object: charged to its
        node if bound and not done, forgotten otherwise (deleted pods: :meth:`forget`).
        Idempotent by uid: an unchanged charge (e.g. the informer confirming a pod this
        snapshot already assumed there) is left alone. True if the snapshot changed."""
        usage = self.bound_usage(pod)
        old = self.charges.get(pod_uid(pod))
        if usage is None:
            if old is None:
                return False
            self.forget(pod)
            return True
        node, cpu, mem = usage
        if old is not None:
            md = pod.get("metadata") or {}
            labels = tuple((md.get("labels") or {}).items())
            if old == (node, cpu, mem, md.get("namespace") or "default", labels):
                return False
            self.forget(pod)
        self._charge(pod, node, cpu, mem)
        return True

    def forget(self, pod: Mapping[str, Any]) -> None:
        """Undo ``assume`` (e.g. the bind lost a compare-and-swap race); unknown pods are ignored."""
        self.claims.forget(pod_uid(pod))
        charge = self.charges.pop(pod_uid(pod), None)
        if charge is None:
            return
        del self.pods_on[charge.node][pod_uid(pod)]
        for k, v in charge.labels:
            counts = self.label_index[(charge.namespace, k, v)]
            counts[charge.node] -= 1
            if not counts[charge.node]:
                del counts[charge.node]
        self._move(charge.node, charge.cpu, charge.memory, 1)

    def _charge(self, pod: Mapping[str, Any], node: int, cpu: int, mem: int) -> None:
        md = pod.get("metadata") or {}
        uid = pod_uid(pod)
        labels = tuple((md.get("labels") or {}).items())
        charge = Charge(node, cpu, mem, md.get("namespace") or "default", labels)
        self.charges[uid] = charge
        self.pods_on[node][uid] = charge
        for k, v in labels:
            counts = self.label_index.setdefault((charge.namespace, k, v), {})
            counts[node] = counts.get(node, 0) + 1
        self._move(node, -cpu, -mem, -1)

    def _move(self, node: int, cpu: int, mem: int, pods: int) -> None:
        listed = self.free_pods[node] > 0
        self.free_pods[node] += pods
        if self._deferred:
            self.free_cpu[node] += cpu
            self.free_mem[node] += mem
            return
        # A node out of pod slots leaves the sorted lists: it fits no pod, and at the
        # 110-pod limit with CPU to spare it would head every binpack walk.
        relist = self.free_pods[node] > 0
        if not (cpu or mem) and listed == relist:
            return
        pool = self.pools[self.node_pool[node]]
        old_cpu, old_mem = self.free_cpu[node], self.free_mem[node]
        new_cpu, new_mem = self.free_cpu[node], self.free_mem[node] = old_cpu + cpu, old_mem + mem
        if self.resource_lists:
            _relist(pool.by_cpu, node, listed, old_cpu, relist, new_cpu)
            _relist(pool.by_mem, node, listed, old_mem, relist, new_mem)
        if self.sum_lists:
            _relist(pool.by_sum, node, listed, pool.sum_key(old_cpu, old_mem), relist, pool.sum_key(new_cpu, new_mem))

    # --- building ----------------------------------------------------------------------

    def _group_classes(self) -> None:
        by_facts: dict[ClassFacts, NodeClass] = {}
        for i, n in enumerate(self.nodes):
            c = by_facts.get(n.facts)
            if c is None:
                c = by_facts[n.facts] = NodeClass(len(self.classes), n.facts)
                self.classes.append(c)
            c.members.append(i)
            self.node_class.append(c.id)

    def _group_pools(self) -> None:
        by_key: dict[tuple[Any, ...], Pool] = {}
        for i, n in enumerate(self.nodes):
            f = n.facts
            # Everything of the class but labels and kernel: those split a fleet into many
            # small classes, while taints, isolation modes and node state keep whole groups
            # of nodes away from most pods, which a walk should not have to step over.
            key = (dataclasses.replace(f, labels=(), kernel=None), self.alloc_cpu[i], self.alloc_mem[i])
            pool = by_key.get(key)
            if pool is None:
                pool = by_key[key] = Pool(len(self.pools), self.alloc_cpu[i], self.alloc_mem[i])
                self.pools.append(pool)
            pool.members.append(i)
            self.node_pool.append(pool.id)
            if self.node_class[i] not in pool.classes:
                pool.classes.add(self.node_class[i])
                self.class_pools[self.node_class[i]].append(pool.id)
        self._sort_pools()

    def _sort_pools(self) -> None:
        for pool in self.pools:
            listed = [i for i in pool.members if self.free_pods[i] > 0]
            if self.resource_lists:
                pool.by_cpu = sorted((self.free_cpu[i], i) for i in listed)
                pool.by_mem = sorted((self.free_mem[i], i) for i in listed)
            if self.sum_lists:
                pool.by_sum = sorted((pool.sum_key(self.free_cpu[i], self.free_mem[i]), i) for i in listed)

    def _index_images(self) -> None:
        for i, n in enumerate(self.nodes):
            for img in n.images:
                for raw in img.get("names") or ():
                    name = image_ref.normalize(raw)
                    info = self.images.setdefault(name, ImageInfo(os=img.get("os") or ""))
                    _learn(info, img)
                    self.holders.setdefault(name, []).append(i)
                    self.node_images[i][name] = int(img.get("sizeBytes") or 0)


def _read_nodes(nodes: Iterable[Mapping[str, Any]]) -> list[NodeFacts]:
    out = []
    for node in nodes:
        try:
            out.append(read_node(node))
        except QuantityError as e:
            # One node with a bad allocatable must not stop placement on all the others.
            _log.warning("scheduler.node_invalid", node=(node.get("metadata") or {}).get("name"), error=str(e))
    return out


def _relist(lst: list[tuple[int, int]], node: int, listed: bool, old: int, relist: bool, new: int) -> None:
    if listed:
        del lst[bisect_left(lst, (old, node))]
    if relist:
        insort(lst, (new, node))


def _learn(info: ImageInfo, img: Mapping[str, Any]) -> None:
    if img.get("architecture"):
        info.archs.add(img["architecture"])
    info.size = max(info.size, int(img.get("sizeBytes") or 0))
    if info.version is None and img.get("osVersion"):
        try:
            info.version = WindowsVersion.parse(img["osVersion"])
        except InvalidVersionError:
            pass
