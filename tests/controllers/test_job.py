"""Jobs run to completion on real agents: a real dockerd (busybox) and simulated nodes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from mixfleet.api import times
from mixfleet.client import APIError, Client
from tests.controllers.agents import FAST_AGENT, SimulatedNode
from tests.controllers.conftest import eventually, run_mixctl

IMAGE = "mixfleet/busybox:latest"


def job(name: str, script: str, *, restart: str = "Never", **spec: Any) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            **spec,
            "template": {"spec": {
                "restartPolicy": restart,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "work", "image": IMAGE, "command": ["sh", "-c", script],
                                "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}}}],
            }},
        },
    }


@pytest_asyncio.fixture
async def cp(tmp_path: Path) -> AsyncIterator[Any]:
    """A control plane whose Jobs retry after 0.2 s (doubled per failure), not 10 s."""
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    plane = ControlPlane(ControlPlaneConfig(
        store_url=f"sqlite:///{tmp_path / 'state.db'}", listen="127.0.0.1:0",
        job_backoff_seconds=0.2,
    ))
    await plane.start()
    try:
        yield plane
    finally:
        await plane.stop()


@pytest_asyncio.fixture
async def api(cp: Any) -> AsyncIterator[Client]:
    async with Client(cp.address, retry_seconds=5) as c:
        yield c


@pytest_asyncio.fixture
async def sim_node(api: Client) -> AsyncIterator[SimulatedNode]:
    node = await SimulatedNode(api, "sim-1").start()
    yield node
    await node.stop()


async def _job_pods(api: Client, name: str) -> list[dict]:
    pods, _ = await api.list("Pod", namespace="default", label_selector=f"job-name={name}")
    return pods


async def _condition(api: Client, name: str) -> dict | None:
    j = await api.get("Job", name, "default")
    return next((c for c in (j.get("status") or {}).get("conditions") or []
                 if c["status"] == "True" and c["type"] in ("Complete", "Failed")), None)


async def _most_active(api: Client, name: str, seen: list[int]) -> None:
    """Keep in seen[0] the most pods of Job ``name`` running or pending at one revision."""
    pods, rev = await api.list("Pod", namespace="default")
    state = {p["metadata"]["name"]: p for p in pods}
    async for ev in api.watch("Pod", namespace="default", from_revision=rev + 1):
        if ev.type == "DELETED":
            state.pop(ev.object["metadata"]["name"], None)
        else:
            state[ev.object["metadata"]["name"]] = ev.object
        active = sum(1 for p in state.values()
                     if (p["metadata"].get("labels") or {}).get("job-name") == name
                     and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                     and not p["metadata"].get("deletionTimestamp"))
        seen[0] = max(seen[0], active)


@pytest.mark.docker
async def test_job_completes_on_docker_with_parallelism(cp: Any, api: Client, dockerd) -> None:
    """completions 3, parallelism 2: three busybox pods succeed on a real dockerd, never
    more than two at once; the Job is Complete and mixctl shows 3/3."""
    from mixfleet.nodeagent.agent import Agent, AgentConfig
    from mixfleet.nodeagent.engines.docker_engine import DockerEngine
    from mixfleet.nodeagent.podspec import LABEL_NODE, MANAGED

    node = f"docker-{uuid.uuid4().hex[:6]}"
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    agent = asyncio.create_task(Agent(api, engine, node, config=AgentConfig(**FAST_AGENT)).run())  # type: ignore[arg-type]
    seen = [0]
    watcher = asyncio.create_task(_most_active(api, "count", seen))
    try:
        await api.create(job("count", "sleep 1; echo done", completions=3, parallelism=2))
        cond = await eventually(lambda: _condition(api, "count"), what="job complete", timeout=90)
        assert cond["type"] == "Complete"
        j = await api.get("Job", "count", "default")
        assert j["status"]["succeeded"] == 3 and j["status"]["failed"] == 0
        assert j["status"]["completionTime"] >= j["status"]["startTime"]
        pods = await _job_pods(api, "count")
        assert sorted(p["status"]["phase"] for p in pods) == ["Succeeded"] * 3
        assert {p["spec"]["nodeName"] for p in pods} == {node}
        assert seen[0] == 2
        out = await run_mixctl(cp.address, "get", "jobs")
        assert "COMPLETIONS" in out and "3/3" in out.splitlines()[1]
    finally:
        watcher.cancel()
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(watcher, agent)
        for c in await engine.list_containers({**MANAGED, LABEL_NODE: node}):
            await engine.remove(c.id)
        await engine.close()


async def test_backoff_limit_fails_the_job(api: Client, sim_node: SimulatedNode) -> None:
    """A pod that always fails is retried one at a time, each after the previous failed,
    until backoffLimit + 1 failures; then the Job is Failed (BackoffLimitExceeded) and no
    more pods are made."""
    await api.create(job("flaky", "exit 1", backoffLimit=2))
    cond = await eventually(lambda: _condition(api, "flaky"), what="job failed")
    assert cond["type"] == "Failed" and cond["reason"] == "BackoffLimitExceeded"
    await asyncio.sleep(1.5)  # time for a wrong extra retry (back-off 0.8 s by now)
    pods = sorted(await _job_pods(api, "flaky"), key=lambda p: p["metadata"]["creationTimestamp"])
    assert [p["status"]["phase"] for p in pods] == ["Failed"] * 3
    for before, after in zip(pods, pods[1:]):
        ended = before["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
        assert times.parse_time(after["metadata"]["creationTimestamp"]) >= times.parse_time(ended)
    j = await api.get("Job", "flaky", "default")
    assert j["status"]["failed"] == 3 and j["status"]["active"] == 0
    events, _ = await api.list("Event", namespace="default")
    assert any(e["reason"] == "BackoffLimitExceeded" and e["involvedObject"]["name"] == "flaky" for e in events)


async def test_on_failure_restarts_count_towards_backoff_limit(api: Client, sim_node: SimulatedNode) -> None:
    """restartPolicy OnFailure: the agent restarts the container in the same pod; its
    restarts count as failures, and the Job fails once they pass backoffLimit, its pod
    stopped."""
    await api.create(job("restarts", "exit 2", restart="OnFailure", backoffLimit=1))
    cond = await eventually(lambda: _condition(api, "restarts"), what="job failed")
    assert cond["reason"] == "BackoffLimitExceeded"
    await eventually(lambda: _none_left(api, "restarts"), what="the pod removed")
    j = await api.get("Job", "restarts", "default")
    assert j["status"]["failed"] >= 2


async def _none_left(api: Client, name: str) -> bool:
    pods = await _job_pods(api, name)
    return all(p["metadata"].get("deletionTimestamp") for p in pods) and not [
        p for p in pods if (p.get("status") or {}).get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
    ]


async def test_active_deadline_stops_the_job(api: Client, sim_node: SimulatedNode) -> None:
    """activeDeadlineSeconds: a Job still running after it is Failed (DeadlineExceeded) and
    its running pod is stopped."""
    await api.create(job("slow", "sleep 3600", activeDeadlineSeconds=2))
    await eventually(lambda: _running(api, "slow"), what="pod running")
    cond = await eventually(lambda: _condition(api, "slow"), what="deadline")
    assert cond["type"] == "Failed" and cond["reason"] == "DeadlineExceeded"
    await eventually(lambda: _gone(api, "slow"), what="pod stopped and removed")
    assert not await sim_node.pod_uids() - {""}


async def _running(api: Client, name: str) -> bool:
    return any((p.get("status") or {}).get("phase") == "Running" for p in await _job_pods(api, name))


async def _gone(api: Client, name: str) -> bool:
    return not await _job_pods(api, name)


async def test_ttl_after_finished_deletes_job_and_pods(api: Client, sim_node: SimulatedNode) -> None:
    """ttlSecondsAfterFinished: a finished Job and its pods are deleted that long after."""
    await api.create(job("brief", "exit 0", ttlSecondsAfterFinished=1))
    await eventually(lambda: _condition(api, "brief"), what="job complete")
    await eventually(lambda: _job_gone(api, "brief"), what="job deleted by its TTL")
    await eventually(lambda: _gone(api, "brief"), what="pods collected")


async def _job_gone(api: Client, name: str) -> bool:
    jobs, _ = await api.list("Job", namespace="default")
    return not [j for j in jobs if j["metadata"]["name"] == name]


async def test_restart_policy_always_is_refused(api: Client) -> None:
    """A Job's pods must finish: restartPolicy Always (or none) is refused naming the field."""
    bad = job("always", "true", restart="Always")
    with pytest.raises(APIError, match=r'spec.template.spec.restartPolicy: unsupported value "Always"'):
        await api.create(bad)
    jobs, _ = await api.list("Job", namespace="default")
    assert not jobs
