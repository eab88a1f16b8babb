"""A snapshot kept up to date from pod events (``charge_bound``/``forget``/``assume``) counts
exactly what one built from the final state counts, and so places the next pods the same."""

from __future__ import annotations

import pytest

from mixfleet.scheduler import Placement, Scheduler, SchedulerConfig, Snapshot
from tests.scheduler.builders import make_node, make_pod

CFG = SchedulerConfig(strategy="binpack")
NODES = [
    make_node("lin-a").linux().cpu("4").memory("8Gi").obj(),
    make_node("lin-b").linux().cpu("4").memory("8Gi").obj(),
    make_node("lin-small").linux().cpu("2").memory("4Gi").max_pods(3).obj(),
    make_node("win-hv").windows(build=26100).hyperv(cpu="500m", memory="512Mi").cpu("8").memory("16Gi").obj(),
]


def _web(name: str, node: str | None = None, *, cpu: str = "1", phase: str = "Running", **labels: str) -> dict:
    b = make_pod(name).requests(cpu=cpu, memory="1Gi").labels(app="web", **labels)
    return (b.bound(node, phase=phase) if node else b).obj()


def _win_hv(name: str, node: str | None = None) -> dict:
    b = make_pod(name).windows(os_version="10.0.17763.1", isolation="hyperv").requests(cpu="1", memory="1Gi")
    return (b.bound(node, isolation="hyperv") if node else b).obj()


def _resized(pod: dict, cpu: str) -> dict:
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu
    return pod


# Each step: ("put", pod) an ADDED/MODIFIED event, ("delete", pod) a DELETED event, or
# ("schedule", pod) the loop placing a pending pod and assuming it (its bound object is
# then "put" as the informer's confirmation).
SEQUENCES = [
    pytest.param([("put", _web("a", "lin-a")), ("delete", _web("a", "lin-a"))], id="bound-then-deleted"),
    pytest.param([("put", _web("a", "lin-a")), ("put", _web("a", "lin-a", phase="Succeeded"))], id="bound-then-succeeded"),
    pytest.param(
        [("put", _web("a", "lin-b")), ("put", _web("a", "lin-b", phase="Failed")), ("delete", _web("a", "lin-b", phase="Failed"))],
        id="failed-then-deleted",
    ),
    pytest.param([("put", _win_hv("w", "win-hv")), ("put", _win_hv("x", "win-hv"))], id="hyperv-overhead-charged"),
    pytest.param([("put", _web("a", "lin-a")), ("put", _web("a", "lin-a", tier="front"))], id="bound-pod-relabelled"),
    pytest.param([("put", _web("a", "lin-a")), ("put", _resized(_web("a", "lin-a"), "3"))], id="bound-pod-resized"),
    pytest.param([("put", _web("a", "gone-node")), ("put", _web("b", "lin-b"))], id="bound-to-unknown-node"),
    pytest.param([("schedule", _web("a")), ("schedule", _web("b")), ("schedule", _win_hv("w"))], id="assumed-then-confirmed"),
    pytest.param([("schedule", _web("a")), ("put", _web("a", "lin-small"))], id="assumed-here-bound-elsewhere"),
    pytest.param(
        [("put", _web(f"p{i}", "lin-small", cpu="100m")) for i in range(3)] + [("delete", _web("p1", "lin-small"))],
        id="pod-slots-freed",
    ),
    pytest.param([("put", _web("a", "lin-a")), ("put", _web("a", "lin-a")), ("put", _web("a", "lin-a"))], id="repeated-event"),
]

PROBES = [_web(f"probe-{i}", cpu="1500m") for i in range(6)] + [
    make_pod("spread-me").requests(cpu="500m").anti_affinity(app="web").obj(),
    _win_hv("probe-hv"),
]


def _replay(steps: list[tuple[str, dict]]) -> tuple[Snapshot, list[dict]]:
    snap, sched = Snapshot.build(NODES, [], config=CFG), Scheduler(CFG)
    _index_both(snap)  # every event then moves entries in every sorted list
    final: dict[str, dict] = {}
    for op, pod in steps:
        name = pod["metadata"]["name"]
        if op == "delete":
            snap.forget(pod)
            final.pop(name, None)
            continue
        if op == "schedule":
            placement = sched.schedule(pod, snap)
            assert isinstance(placement, Placement)
            snap.assume(pod, placement)
            pod = make_pod(name).obj() | {"metadata": pod["metadata"], "spec": dict(pod["spec"], nodeName=placement.node_name, binding=placement.binding())}
        snap.charge_bound(pod)
        final[name] = pod
    return snap, list(final.values())


def _index_both(snap: Snapshot) -> None:
    snap.index_for("binpack")
    snap.index_for("spread")


def _usage(snap: Snapshot) -> tuple:
    _index_both(snap)  # a fresh snapshot sorts its lists here, a live one has kept them
    pools = [(p.by_cpu, p.by_mem, p.by_sum) for p in snap.pools]
    labels = {k: v for k, v in snap.label_index.items() if v}
    return snap.free_cpu, snap.free_mem, snap.free_pods, sorted(snap.charges.items()), labels, pools


def _placements(snap: Snapshot) -> list[str | None]:
    sched, out = Scheduler(CFG), []
    for pod in PROBES:
        result = sched.schedule(pod, snap, seed="probe")
        if isinstance(result, Placement):
            snap.assume(pod, result)
        out.append(result.node_name if isinstance(result, Placement) else None)
    return out


@pytest.mark.parametrize("steps", SEQUENCES)
def test_incremental_snapshot_equals_rebuilt(steps: list[tuple[str, dict]]) -> None:
    """Usage kept from events equals a rebuild from the final pods, and the next pods land alike."""
    live, final = _replay(steps)
    fresh = Snapshot.build(NODES, final, config=CFG)
    assert _usage(live) == _usage(fresh)
    assert _placements(live) == _placements(fresh)


def test_assume_and_confirmation_charge_once() -> None:
    """Assuming a pod twice, then seeing it bound there, leaves one pod's worth counted."""
    snap = Snapshot.build(NODES, [], config=CFG)
    pod = _web("a")
    placement = Scheduler(CFG).schedule(pod, snap)
    assert isinstance(placement, Placement)
    node = snap.index[placement.node_name]
    before = (snap.free_cpu[node], snap.free_pods[node])
    snap.assume(pod, placement)
    snap.assume(pod, placement)
    assert not snap.charge_bound(_web("a", placement.node_name))
    assert (snap.free_cpu[node], snap.free_pods[node]) == (before[0] - 1000, before[1] - 1)
