"""The snapshot's bookkeeping and the indexed search: the index finds what scoring every
node would, LCOW bindings, image-locality with many holders, template caching."""

from __future__ import annotations

import pytest

from benchmarks.fleet import make_workload
from mixfleet.scheduler import (
    Placement,
    Scheduler,
    SchedulerConfig,
    Snapshot,
    Unschedulable,
)
from mixfleet.scheduler.plugins.strategy import STRATEGIES
from mixfleet.scheduler.search import _score
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.conftest import node_of, place


def _best_by_scoring_every_node(sched: Scheduler, snap: Snapshot, pod: dict, strategy: str) -> float | None:
    plan = sched.plan(sched.requirements(pod), snap)
    scores = [
        _score(snap, plan, option, node, sched.config.weights, STRATEGIES[strategy])
        for node in range(len(snap.nodes))
        if (option := plan.class_options[snap.node_class[node]]) is not None
    ]
    return max((s for s in scores if s is not None), default=None)


def _place_all_against_exhaustive(work, cfg: SchedulerConfig, strategy_of) -> tuple[int, int]:
    """Schedule and assume every pod of ``work`` over one snapshot; (placed, placed on a
    best-scoring node), each pod checked against scoring every node with ``strategy_of(pod)``."""
    snap, sched = Snapshot.build(work.nodes, [], config=cfg), Scheduler(cfg)
    optimal = placed = 0
    for pod in work.pods:
        best = _best_by_scoring_every_node(sched, snap, pod, strategy_of(pod))
        result = sched.schedule(pod, snap, seed="s")
        assert isinstance(result, Placement) == (best is not None)
        if isinstance(result, Placement):
            placed += 1
            optimal += result.score >= best - 1e-9
            snap.assume(pod, result)
    return placed, optimal


@pytest.mark.parametrize("strategy", [pytest.param("binpack", id="binpack"), pytest.param("spread", id="spread")])
def test_index_finds_what_scoring_every_node_finds(strategy: str) -> None:
    """Over a mixed synthetic fleet, a pod that fits anywhere is placed, on a best-scoring node."""
    work = make_workload(nodes=120, pods=1200, templates=40, seed=7)
    placed, optimal = _place_all_against_exhaustive(work, SchedulerConfig(strategy=strategy), lambda pod: strategy)
    assert placed > 1000 and optimal >= 0.99 * placed


def test_mixed_strategies_on_one_snapshot_find_the_best_node() -> None:
    """Templates alternating binpack and spread over one snapshot each get a best-scoring
    node: the sorted lists a strategy needs are sorted when it first searches, then kept."""
    work = make_workload(nodes=120, pods=1200, templates=40, seed=11)
    hashes = sorted({p["metadata"]["labels"]["pod-template-hash"] for p in work.pods})
    spread = set(hashes[::2])
    for pod in work.pods:
        pod["spec"]["schedulingStrategy"] = "spread" if pod["metadata"]["labels"]["pod-template-hash"] in spread else "binpack"
    placed, optimal = _place_all_against_exhaustive(work, SchedulerConfig(strategy="binpack"), lambda pod: pod["spec"]["schedulingStrategy"])
    assert placed > 1000 and optimal >= 0.99 * placed


def test_lcow_binding_has_no_isolation() -> None:
    """A Linux pod on an LCOW Windows node keeps its image and carries no isolation."""
    result = place(make_pod().linux().image("nginx:1").obj(), [make_node("w").windows().lcow().obj()])
    assert isinstance(result, Placement) and result.binding() == {"images": {"app": "nginx:1"}}


def test_image_locality_with_many_holders() -> None:
    """Above the holder scan limit the search widens its bound and still finds the holder."""
    cfg = SchedulerConfig(image_holder_scan_limit=1)
    nodes = [make_node(f"n{i}").image("example/app:1", size=1 << 30).obj() for i in range(3)] + [make_node("full-ish").obj()]
    pods = [make_pod("x").requests(cpu="3").bound("full-ish").obj()]
    snap = Snapshot.build(nodes, pods, config=cfg)
    result = Scheduler(cfg).schedule(make_pod().image("example/app:1").requests(cpu="500m").obj(), snap)
    assert node_of(result) in ("n0", "n1", "n2")


def test_image_names_are_normalized() -> None:
    """docker.io/library/nginx:latest on a node counts for a pod asking for nginx."""
    nodes = [make_node("a").obj(), make_node("b").image("docker.io/library/nginx:latest", size=1 << 30).obj()]
    assert node_of(place(make_pod().image("nginx").obj(), nodes)) == "b"


def test_pods_of_one_template_parse_once() -> None:
    """Replicas of one ReplicaSet share their parsed requirements."""
    sched = Scheduler()
    a = make_pod("web-1").template("web-rs").requests(cpu="1").obj()
    b = make_pod("web-2").template("web-rs").requests(cpu="1").obj()
    assert sched.requirements(a) is sched.requirements(b)
    assert sched.requirements(make_pod("solo").obj()) is not sched.requirements(a)


def test_bound_pods_on_unknown_nodes_or_invalid_are_ignored() -> None:
    """A pod bound to a node not in the snapshot, or with a bad quantity, does not break the build."""
    bad = make_pod("bad").bound("a").obj()
    bad["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "lots"}}
    pods = [make_pod("ghost").requests(cpu="4").bound("gone").obj(), bad]
    assert node_of(place(make_pod().requests(cpu="4").obj(), [make_node("a").obj()], pods=pods)) == "a"


def test_unschedulable_then_assume_elsewhere_keeps_counts_right() -> None:
    """Explanations reflect assumed pods: the node filled in this batch says insufficient cpu."""
    cfg = SchedulerConfig()
    snap, sched = Snapshot.build([make_node("a").cpu("1").obj()], [], config=cfg), Scheduler(cfg)
    first = make_pod("p1").requests(cpu="1").obj()
    snap.assume(first, sched.schedule(first, snap))
    result = sched.schedule(make_pod("p2").requests(cpu="1").obj(), snap)
    assert isinstance(result, Unschedulable) and result.reasons == {"insufficient cpu": 1}


def test_node_with_bad_allocatable_is_skipped() -> None:
    """A node reporting a malformed quantity is left out; the rest of the fleet still works."""
    bad = make_node("bad").obj()
    bad["status"]["allocatable"]["cpu"] = "many"
    result = place(make_pod().obj(), [bad, make_node("good").obj()])
    assert node_of(result) == "good"


def test_node_out_of_pod_slots_is_skipped_until_a_pod_leaves() -> None:
    """A node at its pod limit gets no pod (binpack goes to the next node), and takes pods again once one is forgotten."""
    cfg = SchedulerConfig()
    nodes = [make_node("big").cpu("16").max_pods(1).obj(), make_node("small").cpu("4").obj()]
    snap, sched = Snapshot.build(nodes, [], config=cfg), Scheduler(cfg)
    first = make_pod("first").requests(cpu="1").obj()
    placement = sched.schedule(first, snap)
    assert node_of(placement) == "big"
    snap.assume(first, placement)
    assert node_of(sched.schedule(make_pod("second").requests(cpu="1").obj(), snap)) == "small"
    snap.forget(first)
    assert node_of(sched.schedule(make_pod("second").requests(cpu="1").obj(), snap)) == "big"
