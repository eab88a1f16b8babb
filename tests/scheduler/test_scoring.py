"""Scoring: binpack fills the fullest node, spread the emptiest, per cluster or per pod;
preferred affinity, image locality, anti-affinity and reproducible tie-breaks."""

from __future__ import annotations

from mixfleet.scheduler import Unschedulable
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.conftest import node_of, place, place_batch


def _fleet() -> list[dict]:
    return [make_node(n).cpu("4").memory("16Gi").obj() for n in ("a", "b", "c")]


def _usage() -> list[dict]:
    return [make_pod("x").requests(cpu="2", memory="8Gi").bound("b").obj(), make_pod("y").requests(cpu="1", memory="4Gi").bound("c").obj()]


def test_binpack_packs_the_fullest_node_that_fits() -> None:
    """binpack picks the fullest node with room, skipping one too full."""
    assert node_of(place(make_pod().requests(cpu="1", memory="1Gi").obj(), _fleet(), pods=_usage())) == "b"
    assert node_of(place(make_pod().requests(cpu="3", memory="1Gi").obj(), _fleet(), pods=_usage())) == "c"


def test_spread_picks_the_emptiest() -> None:
    """spread (cluster config) picks the emptiest node."""
    assert node_of(place(make_pod().requests(cpu="1").obj(), _fleet(), pods=_usage(), strategy="spread")) == "a"


def test_strategy_per_workload_overrides_cluster() -> None:
    """spec.schedulingStrategy overrides the cluster default."""
    pod = make_pod().requests(cpu="1").strategy("spread").obj()
    assert node_of(place(pod, _fleet(), pods=_usage(), strategy="binpack")) == "a"


def test_binpack_fills_nodes_one_after_another() -> None:
    """A batch of binpacked pods fills one node before starting the next."""
    pods = [make_pod(f"p{i}").requests(cpu="1", memory="1Gi").obj() for i in range(8)]
    chosen = [node_of(r) for r in place_batch(pods, _fleet())]
    assert chosen[:4] == [chosen[0]] * 4 and chosen[4:] == [chosen[4]] * 4 and chosen[0] != chosen[4]


def test_binpack_opens_the_largest_node_first_and_fills_it() -> None:
    """Among empty nodes binpack opens the largest, fills it, then opens the next largest."""
    nodes = [
        make_node("small").cpu("4").memory("16Gi").obj(),
        make_node("large").cpu("16").memory("64Gi").obj(),
        make_node("medium").cpu("8").memory("32Gi").obj(),
    ]
    pods = [make_pod(f"p{i}").requests(cpu="1", memory="1Gi").obj() for i in range(20)]
    chosen = [node_of(r) for r in place_batch(pods, nodes)]
    assert chosen == ["large"] * 16 + ["medium"] * 4


def test_binpack_keeps_filling_an_opened_node() -> None:
    """A node already in use wins over an empty larger one: no new node opens while one has room."""
    nodes = [make_node("small").cpu("4").memory("16Gi").obj(), make_node("large").cpu("16").memory("64Gi").obj()]
    usage = [make_pod("x").requests(cpu="1", memory="2Gi").bound("small").obj()]
    assert node_of(place(make_pod().requests(cpu="1", memory="1Gi").obj(), nodes, pods=usage)) == "small"


def test_spread_batch_visits_every_node() -> None:
    """A batch of spread pods lands on every node before doubling up."""
    pods = [make_pod(f"p{i}").requests(cpu="1").obj() for i in range(3)]
    chosen = [node_of(r) for r in place_batch(pods, _fleet(), strategy="spread")]
    assert sorted(chosen) == ["a", "b", "c"]


def test_preferred_node_affinity() -> None:
    """A preferred term outweighs binpack's preference for the fuller node."""
    nodes = [make_node("a").label("disk", "ssd").obj(), make_node("b").obj()]
    pods = [make_pod("x").requests(cpu="3").bound("b").obj()]
    pod = make_pod().requests(cpu="500m").prefer("disk", "In", ["ssd"]).obj()
    assert node_of(place(pod, nodes, pods=pods)) == "a"


def test_image_locality_prefers_node_with_bigger_image() -> None:
    """A node already holding the (large) image wins; bigger images weigh more."""
    nodes = [
        make_node("a").obj(),
        make_node("b").image("example/app:1", size=5 << 30).obj(),
        make_node("c").image("example/side:1", size=50 << 20).obj(),
    ]
    pod = make_pod().image("example/app:1").image("example/side:1", container="side").obj()
    assert node_of(place(pod, nodes)) == "b"


def test_required_anti_affinity_spreads_replicas() -> None:
    """Replicas with required anti-affinity on hostname never share a node."""
    pods = [make_pod(f"web-{i}").labels(app="web").template("web-rs").anti_affinity(app="web").requests(cpu="100m").obj() for i in range(4)]
    *placed, result = place_batch(pods, _fleet())
    assert sorted(node_of(r) for r in placed) == ["a", "b", "c"]
    assert isinstance(result, Unschedulable)
    assert result.message == "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."


def test_preferred_anti_affinity_spreads_when_possible() -> None:
    """Preferred anti-affinity spreads replicas but still doubles up when it must."""
    pods = [make_pod(f"web-{i}").labels(app="web").anti_affinity(required=False, app="web").requests(cpu="100m").obj() for i in range(3)]
    chosen = [node_of(r) for r in place_batch(pods, _fleet()[:2])]
    assert sorted(chosen[:2]) == ["a", "b"] and chosen[2] in ("a", "b")


def test_anti_affinity_ignores_other_namespaces() -> None:
    """Matching pods in another namespace do not count."""
    pods = [make_pod("x", namespace="other").labels(app="web").bound("a").obj()]
    pod = make_pod().labels(app="web").anti_affinity(app="web").obj()
    assert node_of(place(pod, _fleet()[:1], pods=pods)) == "a"


def test_same_seed_same_placement() -> None:
    """Equal nodes: the same seed gives the same node, different seeds fan out."""
    nodes = [make_node(f"n{i}").obj() for i in range(20)]
    pod = make_pod().obj()
    picks = {node_of(place(pod, nodes, seed=f"eval-{i}")) for i in range(20)}
    assert node_of(place(pod, nodes, seed="eval-1")) == node_of(place(pod, list(reversed(nodes)), seed="eval-1"))
    assert len(picks) > 1
