"""Resources per node (allocatable minus bound and assumed pods), Hyper-V overhead,
and assume/forget within a batch."""

from __future__ import annotations

from mixfleet.scheduler import (
    Placement,
    Scheduler,
    SchedulerConfig,
    Snapshot,
    Unschedulable,
)
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.conftest import node_of, place


def test_bound_pods_use_capacity_done_pods_do_not() -> None:
    """Running pods bound to a node count against it; Succeeded/Failed ones do not."""
    nodes = [make_node("a").cpu("2").obj(), make_node("b").cpu("4").obj()]
    pods = [make_pod("x").requests(cpu="1500m").bound("a").obj(), make_pod("y").requests(cpu="4").bound("b", phase="Succeeded").obj()]
    assert node_of(place(make_pod().requests(cpu="1").obj(), nodes, pods=pods)) == "b"


def test_insufficient_memory_and_pods() -> None:
    """Memory and pod slots are checked; the reason names the first one short."""
    nodes = [make_node("a").memory("1Gi").obj(), make_node("b").max_pods(1).obj()]
    pods = [make_pod("x").bound("b").obj()]
    result = place(make_pod().requests(memory="2Gi").obj(), nodes, pods=pods)
    assert isinstance(result, Unschedulable) and result.resolvable
    assert result.message == "0/2 nodes are available: 1 insufficient memory; 1 too many pods."


def test_limits_count_as_requests() -> None:
    """A container with limits but no requests is charged its limits."""
    pod = make_pod().obj()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "3"}}
    assert isinstance(place(pod, [make_node("a").cpu("2").obj()]), Unschedulable)


def test_hyperv_overhead_from_node_class() -> None:
    """A Hyper-V pod is charged the node's reported overhead on top of its requests."""
    node = make_node("w").windows(build=20348).hyperv(cpu="500m", memory="1Gi").cpu("2").memory("4Gi").obj()
    hyperv = make_pod().windows(os_version="10.0.17763.1", isolation="hyperv").requests(cpu="1", memory="3500Mi")
    result = place(hyperv.obj(), [node])
    assert isinstance(result, Unschedulable) and result.reasons == {"insufficient memory": 1}
    process = make_pod().windows(os_version="10.0.20348.1", isolation="process").requests(cpu="1", memory="3500Mi")
    assert isinstance(place(process.obj(), [node]), Placement)


def test_hyperv_overhead_default_from_config() -> None:
    """Nodes that report no overhead use SchedulerConfig's default."""
    cfg = SchedulerConfig(hyperv_overhead_cpu="1", hyperv_overhead_memory="0")
    node = make_node("w").windows(build=20348).hyperv().cpu("2").obj()
    snap = Snapshot.build([node], [], config=cfg)
    pod = make_pod().windows(os_version="10.0.17763.1").requests(cpu="1500m").obj()
    result = Scheduler(cfg).schedule(pod, snap)
    assert isinstance(result, Unschedulable) and result.reasons == {"insufficient cpu": 1}


def test_bound_hyperv_pods_pay_overhead() -> None:
    """A bound pod whose binding says hyperv is charged the overhead in the snapshot."""
    node = make_node("w").windows(build=20348).hyperv(memory="2Gi").memory("4Gi").obj()
    bound = make_pod("x").windows().requests(memory="1Gi").bound("w", isolation="hyperv").obj()
    pod = make_pod().windows(os_version="10.0.20348.1").requests(memory="1500Mi").obj()
    assert isinstance(place(pod, [node], pods=[bound]), Unschedulable)


def test_assume_then_forget() -> None:
    """An assumed pod uses capacity for the next decision; forget gives it back."""
    cfg = SchedulerConfig()
    snap = Snapshot.build([make_node("a").cpu("2").obj()], [], config=cfg)
    sched = Scheduler(cfg)
    first, second = make_pod("p1").requests(cpu="2").obj(), make_pod("p2").requests(cpu="2").obj()
    placement = sched.schedule(first, snap)
    assert isinstance(placement, Placement)
    snap.assume(first, placement)
    assert isinstance(sched.schedule(second, snap), Unschedulable)
    snap.forget(first)
    assert node_of(sched.schedule(second, snap)) == "a"


def test_assume_twice_charges_once() -> None:
    """Assuming the same pod again moves it instead of double-charging."""
    cfg = SchedulerConfig()
    snap = Snapshot.build([make_node("a").cpu("2").obj(), make_node("b").cpu("2").obj()], [], config=cfg)
    pod = make_pod("p1").requests(cpu="1").obj()
    placement = Scheduler(cfg).schedule(pod, snap)
    snap.assume(pod, placement)
    snap.assume(pod, placement)
    assert sorted(snap.free_cpu) == [1000, 2000]
    snap.forget(pod)
    snap.forget(pod)
    assert snap.free_cpu == [2000, 2000]


def test_lost_bind_race_frees_the_node_for_the_winner() -> None:
    """A bind that loses its compare-and-swap is forgotten; the retry sees the winner's usage."""
    cfg = SchedulerConfig()
    nodes = [make_node("a").cpu("4").obj(), make_node("b").cpu("2").obj()]
    snap = Snapshot.build(nodes, [], config=cfg)
    sched = Scheduler(cfg)
    loser = make_pod("loser").requests(cpu="2").obj()
    placement = sched.schedule(loser, snap)
    assert node_of(placement) == "a"  # binpack opens the larger empty node
    snap.assume(loser, placement)
    snap.forget(loser)  # the store rejected the bind: another scheduler's pod took node a
    winner = make_pod("winner").requests(cpu="3").bound("a").obj()
    fresh = Snapshot.build(nodes, [winner], config=cfg)
    assert node_of(sched.schedule(loser, fresh)) == "b"
