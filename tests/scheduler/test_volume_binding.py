"""Node-local claims in the scheduler: a claim's pods go to the node it is bound to, the
first pod of an unbound claim binds it (assumed until the store shows it), and a refusal
says why in Kubernetes' words."""

from __future__ import annotations

from typing import Any

import pytest

from mixfleet.api import claims
from mixfleet.scheduler import Placement, Scheduler, SchedulerConfig, Snapshot, Unschedulable
from tests.scheduler.builders import make_node, make_pod


def claim(name: str = "data", *, node: str | None = None, deleting: bool = False, namespace: str = "default") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{name}"}
    if node:
        md["annotations"] = {claims.SELECTED_NODE: node}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def with_claim(pod: dict[str, Any], *names: str) -> dict[str, Any]:
    pod["spec"]["volumes"] = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": n}} for i, n in enumerate(names)]
    return pod


def _nodes(n: int = 5) -> list[dict[str, Any]]:
    return [make_node(f"n{i}").linux().obj() for i in range(n)]


def _schedule(pods: list[dict[str, Any]], nodes: list[dict[str, Any]], objs: list[dict[str, Any]],
              *, strategy: str = "spread") -> list[Placement | Unschedulable]:
    cfg = SchedulerConfig(strategy=strategy)
    snap, sched = Snapshot.build(nodes, [], config=cfg, claims=objs), Scheduler(cfg)
    out = []
    for pod in pods:
        result = sched.schedule(pod, snap, seed=pod["metadata"]["name"])
        if isinstance(result, Placement):
            snap.assume(pod, result)
        out.append(result)
    return out


@pytest.mark.parametrize("strategy", ["spread", "binpack"])
def test_bound_claim_pins_its_pods(strategy: str) -> None:
    """Every pod of a claim bound to n3 lands on n3, whichever node the strategy would pick."""
    pods = [with_claim(make_pod(f"p{i}").requests(cpu="100m").obj(), "data") for i in range(4)]
    results = _schedule(pods, _nodes(), [claim(node="n3")], strategy=strategy)
    assert [r.node_name for r in results if isinstance(r, Placement)] == ["n3"] * 4


def test_first_pod_binds_an_unbound_claim_for_the_rest_of_the_batch() -> None:
    """Spread would put three pods on three nodes; sharing an unbound claim, they share the
    node the first one got."""
    pods = [with_claim(make_pod(f"p{i}").requests(cpu="1").obj(), "data") for i in range(3)]
    results = _schedule(pods, _nodes(), [claim()])
    nodes = {r.node_name for r in results if isinstance(r, Placement)}
    assert len(nodes) == 1, results
    free = _schedule([make_pod(f"q{i}").requests(cpu="1").obj() for i in range(3)], _nodes(), [])
    assert len({r.node_name for r in free if isinstance(r, Placement)}) == 3  # the contrast


def test_refusal_counts_nodes_like_kube_scheduler() -> None:
    """The claim's node is full; the other four are the wrong node."""
    nodes = _nodes()
    pods = [make_pod("busy").requests(cpu="4").bound("n0").obj()]
    snap = Snapshot.build(nodes, pods, claims=[claim(node="n0")])
    result = Scheduler().schedule(with_claim(make_pod("p").requests(cpu="1").obj(), "data"), snap)
    assert isinstance(result, Unschedulable)
    assert result.message == (
        "0/5 nodes are available: 4 node(s) had volume node affinity conflict; 1 insufficient cpu."
    )


def test_claim_bound_to_a_node_that_is_gone() -> None:
    """No node of the fleet is the claim's: waiting for resources cannot help."""
    result = _schedule([with_claim(make_pod("p").obj(), "data")], _nodes(3), [claim(node="gone")])[0]
    assert isinstance(result, Unschedulable) and not result.resolvable
    assert result.message == "0/3 nodes are available: 3 node(s) had volume node affinity conflict."


@pytest.mark.parametrize(("objs", "message"), [
    pytest.param([], 'persistentvolumeclaim "data" not found', id="missing"),
    pytest.param([claim(deleting=True)], 'persistentvolumeclaim "data" is being deleted', id="deleting"),
    pytest.param([claim(namespace="other")], 'persistentvolumeclaim "data" not found', id="other-namespace"),
])
def test_claims_that_rule_out_every_node(objs: list[dict[str, Any]], message: str) -> None:
    """Said once for the whole fleet, as Kubernetes' pre-filter does."""
    result = _schedule([with_claim(make_pod("p").obj(), "data")], _nodes(), objs)[0]
    assert isinstance(result, Unschedulable)
    assert result.message == f"0/5 nodes are available: {message}."


def test_two_claims_on_two_nodes_fit_nowhere() -> None:
    result = _schedule([with_claim(make_pod("p").obj(), "a", "b")], _nodes(2),
                       [claim("a", node="n0"), claim("b", node="n1")])[0]
    assert isinstance(result, Unschedulable)
    assert result.message == "0/2 nodes are available: 2 node(s) had volume node affinity conflict."


def test_lost_binding_forgets_its_claim_assumption() -> None:
    """When the first pod's binding loses its race, the claim is free again for the next."""
    cfg = SchedulerConfig(strategy="spread")
    snap, sched = Snapshot.build(_nodes(), [], config=cfg, claims=[claim()]), Scheduler(cfg)
    first = with_claim(make_pod("p0").requests(cpu="3").obj(), "data")
    placed = sched.schedule(first, snap)
    assert isinstance(placed, Placement)
    snap.assume(first, placed)
    assert snap.claims.node_of(("default", "data")) == placed.node_name
    snap.forget(first)
    assert snap.claims.node_of(("default", "data")) is None


def test_the_stores_binding_wins_over_an_assumption() -> None:
    """Once the claim's object names a node, pods go there whatever was assumed."""
    cfg = SchedulerConfig(strategy="spread")
    snap, sched = Snapshot.build(_nodes(), [], config=cfg, claims=[claim()]), Scheduler(cfg)
    first = with_claim(make_pod("p0").obj(), "data")
    placed = sched.schedule(first, snap)
    assert isinstance(placed, Placement)
    snap.assume(first, placed)
    other = "n4" if placed.node_name != "n4" else "n0"
    assert snap.claims.observe(claim(node=other))
    second = sched.schedule(with_claim(make_pod("p1").obj(), "data"), snap)
    assert isinstance(second, Placement) and second.node_name == other
