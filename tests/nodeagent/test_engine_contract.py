"""One contract for every Engine: the Docker adapter (real dockerd) and the simulated engine."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mixfleet.nodeagent.engines.base import ContainerSpec, ImageNotFound, RunState
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from tests.nodeagent.builders import eventually

IMAGE = "mixfleet/busybox:latest"


@pytest.fixture(params=["docker", "simulated"])
async def engine(request):
    if request.param == "docker":
        e = DockerEngine(base_url=request.getfixturevalue("dockerd").socket_url, retry_seconds=2)
    else:
        e = SimulatedEngine(os="linux", images=[IMAGE])
    yield e
    await e.close()


def _spec(script: str, **labels: str) -> ContainerSpec:
    name = f"k-{uuid.uuid4().hex[:10]}"
    return ContainerSpec(
        name=name,
        image=IMAGE,
        command=("sh", "-c", script),
        labels={"mixfleet.io/managed": "true", "contract": name, **labels},
    )


async def _state(engine, spec: ContainerSpec):
    [c] = await engine.list_containers({"contract": spec.labels["contract"]})
    return c


async def test_started_container_is_listed_running_with_labels(engine):
    """A started container is listed by its labels, running, with its name and start time."""
    spec = _spec("sleep 600", role="web")
    cid = await engine.create_and_start(spec)
    c = await _state(engine, spec)
    assert (c.id, c.name, c.state, c.labels["role"]) == (cid, spec.name, RunState.RUNNING, "web")
    assert c.started_at is not None
    await engine.remove(cid)


async def test_exit_code_is_reported(engine):
    """A container that exits reports its exit code and finish time."""
    spec = _spec("exit 3")
    await engine.create_and_start(spec)

    async def exited():
        c = await _state(engine, spec)
        return c if c.state is RunState.EXITED else None

    c = await eventually(exited)
    assert c.exit_code == 3 and c.finished_at is not None
    await engine.remove(c.id)


async def test_stop_then_remove(engine):
    """stop() leaves an exited container; remove() deletes it and may be repeated."""
    spec = _spec("trap 'exit 0' TERM; while true; do sleep 0.1; done")
    cid = await engine.create_and_start(spec)
    await engine.stop(cid, grace_seconds=5)
    assert (await _state(engine, spec)).state is RunState.EXITED
    await engine.remove(cid)
    await engine.remove(cid)
    assert await engine.list_containers({"contract": spec.labels["contract"]}) == []


async def test_absent_image(engine):
    """An absent image is reported as absent and cannot be started."""
    assert await engine.image_present(IMAGE)
    assert not await engine.image_present("mixfleet/absent:1")
    with pytest.raises(ImageNotFound):
        await engine.create_and_start(
            ContainerSpec(name=f"k-{uuid.uuid4().hex[:8]}", image="mixfleet/absent:1")
        )


async def test_exec_reports_exit_code(engine):
    """A command run in a running container reports its exit code."""
    spec = _spec("sleep 600")
    cid = await engine.create_and_start(spec)
    assert (await engine.exec(cid, ["sh", "-c", "exit 3"], timeout=10)).exit_code == 3
    assert (await engine.exec(cid, ["true"], timeout=10)).exit_code == 0
    assert (await engine.exec(cid, ["false"], timeout=10)).exit_code == 1
    await engine.remove(cid)


async def test_events_report_start_and_exit_of_labelled_containers(engine):
    """Listeners hear, by id, that a container with their labels started and then exited."""
    spec = _spec("sleep 0.5; exit 3")
    events = engine.events({"contract": spec.labels["contract"]})
    try:
        assert await asyncio.wait_for(anext(events), 30) == ""  # connected
        cid = await engine.create_and_start(spec)
        heard = [await asyncio.wait_for(anext(events), 30) for _ in range(2)]
        assert heard == [cid, cid]
        assert (await _state(engine, spec)).state is RunState.EXITED
    finally:
        await events.aclose()
    await engine.remove(cid)
