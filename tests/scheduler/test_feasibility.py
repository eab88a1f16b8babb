"""Which nodes a pod may run on: OS, architecture, LCOW, Windows build and isolation,
image overrides, learned image versions, kernel, labels, taints, cordon and readiness."""

from __future__ import annotations

import pytest

from mixfleet.scheduler import Placement, Unschedulable
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.conftest import node_of, place

WIN = "10.0.{}.1"


@pytest.mark.parametrize(
    ("pod", "node", "ok"),
    [
        pytest.param(make_pod().linux(), make_node("n").linux(), True, id="linux-on-linux"),
        pytest.param(make_pod().linux(), make_node("n").windows(), False, id="linux-on-windows"),
        pytest.param(make_pod().linux(), make_node("n").windows().lcow(), True, id="linux-on-lcow"),
        pytest.param(make_pod().windows(os_version=WIN.format(20348)), make_node("n").linux(), False, id="windows-on-linux"),
        pytest.param(make_pod().linux(), make_node("n").arch("arm64"), True, id="arch-unknown-image-any"),
        pytest.param(make_pod().selector("kubernetes.io/arch", "arm64"), make_node("n"), False, id="arch-selector"),
    ],
)
def test_os_and_arch(pod, node, ok: bool) -> None:
    """OS must match; Linux runs on Windows only where LCOW is advertised."""
    assert isinstance(place(pod.obj(), [node.obj()]), Placement) is ok


def test_arch_learned_from_node_images() -> None:
    """An image reported only as amd64 does not go to an arm64 node."""
    nodes = [make_node("a").image("example/app:1", arch="amd64").obj(), make_node("b").arch("arm64").obj()]
    pod = make_pod().image("example/app:1").requests(cpu="1").obj()
    busy = make_pod("busy").requests(cpu="4").bound("a").obj()
    result = place(pod, nodes, pods=[busy])
    assert isinstance(result, Unschedulable)
    assert result.reasons == {"insufficient cpu": 1, "node architecture is arm64, pod needs amd64": 1}


@pytest.mark.parametrize(
    ("host", "image", "isolation", "node", "expect"),
    [
        pytest.param(20348, 20348, "process", lambda n: n, "process", id="process-match"),
        pytest.param(20348, 17763, "process", lambda n: n, None, id="process-older-image"),
        pytest.param(17763, 20348, "process", lambda n: n, None, id="process-newer-image"),
        pytest.param(26100, 20348, "process", lambda n: n, "process", id="process-2025-runs-2022"),
        pytest.param(20348, 17763, "hyperv", lambda n: n.hyperv(), "hyperv", id="hyperv-older-image"),
        pytest.param(20348, 17763, "hyperv", lambda n: n, None, id="hyperv-not-on-host"),
        pytest.param(17763, 20348, "hyperv", lambda n: n.hyperv(), None, id="hyperv-newer-image"),
        pytest.param(20348, 20348, "auto", lambda n: n.hyperv(), "process", id="auto-prefers-process"),
        pytest.param(20348, 17763, "auto", lambda n: n.hyperv(), "hyperv", id="auto-falls-back-to-hyperv"),
        pytest.param(20348, 17763, "auto", lambda n: n, None, id="auto-no-hyperv"),
        pytest.param(17763, 20348, "auto", lambda n: n.hyperv(), None, id="auto-newer-image"),
    ],
)
def test_windows_build_and_isolation(host: int, image: int, isolation: str, node, expect: str | None) -> None:
    """The build rule decides feasibility; auto picks process where it can, else Hyper-V."""
    n = node(make_node("w").windows(build=host)).obj()
    result = place(make_pod().windows(os_version=WIN.format(image), isolation=isolation).obj(), [n])
    assert (result.isolation if isinstance(result, Placement) else None) == expect


@pytest.mark.parametrize(
    ("edition", "build", "isolation", "expect"),
    [
        pytest.param("client", 17134, "process", None, id="client-1803-no-process"),
        pytest.param("client", 17134, "auto", "hyperv", id="client-1803-auto-hyperv"),
        pytest.param("client", 19041, "process", "process", id="client-2004-process"),
        pytest.param("client", 22621, "process", "process", id="client-win11-process"),
    ],
)
def test_client_hosts(edition: str, build: int, isolation: str, expect: str | None) -> None:
    """Windows client hosts run process isolation only from 17763, matching builds."""
    n = make_node("c").windows(build=build, edition=edition).hyperv().obj()
    result = place(make_pod().windows(os_version=WIN.format(build), isolation=isolation).obj(), [n])
    assert (result.isolation if isinstance(result, Placement) else None) == expect


