"""plan(): the pure reconcile step, as tables of desired pods and actual containers."""

from __future__ import annotations

from typing import Any

import pytest

from mixfleet.nodeagent.backoff import BackoffState
from mixfleet.nodeagent.engines.base import RunState
from mixfleet.nodeagent.reconcile import (
    Create,
    Finalize,
    Pull,
    Remove,
    ReportStatus,
    Start,
    Stop,
    Wait,
    next_wake,
    plan,
)
from tests.nodeagent.builders import at, exited, foreign, make_container, make_pod

POD = make_pod()
B = BackoffState(base_seconds=10, cap_seconds=300)


def _kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize(
    "desired, actual, now, expected",
    [
        pytest.param([POD], [], 0, ["Create", "ReportStatus"], id="missing-container-created"),
        pytest.param(
            [POD], [make_container(POD)], 0, ["ReportStatus"], id="running-container-adopted"
        ),
        pytest.param(
            [POD],
            [make_container(POD, state=RunState.CREATED)],
            0,
            ["Start", "ReportStatus"],
            id="created-container-started",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1)],
            0,
            ["Create", "ReportStatus"],
            id="first-crash-restarts-at-once",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=1, finished=0)],
            5,
            ["Wait", "ReportStatus"],
            id="second-crash-waits-10s",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=1, finished=0)],
            10,
            ["Create", "ReportStatus"],
            id="backoff-expired-restarts",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=5, finished=0)],
            159,
            ["Wait", "ReportStatus"],
            id="fifth-restart-waits-160s",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=9, finished=0)],
            299,
            ["Wait", "ReportStatus"],
            id="backoff-capped-at-300s",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=9, finished=0)],
            300,
            ["Create", "ReportStatus"],
            id="cap-expired",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=3, started=-700, finished=0)],
            0,
            ["Create", "ReportStatus"],
            id="long-run-resets-backoff",
        ),
        pytest.param(
            [make_pod(restart="Never")],
            [exited(make_pod(restart="Never"), code=1)],
            0,
            ["ReportStatus"],
            id="never-not-restarted",
        ),
        pytest.param(
            [make_pod(restart="OnFailure")],
            [exited(make_pod(restart="OnFailure"), code=0)],
            0,
            ["ReportStatus"],
            id="onfailure-success-stays",
        ),
        pytest.param(
            [make_pod(restart="OnFailure")],
            [exited(make_pod(restart="OnFailure"), code=2)],
            0,
            ["Create", "ReportStatus"],
            id="onfailure-failure-restarts",
        ),
        pytest.param(
            [make_pod(restart="Always")],
            [exited(make_pod(restart="Always"), code=0)],
            0,
            ["Create", "ReportStatus"],
            id="always-restarts-on-success",
        ),
        pytest.param(
            [make_pod(deleting=True)],
            [make_container(make_pod(deleting=True))],
            0,
            ["Stop", "Remove", "Finalize"],
            id="deleting-pod-stopped-removed-finalized",
        ),
        pytest.param(
            [make_pod(deleting=True)],
            [],
            0,
            ["Finalize"],
            id="deleting-pod-without-containers-finalized",
        ),
        pytest.param(
            [], [make_container(POD)], 0, ["Stop", "Remove"], id="orphan-running-stopped-removed"
        ),
        pytest.param([], [exited(POD, code=0)], 0, ["Remove"], id="orphan-exited-removed"),
        pytest.param(
            [POD],
            [make_container(POD), foreign()],
            0,
            ["ReportStatus"],
            id="foreign-container-untouched",
        ),
        pytest.param([], [foreign()], 0, [], id="foreign-container-never-orphaned"),
        pytest.param(
            [POD],
            [make_container(POD, labels={"mixfleet.io/spec-hash": "old"})],
            0,
            ["Stop", "Remove", "Create", "ReportStatus"],
            id="changed-spec-recreates",
        ),
        pytest.param(
            [POD],
            [exited(POD, code=1, attempt=a, finished=-1000) for a in range(4)],
            0,
            ["Remove", "Remove", "Create", "ReportStatus"],
            id="old-attempts-removed",
        ),
        pytest.param(
            [make_pod(containers=2)],
            [make_container(make_pod(containers=2))],
            0,
            ["Create", "ReportStatus"],
            id="second-container-created",
        ),
    ],
)
def test_plan(desired, actual, now, expected):
    """Each situation yields the actions kubelet would take, in order."""
    assert _kinds(plan(desired, actual, now=at(now), backoff_state=B)) == expected


