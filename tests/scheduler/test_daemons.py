"""Which nodes a DaemonSet's pod should run on (scheduler/daemons.py), and why not."""

from __future__ import annotations

import pytest

from mixfleet.api.daemonsets import DAEMON_TOLERATIONS
from mixfleet.scheduler import Scheduler, Snapshot
from mixfleet.scheduler.daemons import node_verdicts
from tests.scheduler.builders import make_node, make_pod

NANO_2022 = "mcr.microsoft.com/windows/nanoserver:ltsc2022"


def daemon(builder) -> dict:
    pod = builder.obj()
    pod["spec"].setdefault("tolerations", []).extend(dict(t) for t in DAEMON_TOLERATIONS)
    return pod


@pytest.mark.parametrize(
    ("node", "pod", "run", "keep", "reason"),
    [
        pytest.param(make_node("n").windows(build=20348), make_pod("p").windows().image(NANO_2022),
                     True, True, "", id="win-same-build"),
        pytest.param(make_node("n").windows(build=26100), make_pod("p").windows().image(NANO_2022),
                     True, True, "", id="win-newer-host-runs-20348-process"),
        pytest.param(make_node("n").windows(build=17763), make_pod("p").windows().image(NANO_2022), False, False,
                     f"image {NANO_2022}: host build 17763 cannot run image build 20348 with process isolation",
                     id="win-2019-host-2022-image"),
        pytest.param(make_node("n").linux(), make_pod("p").windows().image(NANO_2022), False, False,
                     "node OS is linux, pod needs windows", id="linux-node-windows-pod"),
        pytest.param(make_node("n").windows(), make_pod("p"), False, False,
                     "node OS is windows, pod needs linux", id="windows-node-linux-pod"),
        pytest.param(make_node("n").label("role", "edge"), make_pod("p").selector("role", "core"), False, False,
                     "node(s) didn't match Pod's node affinity/selector", id="node-selector"),
        pytest.param(make_node("n").taint("gpu", "yes"), make_pod("p"), False, True,
                     "node(s) had untolerated taint {gpu: yes}", id="noschedule-taint-keeps-running-pod"),
        pytest.param(make_node("n").taint("evict", effect="NoExecute"), make_pod("p"), False, False,
                     "node(s) had untolerated taint {evict}", id="noexecute-taint"),
        pytest.param(make_node("n").cordoned(), make_pod("p"), True, True, "", id="cordoned-node-still-runs"),
        pytest.param(make_node("n").not_ready(), make_pod("p"), True, True, "", id="not-ready-waits-at-scheduler"),
        pytest.param(make_node("n").cpu("100m"), make_pod("p").requests(cpu="2"), True, True, "",
                     id="resources-left-to-scheduler"),
    ],
)
def test_verdict(node, pod, run: bool, keep: bool, reason: str) -> None:
    """A node is skipped only for what waiting cannot change, with the scheduler's reason."""
    v = node_verdicts(daemon(pod), [node.obj()])["n"]
    assert (v.should_run, v.should_continue, v.reason) == (run, keep, reason)


def test_hostname_affinity_checked_per_node() -> None:
    """A template's own hostname term picks nodes one by one, though they share a class."""
    pod = daemon(make_pod("p").require("kubernetes.io/hostname", "In", ["a"]))
    verdicts = node_verdicts(pod, [make_node("a").obj(), make_node("b").obj()])
    assert verdicts["a"].should_run and not verdicts["b"].should_run


def test_template_node_name_picks_that_node_only() -> None:
    """A template that names its node (spec.nodeName) runs there only, as in Kubernetes."""
    pod = daemon(make_pod("p"))
    pod["spec"]["nodeName"] = "a"
    verdicts = node_verdicts(pod, [make_node("a").obj(), make_node("b").obj()])
    assert verdicts["a"].should_run
    assert (verdicts["b"].should_run, verdicts["b"].reason) == (False, "the template's nodeName is a")


def test_pinned_daemon_pod_goes_to_cordoned_node() -> None:
    """The scheduler places a pod tolerating the unschedulable taint on a cordoned node,
    and not one without it (Kubernetes' NodeUnschedulable)."""
    snap = Snapshot.build([make_node("c").cordoned().obj()], [])
    assert Scheduler().schedule(daemon(make_pod("d")), snap).node_name == "c"  # type: ignore[union-attr]
    assert "cordoned" in Scheduler().schedule(make_pod("p").obj(), snap).message  # type: ignore[union-attr]