def test_isolation_from_runtime_class_and_annotation() -> None:
    """runtimeClassName and the legacy annotation ask for Hyper-V; spec.platform wins."""
    n = make_node("w").windows(build=20348).hyperv().obj()
    base = make_pod().windows(os_version=WIN.format(20348))
    assert place(base.runtime_class("runhcs-wcow-hypervisor").obj(), [n]).isolation == "hyperv"
    annotated = make_pod().windows(os_version=WIN.format(20348)).annotate("experimental.windows.kubernetes.io/isolation-type", "hyperv")
    assert place(annotated.obj(), [n]).isolation == "hyperv"
    both = make_pod().windows(os_version=WIN.format(20348), isolation="process").runtime_class("runhcs-wcow-hypervisor")
    assert place(both.obj(), [n]).isolation == "process"


def test_server_2016_revision_must_match() -> None:
    """On 14393 hosts process isolation needs the same revision; Hyper-V does not."""
    nodes = [make_node("old").windows(build=14393, revision=2273).obj(), make_node("new").windows(build=14393, revision=3930).hyperv().obj()]
    result = place(make_pod().windows(os_version="10.0.14393.3930").obj(), nodes)
    assert (node_of(result), result.isolation) == ("new", "process")
    result = place(make_pod().windows(os_version="10.0.14393.1000").obj(), nodes)
    assert (node_of(result), result.isolation) == ("new", "hyperv")


def test_image_overrides_pick_image_per_build() -> None:
    """Each node gets the override built for its build; an override makes a node feasible."""
    pod = (
        make_pod().windows(os_version=WIN.format(20348), isolation="process").image("example/app:ltsc2022")
        .override("10.0.17763", "example/app:ltsc2019").override("10.0.26100", "example/app:ltsc2025")
    )
    for build, image in [(17763, "example/app:ltsc2019"), (20348, "example/app:ltsc2022"), (26100, "example/app:ltsc2025")]:
        result = place(pod.obj(), [make_node("w").windows(build=build).obj()])
        assert isinstance(result, Placement) and result.binding() == {"isolation": "process", "images": {"app": image}}


def test_image_override_per_container() -> None:
    """An override naming a container replaces only that container's image."""
    pod = (
        make_pod().windows(os_version=WIN.format(20348)).image("example/side:ltsc2022", container="side")
        .override("10.0.17763", "example/side:ltsc2019", container="side")
    )
    result = place(pod.obj(), [make_node("w").windows(build=17763).obj()])
    assert isinstance(result, Unschedulable)  # app itself has no 17763 image
    pod = make_pod().windows().image("example/app:ltsc2019").override("10.0.17763", "example/app:ltsc2019", container="app")
    result = place(pod.obj(), [make_node("w").windows(build=17763).obj(), make_node("x").windows(build=20348).obj()])
    assert (node_of(result), result.images) == ("w", {"app": "example/app:ltsc2019"})


def test_image_version_learned_from_node_images() -> None:
    """Without spec.platform.osVersion the image's build comes from any node holding it."""
    holder = make_node("holder").windows(build=26100).image("example/app:ltsc2022", os_version="10.0.20348.2655").obj()
    nodes = [holder, make_node("w2019").windows(build=17763).obj(), make_node("w2022").windows(build=20348).obj()]
    busy = make_pod("busy").windows().requests(cpu="4").bound("holder").obj()
    result = place(make_pod().windows().image("example/app:ltsc2022").requests(cpu="1").obj(), nodes, pods=[busy])
    assert node_of(result) == "w2022"
    assert isinstance(place(make_pod().windows().image("example/app:v1").obj(), nodes[1:2]), Placement)  # unknown: unconstrained
    # No node holds it here, but the tag family names the build.
    assert not isinstance(place(make_pod().windows().image("example/app:ltsc2022").obj(), nodes[1:2]), Placement)


@pytest.mark.parametrize(
    ("kernel", "minimum", "ok"),
    [
        pytest.param("6.1.0-18-amd64", "5.10", True, id="newer"),
        pytest.param("5.4.0-150-generic", "5.10", False, id="older-numerically"),
        pytest.param("5.10.0-28-amd64", "5.10", True, id="equal"),
    ],
)
def test_kernel_constraint(kernel: str, minimum: str, ok: bool) -> None:
    """minKernelVersion compares numerically against status.platform.kernelVersion."""
    result = place(make_pod().linux(min_kernel=minimum).obj(), [make_node("n").linux(kernel=kernel).obj()])
    assert isinstance(result, Placement) is ok
    if not ok:
        assert result.message == "0/1 nodes are available: 1 node kernel 5.4.0 is older than 5.10."