def test_restart_creates_next_attempt_with_limits():
    """A restart creates the next attempt (restart count +1) with the pod's limits."""
    [create, _] = plan(
        [POD], [exited(POD, code=1, attempt=2, finished=-100)], now=at(0), backoff_state=B
    )
    assert isinstance(create, Create)
    assert create.spec.labels["mixfleet.io/restart-count"] == "3"
    assert (create.spec.nano_cpus, create.spec.memory_bytes) == (500_000_000, 64 << 20)
    assert create.spec.command == ("sh", "-c", "sleep 600")


def test_delete_uses_pod_grace_period():
    """A deleted pod's containers get the pod's terminationGracePeriodSeconds."""
    pod = make_pod(deleting=True, grace=7)
    [stop, remove, fin] = plan([pod], [make_container(pod, cid="x")], now=at(0), backoff_state=B)
    assert stop == Stop("uid-web", "x", 7, "pod deleted")
    assert remove == Remove("uid-web", "x", "pod deleted")
    assert fin == Finalize("uid-web", "default", "web")


def test_orphan_uses_grace_recorded_on_container():
    """An orphan's grace comes from its label, since its pod is gone."""
    pod = make_pod(grace=3)
    [stop, _] = plan([], [make_container(pod, cid="x")], now=at(0), backoff_state=B)
    assert stop.grace_seconds == 3


@pytest.mark.parametrize(
    "present, pull_policy, expected",
    [
        pytest.param(
            frozenset(), None, ["Pull", "Create", "ReportStatus"], id="absent-image-pulled"
        ),
        pytest.param(
            frozenset({"mixfleet/busybox:latest"}),
            None,
            ["Create", "ReportStatus"],
            id="present-image-not-pulled",
        ),
        pytest.param(
            frozenset({"mixfleet/busybox:latest"}),
            "Always",
            ["Pull", "Create", "ReportStatus"],
            id="always-pulls",
        ),
        pytest.param(frozenset(), "Never", ["Create", "ReportStatus"], id="never-pulls"),
    ],
)
def test_pull_decisions(present, pull_policy, expected):
    """Images are pulled when absent or when imagePullPolicy is Always, never when Never."""
    pod = make_pod()
    if pull_policy:
        pod["spec"]["containers"][0]["imagePullPolicy"] = pull_policy
    actions = plan([pod], [], now=at(0), backoff_state=B, present_images=present)
    assert _kinds(actions) == expected
    if "Pull" in expected:
        assert actions[0] == Pull("uid-web", "c0", "mixfleet/busybox:latest")


def test_start_failure_backs_off():
    """After a start failure the next try waits; when the wait ends it retries."""
    state = B.record(("uid-web", "c0"), reason="RunContainerError", message="hcs", now=at(0))
    state = state.record(("uid-web", "c0"), reason="RunContainerError", message="hcs", now=at(0))
    waiting = plan([POD], [], now=at(19), backoff_state=state)
    assert _kinds(waiting) == ["Wait", "ReportStatus"]
    assert next_wake(waiting) == at(20)
    assert _kinds(plan([POD], [], now=at(20), backoff_state=state)) == ["Create", "ReportStatus"]


def test_windows_isolation_from_binding():
    """On Windows the scheduler's binding.isolation reaches the container spec."""
    pod = make_pod(image="mcr.microsoft.com/windows/servercore:ltsc2019")
    pod["spec"]["binding"] = {
        "isolation": "hyperv",
        "images": {"c0": "mcr.microsoft.com/windows/nanoserver:ltsc2019"},
    }
    [create, report] = plan([pod], [], now=at(0), backoff_state=B, host_os="windows")
    assert (create.spec.isolation, create.spec.image) == (
        "hyperv",
        "mcr.microsoft.com/windows/nanoserver:ltsc2019",
    )
    assert report == ReportStatus("uid-web", "default", "web")


