"""Init containers on a real dockerd: run one by one, in order, to completion before the app
containers; a failed one retried with back-off (Always/OnFailure) or failing the pod
(Never); run again when the pod's sandbox is replaced; `mixctl get pods` says Init:N/M."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from typing import Any

import pytest

from mixfleet.mixctl.printers.podstatus import pod_restarts, pod_status
from mixfleet.nodeagent.engines.docker_engine import parse_time
from mixfleet.nodeagent.sandbox import is_sandbox
from tests.fixtures.controlplane import REPO
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import IMAGE, harness  # noqa: F401  (fixture)

pytestmark = pytest.mark.docker


def init_pod(name: str, node: str, inits: list[str], *, restart: str = "Always") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "initContainers": [
                {"name": f"init{i}", "image": IMAGE, "command": ["sh", "-c", script]}
                for i, script in enumerate(inits)
            ],
            "containers": [{"name": "app", "image": IMAGE, "command": ["sleep", "600"]}],
        },
    }


async def _pod(client: Any, name: str) -> dict:
    return await client.get("Pod", name, "default")


async def _app_running(client: Any, name: str) -> dict | None:
    pod = await _pod(client, name)
    cs = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]
    return pod if "running" in (cs.get("state") or {}) else None


def _times(dockerd: Any, cid: str) -> tuple[Any, Any]:
    st = dockerd.client.api.inspect_container(cid)["State"]
    return parse_time(st["StartedAt"]), parse_time(st["FinishedAt"])


def _cid(status: dict) -> str:
    return str(status.get("containerID") or (status["state"].get("terminated") or {})["containerID"]).split("://")[-1]


async def test_init_containers_run_in_order_before_the_app(harness, client, dockerd):  # noqa: F811
    """Each init container starts only after the one before it ended, and the app container
    only after the last: the engine's own start and finish times say so."""
    await harness.start()
    await client.create(init_pod("ordered", harness.node, ["sleep 1", "sleep 1"]))
    pod = await eventually(lambda: _app_running(client, "ordered"))
    st = pod["status"]
    first, second = st["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in (first, second)] == ["Completed"] * 2
    assert first["ready"] and second["ready"]
    f_start, f_end = _times(dockerd, _cid(first))
    s_start, s_end = _times(dockerd, _cid(second))
    a_start, _ = _times(dockerd, _cid(st["containerStatuses"][0]))
    assert f_start < f_end <= s_start < s_end <= a_start
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds["Initialized"] == "True" and st["phase"] == "Running"
    assert pod_status(pod) == "Running"


async def test_running_init_container_holds_the_app_back(harness, client, controlplane):  # noqa: F811
    """While the first of two init containers runs, the app container is not created, the
    pod is Pending and not Initialized, and `mixctl get pods` shows Init:0/2."""
    await harness.start()
    created = await client.create(init_pod("waiting", harness.node, ["sleep 600", "true"]))

    async def initializing() -> dict | None:
        pod = await _pod(client, "waiting")
        inits = (pod.get("status") or {}).get("initContainerStatuses") or []
        return pod if inits and "running" in inits[0]["state"] else None

    pod = await eventually(initializing)
    st = pod["status"]
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert {c["type"]: c.get("reason") for c in st["conditions"]}["Initialized"] == "ContainersNotInitialized"
    names = {c.labels.get("mixfleet.io/container-name") for c in await harness.containers(created["metadata"]["uid"])}
    assert names == {"init0"}
    assert "Init:0/2" in await _get_pods(controlplane.address, "waiting")


async def test_failing_init_container_with_never_fails_the_pod(harness, client):  # noqa: F811
    """restartPolicy Never: an init container that fails fails the pod; the app never runs
    and the pod's sandbox stops."""
    await harness.start()
    created = await client.create(init_pod("doomed", harness.node, ["exit 3"], restart="Never"))

    async def failed() -> dict | None:
        pod = await _pod(client, "doomed")
        return pod if (pod.get("status") or {}).get("phase") == "Failed" else None

    pod = await eventually(failed)
    [init] = pod["status"]["initContainerStatuses"]
    assert init["state"]["terminated"]["exitCode"] == 3 and init["restartCount"] == 0
    assert pod_status(pod) == "Init:Error"
    uid = created["metadata"]["uid"]
    assert [c.labels["mixfleet.io/container-name"] for c in await harness.containers(uid)] == ["init0"]

    async def sandbox_stopped() -> bool:
        boxes = [c for c in await harness.engine.list_containers({"mixfleet.io/pod-uid": uid}) if is_sandbox(c)]
        return bool(boxes) and all(c.state.value == "exited" for c in boxes)

    await eventually(sandbox_stopped)


async def test_failing_init_container_is_retried_with_backoff(harness, client):  # noqa: F811
    """restartPolicy Always: a failing init container is run again after a growing back-off,
    shown as Init:CrashLoopBackOff; the app container waits."""
    await harness.start()
    await client.create(init_pod("retry", harness.node, ["exit 1"]))

    async def crashlooping() -> dict | None:
        pod = await _pod(client, "retry")
        inits = (pod.get("status") or {}).get("initContainerStatuses") or [{}]
        waiting = (inits[0].get("state") or {}).get("waiting") or {}
        return pod if waiting.get("reason") == "CrashLoopBackOff" and inits[0]["restartCount"] >= 2 else None

    pod = await eventually(crashlooping)
    assert pod_status(pod) == "Init:CrashLoopBackOff"
    assert pod["status"]["phase"] == "Pending"
    assert int(pod_restarts(pod, now=datetime.now(timezone.utc)).split()[0]) >= 2
    assert "running" not in pod["status"]["containerStatuses"][0]["state"]


async def test_init_containers_run_again_in_a_new_sandbox(harness, client, dockerd):  # noqa: F811
    """When the pod's sandbox dies, the init containers run again before the app restarts."""
    await harness.start()
    created = await client.create(init_pod("again", harness.node, ["true"]))
    uid = created["metadata"]["uid"]
    await eventually(lambda: _app_running(client, "again"))
    [box] = [c for c in await harness.engine.list_containers({"mixfleet.io/pod-uid": uid}) if is_sandbox(c)]
    dockerd.client.api.kill(box.id)

    async def rerun() -> dict | None:
        pod = await _app_running(client, "again")
        st = (pod or {}).get("status") or {}
        inits = st.get("initContainerStatuses") or [{}]
        return pod if inits[0].get("restartCount") == 1 and st["containerStatuses"][0]["restartCount"] >= 1 else None

    pod = await eventually(rerun)
    init_end = _times(dockerd, _cid(pod["status"]["initContainerStatuses"][0]))[1]
    app_start = _times(dockerd, _cid(pod["status"]["containerStatuses"][0]))[0]
    assert init_end <= app_start


async def _get_pods(address: str, name: str) -> str:
    """`mixctl get pods NAME` as a user runs it (a subprocess: the control plane runs on this
    test's event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mixfleet.mixctl", "--server", address, "get", "pods", name,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()