@pytest.mark.parametrize(
    ("pod", "ok"),
    [
        pytest.param(make_pod(), False, id="untolerated"),
        pytest.param(make_pod().tolerate("os", "windows", "NoSchedule"), True, id="equal"),
        pytest.param(make_pod().tolerate("os", operator="Exists"), True, id="exists-any-effect"),
        pytest.param(make_pod().tolerate(operator="Exists"), True, id="tolerate-everything"),
        pytest.param(make_pod().tolerate("os", "linux", "NoSchedule"), False, id="wrong-value"),
        pytest.param(make_pod().tolerate("os", "windows", "NoExecute"), False, id="wrong-effect"),
    ],
)
def test_taints_block(pod, ok: bool) -> None:
    """os=windows:NoSchedule keeps out pods that do not tolerate it."""
    node = make_node("w").windows(build=20348).taint("os", "windows").obj()
    result = place(pod.windows(os_version=WIN.format(20348)).obj(), [node])
    assert isinstance(result, Placement) is ok
    if not ok:
        assert result.message == "0/1 nodes are available: 1 node(s) had untolerated taint {os: windows}."


def test_no_execute_blocks_and_prefer_no_schedule_scores() -> None:
    """NoExecute blocks like NoSchedule; PreferNoSchedule only steers away."""
    nodes = [make_node("a").taint("dedicated", "db", "NoExecute").obj(), make_node("b").taint("spot", "true", "PreferNoSchedule").obj()]
    assert node_of(place(make_pod().obj(), nodes)) == "b"
    nodes.append(make_node("c").obj())
    assert node_of(place(make_pod().obj(), nodes)) == "c"


@pytest.mark.parametrize(
    ("node", "reason"),
    [
        pytest.param(make_node("n").cordoned(), "node is cordoned (unschedulable)", id="cordoned"),
        pytest.param(make_node("n").not_ready(), "node is not ready", id="not-ready"),
        pytest.param(make_node("n").not_ready("Unknown"), "node is not ready", id="ready-unknown"),
    ],
)
def test_cordoned_and_not_ready(node, reason: str) -> None:
    """Cordoned and NotReady nodes take no pods, and that is resolvable (may change)."""
    result = place(make_pod().obj(), [node.obj()])
    assert isinstance(result, Unschedulable) and result.reasons == {reason: 1} and result.resolvable


@pytest.mark.parametrize(
    ("pod", "expect"),
    [
        pytest.param(make_pod().selector("zone", "b"), "b", id="node-selector"),
        pytest.param(make_pod().require("zone", "In", ["b", "c"]), "b", id="in"),
        pytest.param(make_pod().require("zone", "NotIn", ["a"]), "b", id="not-in"),
        pytest.param(make_pod().require("gpu", "Exists"), "b", id="exists"),
        pytest.param(make_pod().require("gpu", "DoesNotExist"), "a", id="does-not-exist"),
        pytest.param(make_pod().require("cores", "Gt", ["8"]), "b", id="gt"),
        pytest.param(make_pod().require("cores", "Lt", ["8"]), "a", id="lt"),
        pytest.param(make_pod().require("kubernetes.io/hostname", "In", ["b"]), "b", id="hostname"),
        pytest.param(make_pod().selector("zone", "z"), None, id="no-match"),
    ],
)
def test_node_selector_and_required_affinity(pod, expect: str | None) -> None:
    """nodeSelector and required node affinity operators select nodes by label."""
    nodes = [make_node("a").label("zone", "a").label("cores", "4").obj(), make_node("b").label("zone", "b").label("gpu", "1").label("cores", "16").obj()]
    assert node_of(place(pod.obj(), nodes)) == expect


def test_invalid_pod_is_an_error_status() -> None:
    """A pod with a bad quantity yields an error status naming it, not an exception."""
    result = place(make_pod().requests(cpu="lots").obj(), [make_node("n").obj()])
    assert isinstance(result, Unschedulable) and not result.resolvable
    assert result.code.name == "ERROR" and '"lots"' in result.message


def test_auto_prefers_process_isolation_host_over_hyperv() -> None:
    """An auto pod goes where it can run with process isolation, even when a Hyper-V host is fuller."""
    nodes = [
        make_node("w2019").windows(build=17763).obj(),
        make_node("w2025-hv").windows(build=26100).hyperv().obj(),
    ]
    busy = make_pod("busy").windows().requests(cpu="2").bound("w2025-hv").obj()
    pod = make_pod().windows(os_version="10.0.17763.6189").requests(cpu="1").obj()
    result = place(pod, nodes, pods=[busy])
    assert (node_of(result), result.isolation) == ("w2019", "process")