def test_start_action_names_created_container():
    """A container created but never started (agent died in between) is started, not recreated."""
    [start, _] = plan(
        [POD], [make_container(POD, state=RunState.CREATED, cid="x")], now=at(0), backoff_state=B
    )
    assert start == Start("uid-web", "c0", "x")


def test_wait_carries_expiry():
    """The back-off Wait says when to look again."""
    actions = plan([POD], [exited(POD, code=1, attempt=2, finished=0)], now=at(1), backoff_state=B)
    assert actions[0] == Wait("uid-web", "c0", at(20))


@pytest.mark.parametrize(
    "probe_grace, expected",
    [pytest.param(None, 9, id="pod-grace"), pytest.param(2, 2, id="probe-grace-wins")],
)
def test_unhealthy_container_is_stopped_with_the_probes_grace(probe_grace, expected):
    """A running container a liveness probe failed is stopped, with the probe's
    terminationGracePeriodSeconds when it has one, else the pod's."""
    from mixfleet.nodeagent.probes import Unhealthy

    pod = make_pod(grace=9)
    sick = {"x": Unhealthy("failed liveness probe", probe_grace)}
    [stop, _] = plan([pod], [make_container(pod, cid="x")], now=at(0), backoff_state=B, unhealthy=sick)
    assert stop == Stop("uid-web", "x", expected, "failed liveness probe")


@pytest.mark.parametrize(
    "policy, restarted",
    [pytest.param("OnFailure", True, id="on-failure-restarts"), pytest.param("Never", False, id="never-stays")],
)
def test_probe_killed_container_restarts_unless_never(policy, restarted):
    """Killed by a probe, a container that exited 0 is still restarted under OnFailure."""
    from mixfleet.nodeagent.probes import Unhealthy

    pod = make_pod(restart=policy)
    dead = exited(pod, code=0, cid="x")
    actions = plan([pod], [dead], now=at(0), backoff_state=B,
                   unhealthy={"x": Unhealthy("failed liveness probe", None)})
    assert any(isinstance(a, Create) for a in actions) is restarted


def _sandboxed(pod: dict, *, ip: str = "10.9.0.7") -> tuple[Any, Any]:
    """(the node's sandbox config, the pod's running sandbox)."""
    from mixfleet.nodeagent.engines.base import ContainerState
    from mixfleet.nodeagent.sandbox import SandboxConfig, sandbox_spec

    cfg = SandboxConfig.for_host(host_os="linux")
    spec = sandbox_spec(pod, cfg, attempt=0)
    box = ContainerState(id="box", name=spec.name, labels=dict(spec.labels), image=spec.image,
                         state=RunState.RUNNING, started_at=at(-100), ip=ip)
    return cfg, box


@pytest.mark.parametrize(
    "policy, restarted",
    [pytest.param("OnFailure", True, id="on-failure-restarts"), pytest.param("Never", False, id="never-stays")],
)
def test_probe_killed_container_restarts_in_its_sandbox(policy, restarted):
    """In a pod with a sandbox, a probe-killed container that exited 0 under OnFailure does
    not make the pod finished: it is made again in the same sandbox, which keeps running.
    Under Never the pod is done and its sandbox stops."""
    from mixfleet.nodeagent.probes import Unhealthy
    from mixfleet.nodeagent.sandbox import LABEL_SANDBOX

    pod = make_pod(restart=policy)
    cfg, box = _sandboxed(pod)
    dead = exited(pod, code=0, cid="x", labels={LABEL_SANDBOX: "box"})
    actions = plan([pod], [box, dead], now=at(0), backoff_state=B, sandbox=cfg,
                   unhealthy={"x": Unhealthy("failed liveness probe", None)})
    creates = [a for a in actions if isinstance(a, Create)]
    assert bool(creates) is restarted
    assert any(isinstance(a, Stop) and a.container_id == "box" for a in actions) is not restarted
    if restarted:
        assert creates[0].spec.network_mode == "container:box" and creates[0].pod_ip == "10.9.0.7"
