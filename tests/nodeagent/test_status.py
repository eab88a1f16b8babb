"""pod_status(): phase, container states, restart counts and messages users see."""

from __future__ import annotations

import pytest

from mixfleet.nodeagent.backoff import BackoffState
from mixfleet.nodeagent.reconcile import pod_status
from tests.nodeagent.builders import at, exited, make_container, make_pod

B = BackoffState(base_seconds=10, cap_seconds=300)


def _state(status: dict, i: int = 0) -> str:
    return next(iter(status["containerStatuses"][i]["state"]))


@pytest.mark.parametrize(
    "pod, containers, now, phase, state",
    [
        pytest.param(make_pod(), [], 0, "Pending", "waiting", id="not-created-pending"),
        pytest.param(
            make_pod(), [make_container(make_pod())], 0, "Running", "running", id="running"
        ),
        pytest.param(
            make_pod(),
            [exited(make_pod(), code=1, attempt=1, finished=0)],
            5,
            "Running",
            "waiting",
            id="crashloop-still-running-phase",
        ),
        pytest.param(
            make_pod(restart="Never"),
            [exited(make_pod(restart="Never"), code=0)],
            0,
            "Succeeded",
            "terminated",
            id="never-success",
        ),
        pytest.param(
            make_pod(restart="Never"),
            [exited(make_pod(restart="Never"), code=2)],
            0,
            "Failed",
            "terminated",
            id="never-failure",
        ),
        pytest.param(
            make_pod(restart="OnFailure"),
            [exited(make_pod(restart="OnFailure"), code=0)],
            0,
            "Succeeded",
            "terminated",
            id="onfailure-success",
        ),
        pytest.param(
            make_pod(containers=2),
            [make_container(make_pod(containers=2))],
            0,
            "Pending",
            "running",
            id="one-of-two-started",
        ),
    ],
)
def test_phase_and_state(pod, containers, now, phase, state):
    """Phase follows kubelet's rule from the containers' states."""
    status = pod_status(pod, containers, now=at(now), backoff_state=B)
    assert (status["phase"], _state(status)) == (phase, state)


def test_crashloop_shows_reason_restart_count_and_last_exit():
    """A crashing container shows CrashLoopBackOff, its restart count and last exit code."""
    pod = make_pod()
    containers = [
        exited(pod, code=1, attempt=0, finished=-30),
        exited(pod, code=3, attempt=1, finished=0),
    ]
    [cs] = pod_status(pod, containers, now=at(5), backoff_state=B)["containerStatuses"]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert (
        "back-off 10s restarting failed container=c0 pod=web_default(uid-web)"
        == cs["state"]["waiting"]["message"]
    )
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["ready"] is False


def test_running_after_restart_keeps_last_state():
    """After a restart the previous attempt is lastState and the count went up."""
    pod = make_pod()
    containers = [
        exited(pod, code=137, attempt=0, finished=-10),
        make_container(pod, attempt=1, started=-5, cid="new"),
    ]
    status = pod_status(pod, containers, now=at(0), backoff_state=B)
    [cs] = status["containerStatuses"]
    assert (cs["restartCount"], cs["containerID"], cs["ready"]) == (1, "docker://new", True)
    assert cs["lastState"]["terminated"] == {
        "exitCode": 137,
        "reason": "Error",
        "startedAt": "2026-01-01T11:58:20Z",
        "finishedAt": "2026-01-01T11:59:50Z",
        "containerID": "docker://uid-web-c0-0",
    }
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }


def test_start_failure_message_reaches_pod():
    """An engine refusal (HCS text) shows as the container's waiting reason and the pod message."""
    hcs = "container x encountered an error during hcs::System::Start: ... (0xc0370101)"
    state = B.record(("uid-web", "c0"), reason="RunContainerError", message=hcs, now=at(0))
    status = pod_status(make_pod(), [], now=at(1), backoff_state=state)
    assert status["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "RunContainerError", "message": hcs}
    }
    assert (status["phase"], status["reason"], status["message"]) == (
        "Pending",
        "RunContainerError",
        hcs,
    )


def test_status_is_stable_when_nothing_changes():
    """Computing status again later gives the same dict, so no needless writes happen."""
    pod = make_pod(status={"conditions": [{"type": "PodScheduled", "status": "True"}]})
    first = pod_status(pod, [make_container(pod)], now=at(0), backoff_state=B, host_ip="10.0.0.5")
    pod["status"] = first
    again = pod_status(pod, [make_container(pod)], now=at(60), backoff_state=B, host_ip="10.0.0.5")
    assert again == first
    assert first["conditions"][0] == {"type": "PodScheduled", "status": "True"}
    assert first["hostIP"] == "10.0.0.5"


def test_isolation_reported_for_windows_pods():
    """The isolation the engine used is reported in status.isolation."""
    pod = make_pod()
    c = make_container(pod, labels={"mixfleet.io/isolation": "hyperv"})
    assert pod_status(pod, [c], now=at(0), backoff_state=B)["isolation"] == "hyperv"
    assert "isolation" not in pod_status(pod, [make_container(pod)], now=at(0), backoff_state=B)


def test_other_pods_containers_ignored():
    """Containers of another pod do not leak into this pod's status."""
    other = make_pod("db", uid="uid-db")
    status = pod_status(make_pod(), [make_container(other)], now=at(0), backoff_state=B)
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert status["phase"] == "Pending"
