"""The Docker engine adapter against a real dockerd."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mixfleet.nodeagent.engines.base import (
    ContainerSpec,
    EngineError,
    ExecTimeout,
    ImageNotFound,
    PullError,
    RunState,
)
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.podspec import MANAGED

pytestmark = pytest.mark.docker
IMAGE = "mixfleet/busybox:latest"


@pytest.fixture
async def engine(dockerd):
    e = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    yield e
    await e.close()


def _spec(*args: str, **kw) -> ContainerSpec:
    name = f"t-{uuid.uuid4().hex[:10]}"
    labels = {**MANAGED, "test": name, **kw.pop("labels", {})}
    return ContainerSpec(
        name=name, image=IMAGE, command=("sh", "-c"), args=args, labels=labels, **kw
    )


async def _wait_exited(engine: DockerEngine, cid: str, dockerd) -> None:
    dockerd.client.api.wait(cid, timeout=30)


async def test_create_start_applies_command_env_and_limits(engine, dockerd):
    """Limits and env reach the engine: docker inspect shows NanoCpus, Memory, Env, Cmd."""
    spec = _spec(
        "echo $GREETING; sleep 30",
        env={"GREETING": "hello"},
        nano_cpus=500_000_000,
        memory_bytes=64 << 20,
    )
    cid = await engine.create_and_start(spec)
    attrs = dockerd.client.api.inspect_container(cid)
    assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert attrs["HostConfig"]["Memory"] == 64 << 20
    assert "GREETING=hello" in attrs["Config"]["Env"]
    assert attrs["Config"]["Entrypoint"] == ["sh", "-c"]
    assert attrs["State"]["Running"]
    [state] = await engine.list_containers({"test": spec.labels["test"]})
    assert (state.id, state.name, state.state) == (cid, spec.name, RunState.RUNNING)
    assert state.started_at is not None
    await engine.remove(cid)


async def test_logs_return_container_output(engine, dockerd):
    """logs() yields what the container printed, and tail limits it to the last lines."""
    cid = await engine.create_and_start(_spec("echo one; echo two; echo three"))
    await _wait_exited(engine, cid, dockerd)
    everything = b"".join([c async for c in engine.logs(cid)])
    last = b"".join([c async for c in engine.logs(cid, tail=1)])
    assert everything == b"one\ntwo\nthree\n"
    assert last == b"three\n"
    await engine.remove(cid)


async def test_follow_logs_end_when_container_exits(engine, dockerd):
    """A followed log stream ends when the container exits."""
    cid = await engine.create_and_start(_spec("echo start; sleep 1; echo end"))
    out = b"".join([c async for c in engine.logs(cid, follow=True)])
    assert out == b"start\nend\n"
    await engine.remove(cid)


@pytest.mark.parametrize(
    "script, exit_code",
    [
        pytest.param(
            "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
            0,
            id="traps-sigterm-exits-cleanly",
        ),
        pytest.param("sleep 600", 137, id="ignores-sigterm-killed-after-grace"),
    ],
)
async def test_stop_sends_sigterm_then_kills_after_grace(engine, script, exit_code):
    """stop() lets a container handle SIGTERM and kills one that ignores it (exit 137)."""
    cid = await engine.create_and_start(_spec(script))
    await engine.stop(cid, grace_seconds=1)
    [state] = [c for c in await engine.list_containers(MANAGED) if c.id == cid]
    assert state.state is RunState.EXITED
    assert state.exit_code == exit_code
    assert state.finished_at is not None
    await engine.remove(cid)


async def test_remove_deletes_and_is_idempotent(engine):
    """remove() deletes a running container; removing it again is not an error."""
    spec = _spec("sleep 600")
    cid = await engine.create_and_start(spec)
    await engine.remove(cid)
    await engine.remove(cid)
    assert await engine.list_containers({"test": spec.labels["test"]}) == []


async def test_list_by_label_ignores_foreign_containers(engine, dockerd):
    """Containers started outside Mixfleet (no managed label) are not listed."""
    foreign = dockerd.client.containers.run(
        IMAGE, ["sleep", "600"], detach=True, labels={"owner": "someone"}
    )
    ours = await engine.create_and_start(_spec("sleep 600"))
    ids = {c.id for c in await engine.list_containers(MANAGED)}
    assert ours in ids and foreign.id not in ids
    await engine.remove(ours)
    foreign.remove(force=True)


async def test_create_with_absent_image_raises_image_not_found(engine):
    """Creating from an image the engine does not hold is ImageNotFound, not a crash."""
    with pytest.raises(ImageNotFound):
        await engine.create_and_start(
            ContainerSpec(name=f"t-{uuid.uuid4().hex[:8]}", image="mixfleet/absent:1")
        )


async def test_pull_failure_carries_engine_text(engine):
    """A pull the engine cannot do raises PullError with the engine's message."""
    with pytest.raises(PullError) as err:
        await engine.pull("127.0.0.1:1/mixfleet/absent:1")
    assert "127.0.0.1:1" in err.value.message


async def test_images_and_info_describe_the_host(engine):
    """info() and list_images() report the Linux host and the busybox image."""
    info = await engine.info()
    images = await engine.list_images()
    assert info.os_type == "linux" and info.ncpu >= 1 and info.server_version
    [busybox] = [i for i in images if IMAGE in i.names]
    assert (busybox.os, busybox.architecture) == ("linux", "amd64")
    assert await engine.image_present(IMAGE)
    assert not await engine.image_present("mixfleet/absent:1")


async def test_exec_output_and_timeout(engine):
    """exec returns the command's output; one that outlives its timeout raises ExecTimeout."""
    cid = await engine.create_and_start(_spec("sleep 600"))
    try:
        result = await engine.exec(cid, ["sh", "-c", "echo out; echo err >&2; exit 2"], timeout=10)
        assert result.exit_code == 2 and sorted(result.output.split()) == ["err", "out"]
        with pytest.raises(ExecTimeout):
            await engine.exec(cid, ["sleep", "30"], timeout=0.5)
    finally:
        await engine.remove(cid)


async def test_exec_in_stopped_container_fails(engine):
    """A probe into a container that no longer runs is an engine error, not a success."""
    cid = await engine.create_and_start(_spec("exit 0"))
    await engine.stop(cid, 0)
    with pytest.raises(EngineError):
        await engine.exec(cid, ["true"], timeout=10)
    await engine.remove(cid)


async def test_events_skip_containers_without_the_labels(engine):
    """Only containers with the listener's labels are reported."""
    mine, other = _spec("exit 0", labels={"group": "a"}), _spec("exit 0", labels={"group": "b"})
    events = engine.events({"group": "a"})
    try:
        assert await asyncio.wait_for(anext(events), 30) == ""
        ids = [await engine.create_and_start(other), await engine.create_and_start(mine)]
        assert await asyncio.wait_for(anext(events), 30) == ids[1]
    finally:
        await events.aclose()
    for cid in ids:
        await engine.remove(cid)
