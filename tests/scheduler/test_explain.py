"""Why a pod fits nowhere: kubectl-style message summing reasons over every node."""

from __future__ import annotations

from mixfleet.scheduler import Unschedulable
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.conftest import place


def _mixed_fleet() -> list[dict]:
    linux = [make_node(f"l{i}").linux().obj() for i in range(7)]
    w2019 = [make_node(f"w19-{i}").windows(build=17763).obj() for i in range(3)]
    w2022 = [make_node(f"w22-{i}").windows(build=20348).memory("2Gi").obj() for i in range(2)]
    return linux + w2019 + w2022


def test_message_for_mixed_fleet() -> None:
    """Twelve nodes, three reasons, counted and sorted like kubectl."""
    pod = make_pod().windows(os_version="10.0.20348.2655").requests(memory="4Gi").obj()
    result = place(pod, _mixed_fleet())
    assert isinstance(result, Unschedulable)
    assert result.message == (
        "0/12 nodes are available: 7 node OS is linux, pod needs windows; "
        "3 host build 17763 cannot run image build 20348 with process isolation; 2 insufficient memory."
    )
    assert result.resolvable  # memory may free up


def test_only_platform_mismatch_is_unresolvable() -> None:
    """When only OS and build rule nodes out, waiting cannot help."""
    pod = make_pod().windows(os_version="10.0.20348.2655").obj()
    result = place(pod, _mixed_fleet()[:10])
    assert isinstance(result, Unschedulable) and not result.resolvable
    assert result.reasons == {
        "node OS is linux, pod needs windows": 7,
        "host build 17763 cannot run image build 20348 with process isolation": 3,
    }


def test_each_node_counted_once_under_first_reason() -> None:
    """A cordoned Linux node counts as cordoned only; equal counts sort by text."""
    nodes = [make_node("a").linux().cordoned().obj(), make_node("b").linux().not_ready().obj()]
    result = place(make_pod().windows().obj(), nodes)
    assert result.message == "0/2 nodes are available: 1 node is cordoned (unschedulable); 1 node is not ready."


def test_linux_pod_on_windows_fleet() -> None:
    """A Linux pod on Windows nodes without LCOW names the OS, as kubectl would."""
    nodes = [make_node(f"w{i}").windows(build=20348).obj() for i in range(2)]
    result = place(make_pod().linux().obj(), nodes)
    assert result.message == "0/2 nodes are available: 2 node OS is windows, pod needs linux."


def test_no_nodes() -> None:
    """An empty fleet says so, and is worth retrying."""
    result = place(make_pod().obj(), [])
    assert result.message == "0/0 nodes are available: no nodes available to schedule pods."
    assert result.resolvable
