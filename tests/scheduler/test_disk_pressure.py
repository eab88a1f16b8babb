"""A node reporting DiskPressure takes no new pods (the reason is named and resolvable);
one that tolerates the disk-pressure taint still may, as in Kubernetes."""

from __future__ import annotations

from mixfleet.scheduler import Placement, Unschedulable
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.conftest import node_of, place


def test_disk_pressure_node_is_skipped_with_its_reason() -> None:
    """With one node under disk pressure and one without, the pod goes to the other, even
    though it prefers the first."""
    nodes = [
        make_node("full").label("zone", "a").disk_pressure().obj(),
        make_node("roomy").label("zone", "b").disk_pressure("False").obj(),
    ]
    pod = make_pod().prefer("zone", "In", ["a"])
    assert node_of(place(pod.obj(), nodes)) == "roomy"


def test_only_disk_pressure_nodes_is_unschedulable_and_says_why() -> None:
    """No other node: unschedulable, counted under "node has disk pressure", and
    resolvable (space may be freed)."""
    result = place(make_pod().obj(), [make_node("a").disk_pressure().obj(), make_node("b").disk_pressure().obj()])
    assert isinstance(result, Unschedulable)
    assert result.reasons == {"node has disk pressure": 2} and result.resolvable


def test_toleration_of_the_disk_pressure_taint_lets_a_pod_in() -> None:
    """A pod tolerating node.kubernetes.io/disk-pressure may be placed there."""
    pod = make_pod().tolerate("node.kubernetes.io/disk-pressure", effect="NoSchedule", operator="Exists")
    assert isinstance(place(pod.obj(), [make_node("full").disk_pressure().obj()]), Placement)
