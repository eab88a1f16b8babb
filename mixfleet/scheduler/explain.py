"""Why a pod fits nowhere, summed over every node, kubectl style:

``0/12 nodes are available: 7 node OS is linux, pod needs windows; 3 host build 17763
cannot run image build 20348 with process isolation; 2 insufficient memory.``

Each node is counted once, under its first failing reason in registry order (class
filters, then node filters with resources in their place). Counts are sorted by count,
largest first, then by text. This pass looks at every node, but only for pods that fit
nowhere.
"""

from __future__ import annotations

from collections import Counter

from mixfleet.scheduler.plan import Option, Plan
from mixfleet.scheduler.plugins.resources import fits
from mixfleet.scheduler.results import Unschedulable
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import (
    INSUFFICIENT_CPU,
    INSUFFICIENT_MEMORY,
    NO_NODES,
    TOO_MANY_PODS,
    Code,
    Status,
)

# Cannot happen (the search takes any node that fits); counted so the sum covers every node.
NOT_CHOSEN = "node fits but was not chosen"


def unschedulable(snap: Snapshot, plan: Plan) -> Unschedulable:
    statuses: list[tuple[Status, int]] = [(st, len(snap.classes[c].members)) for c, st in plan.failures]
    for option in plan.options:
        members = snap.classes[option.cls].members
        if plan.node_filters:
            for node in members:
                st = _first_node_failure(snap, plan, option, node)
                statuses.append((st or Status.unschedulable(NOT_CHOSEN), 1))
        else:
            statuses.extend(_resource_failures(snap, option, members))
    counts: Counter[str] = Counter()
    for st, n in statuses:
        counts[st.reason] += n
    resolvable = any(st.code is Code.UNSCHEDULABLE for st, _ in statuses) or not snap.nodes
    return Unschedulable(
        message=message(len(snap.nodes), counts),
        reasons=dict(counts),
        code=Code.UNSCHEDULABLE if resolvable else Code.UNRESOLVABLE,
    )


def _first_node_failure(snap: Snapshot, plan: Plan, option: Option, node: int) -> Status | None:
    req = plan.req
    for f in plan.node_filters[: plan.pre_resource_filters]:
        if (st := f.filter_node(req, node, snap)) is not None:
            return st
    if (st := fits(snap, node, option.cpu, option.memory)) is not None:
        return st
    for f in plan.node_filters[plan.pre_resource_filters:]:
        if (st := f.filter_node(req, node, snap)) is not None:
            return st
    return None


def _resource_failures(snap: Snapshot, option: Option, members: list[int]) -> list[tuple[Status, int]]:
    """The common case (no per-node filters) counted in one tight pass."""
    cpu_short = mem_short = pods_short = 0
    free_cpu, free_mem, free_pods = snap.free_cpu, snap.free_mem, snap.free_pods
    for node in members:
        if free_cpu[node] < option.cpu:
            cpu_short += 1
        elif free_mem[node] < option.memory:
            mem_short += 1
        elif free_pods[node] < 1:
            pods_short += 1
    rest = len(members) - cpu_short - mem_short - pods_short
    counted = [(INSUFFICIENT_CPU, cpu_short), (INSUFFICIENT_MEMORY, mem_short), (TOO_MANY_PODS, pods_short), (NOT_CHOSEN, rest)]
    return [(Status.unschedulable(reason), n) for reason, n in counted if n]


def everywhere(snap: Snapshot, status: Status) -> Unschedulable:
    """A pre-filter's verdict, which rules out every node: said once, without a count, as
    Kubernetes does (``0/5 nodes are available: persistentvolumeclaim "data" not found.``)."""
    total = len(snap.nodes)
    return Unschedulable(message=f"0/{total} nodes are available: {status.reason}.",
                         reasons={status.reason: total}, code=status.code)


def message(total: int, counts: Counter[str] | dict[str, int]) -> str:
    if not total:
        return f"0/0 nodes are available: {NO_NODES}."
    parts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return f"0/{total} nodes are available: " + "; ".join(f"{n} {r}" for r, n in parts) + "."

