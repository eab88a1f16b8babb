"""Deployments on a real control plane over real etcd, with stand-in node agents."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import pytest

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.api.kinds import lookup
from mixfleet.client import Client
from mixfleet.mixctl.commands.rollout import follow_rollout, revisions, undo
from mixfleet.mixctl.commands.scale import set_replicas
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import mutate
from tests.controllers.agents import FakeAgent
from tests.controllers.conftest import (
    deployment,
    eventually,
    run_mixctl,
    track_min_available,
)

pytestmark = pytest.mark.etcd


@pytest.fixture
async def agents(etcd_client: Client) -> AsyncIterator[list[FakeAgent]]:
    started = [await FakeAgent(etcd_client, f"n{i}").start() for i in range(2)]
    yield started
    for a in started:
        await a.stop()


async def _pods(client: Client, app: str) -> list[dict]:
    pods, _ = await client.list("Pod")
    return [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == app]


async def _running(client: Client, app: str, n: int) -> list[dict] | None:
    """The app's live pods once there are exactly n, all available."""
    live = [p for p in await _pods(client, app) if not P.deleting(p)]
    return live if len(live) == n and all(P.is_available(p) for p in live) else None


async def _set_replicas(client: Client, name: str, n: int) -> None:
    """What `mixctl scale` does: a compare-and-swap update, retried on conflict."""
    await mutate(client, lookup("Deployment"), name, "default", lambda d: set_replicas(d, n))


def _set_image(d: dict, image: str) -> bool:
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return True


async def _complete(client: Client, name: str) -> dict | None:
    from mixfleet.api.workloads import rollout_complete

    d = await client.get("Deployment", name)
    return d if rollout_complete(d) else None


async def test_scale_one_to_five_to_two(etcd_client: Client, agents: list[FakeAgent]) -> None:
    """Scaling creates and removes pods owned by one ReplicaSet; the oldest pod survives."""
    await etcd_client.create(deployment("web", replicas=1))
    first = await eventually(lambda: _running(etcd_client, "web", 1), what="1 pod")
    await _set_replicas(etcd_client, "web", 5)
    five = await eventually(lambda: _running(etcd_client, "web", 5), what="5 pods")
    await _set_replicas(etcd_client, "web", 2)
    two = await eventually(lambda: _running(etcd_client, "web", 2), what="2 pods")

    (rs,) = await revisions(etcd_client, "web", "default")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert all(objects.is_controlled_by(p, rs) and p["metadata"]["name"].startswith(f"web-{h}-")
               for p in five)
    assert first[0]["metadata"]["name"] in {p["metadata"]["name"] for p in two}
    d = await eventually(lambda: _complete(etcd_client, "web"), what="status caught up")
    assert {k: d["status"][k] for k in ("replicas", "updatedReplicas", "availableReplicas")} == {
        "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}


async def test_rolling_update_keeps_availability_and_undo_rolls_back(
    etcd_client: Client, agents: list[FakeAgent]
) -> None:
    """During an update no moment has fewer than replicas - maxUnavailable available pods;
    undo brings the old template back as a new revision."""
    await etcd_client.create(deployment("api", replicas=4, max_surge=1, max_unavailable=1,
                                        readiness=True))
    await eventually(lambda: _running(etcd_client, "api", 4), what="4 pods")
    await eventually(lambda: _complete(etcd_client, "api"), what="first rollout")
    low = [4]
    watcher = asyncio.create_task(track_min_available(etcd_client, "api", low))
    await asyncio.sleep(0.2)  # the watch is established
    await mutate(etcd_client, lookup("Deployment"), "api", "default",
                 lambda d: _set_image(d, "example/app:2"))
    stages: list[str] = []
    await asyncio.wait_for(follow_rollout(etcd_client, "api", "default", emit=stages.append), 60)
    pods = await eventually(lambda: _running(etcd_client, "api", 4), what="4 new pods")
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher

    assert low[0] >= 3
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"example/app:2"}
    assert stages[-1] == 'deployment "api" successfully rolled out'
    old, new = await revisions(etcd_client, "api", "default")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)

    assert await undo(etcd_client, "api", "default") == (1, True)
    await eventually(lambda: _complete(etcd_client, "api"), what="rollback")
    pods = await eventually(lambda: _running(etcd_client, "api", 4), what="4 rolled-back pods")
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"example/app:1"}
    sets = await revisions(etcd_client, "api", "default")
    assert [(rs["metadata"]["name"], rs["spec"]["replicas"]) for rs in sets] == [(new["metadata"]["name"], 0), (old["metadata"]["name"], 4)]
    d = await etcd_client.get("Deployment", "api")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


async def test_rollout_status_history_and_events_from_mixctl(
    etcd_client: Client, etcd_controlplane: object, agents: list[FakeAgent]
) -> None:
    """`mixctl rollout status` follows to completion, `history` lists revisions; scaling
    is recorded as Events."""
    await etcd_client.create(deployment("hist", replicas=2))
    server = etcd_controlplane.address  # type: ignore[attr-defined]
    status = await run_mixctl(server, "rollout", "status", "deployment/hist", "--timeout", "60")
    history = await run_mixctl(server, "rollout", "history", "deployment/hist")
    assert status.splitlines()[-1] == 'deployment "hist" successfully rolled out'
    assert history.splitlines()[1:] == ["REVISION  CHANGE-CAUSE", "1         <none>"]
    events, _ = await etcd_client.list("Event")
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events
               if e["involvedObject"]["name"].startswith("hist")}
    assert {("Deployment", "ScalingReplicaSet"), ("ReplicaSet", "SuccessfulCreate"),
            ("Pod", "Scheduled")} <= reasons


async def test_stuck_rollout_exceeds_its_progress_deadline(etcd_client: Client) -> None:
    """Pods that never become ready stall the rollout; after progressDeadlineSeconds the
    Deployment says ProgressDeadlineExceeded and `rollout status` gives up with an error."""
    agent = await FakeAgent(etcd_client, "stuck-node", ready_pods=False).start()
    try:
        d = deployment("stuck", replicas=1, readiness=True)
        d["spec"]["progressDeadlineSeconds"] = 1
        await etcd_client.create(d)
        with pytest.raises(CLIError, match="exceeded its progress deadline"):
            await asyncio.wait_for(
                follow_rollout(etcd_client, "stuck", "default", emit=lambda m: None), 60)
    finally:
        await agent.stop()

    async def warned() -> bool:
        events, _ = await etcd_client.list("Event")
        return "ProgressDeadlineExceeded" in {
            e["reason"] for e in events if e["involvedObject"]["name"] == "stuck"}

    await eventually(warned, what="a ProgressDeadlineExceeded event")
