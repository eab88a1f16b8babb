"""Events from the node as a user reads them: Pulled, Created, Started for a new pod (real
dockerd), counted when they repeat, shown by `mixctl describe pod` as "(x3 over ...)"; the
recorder aggregates, limits writes per object and never waits on the control plane."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

import pytest

from mixfleet.client import Client
from mixfleet.nodeagent.events import EventLimits, NodeEvents
from tests.fixtures.controlplane import REPO
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import harness, pod  # noqa: F401  (fixture)


async def _events(client: Any, name: str) -> list[dict]:
    items, _ = await client.list(
        "Event", namespace="default", field_selector=f"involvedObject.name={name}"
    )
    return items


def _by_reason(events: list[dict]) -> dict[str, dict]:
    return {e["reason"]: e for e in events}


async def _describe(address: str, name: str) -> str:
    """`mixctl describe pod NAME` as a user runs it (a subprocess: the control plane runs
    on this test's event loop, which must go on serving meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mixfleet.mixctl", "--server", address, "describe", "pod", name,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def _event_lines(text: str) -> list[str]:
    return text.split("Events:", 1)[1].strip().splitlines()[2:]


@pytest.mark.docker
async def test_new_pod_events_in_order(harness, client, controlplane):
    """A new pod's events are Pulled (already present), Created, Started, from the agent,
    in that order in `mixctl describe pod`, each with its container in fieldPath."""
    await harness.start()
    await client.create(pod("evt", harness.node, "sleep 600"))

    async def started() -> list[dict] | None:
        evs = await _events(client, "evt")
        return evs if "Started" in _by_reason(evs) else None

    evs = _by_reason(await eventually(started))
    assert evs["Pulled"]["message"] == 'Container image "mixfleet/busybox:latest" already present on machine'
    assert evs["Created"]["message"] == "Created container: main"
    assert evs["Started"]["message"] == "Started container main"
    for e in evs.values():
        assert e["source"] == {"component": "mixfleet-agent", "host": harness.node}
        assert e["involvedObject"]["fieldPath"] == "spec.containers{main}"
    lines = _event_lines(await _describe(controlplane.address, "evt"))
    reasons = [line.split()[1] for line in lines]
    assert reasons[-3:] == ["Pulled", "Created", "Started"], lines


@pytest.mark.docker
async def test_repeated_events_are_counted(harness, client, controlplane):
    """A container that keeps crashing repeats Created/Started: one Event each with a count
    that grows, a BackOff warning, and describe shows "(xN over ...)"."""
    await harness.start()
    await client.create(pod("again", harness.node, "exit 1"))

    async def counted() -> dict | None:
        evs = _by_reason(await _events(client, "again"))
        started = evs.get("Started") or {}
        return evs if started.get("count", 0) >= 3 and "BackOff" in evs else None

    evs = await eventually(counted)
    started = evs["Started"]
    assert started["firstTimestamp"] <= started["lastTimestamp"]
    assert evs["BackOff"]["type"] == "Warning"
    assert evs["BackOff"]["message"].startswith("Back-off restarting failed container main in pod again_default(")
    text = await _describe(controlplane.address, "again")
    line = next(x for x in _event_lines(text) if x.split()[1] == "Started")
    count = int(re.search(r"\(x(\d+) over \S+\)", line)[1])  # type: ignore[index]
    assert count >= started["count"], line


async def test_aggregates_and_limits_writes_per_object(client):
    """500 occurrences of one event become one Event with count 500; an object over its
    write budget has its occurrences held (still counted), while another object's events
    go out."""
    events = NodeEvents(client, "n1", limits=EventLimits(burst=2, per_second=0.001))
    noisy = {"kind": "Pod", "metadata": {"name": "noisy", "namespace": "default", "uid": "u1"}}
    calm = {"kind": "Pod", "metadata": {"name": "calm", "namespace": "default", "uid": "u2"}}
    task = asyncio.create_task(events.run())
    try:
        for _ in range(500):
            events.emit(noisy, type="Warning", reason="Unhealthy", message="Liveness probe failed: x")
        await eventually(lambda: _count(client, "noisy", "Unhealthy", 500))
        for i in range(3):
            events.emit(noisy, type="Normal", reason=f"R{i}", message="m")
        events.emit(calm, type="Normal", reason="Started", message="Started container c")
        await eventually(lambda: _count(client, "calm", "Started", 1))
        await eventually(lambda: _reasons(client, "noisy", 2))
        assert len(await _events(client, "noisy")) == 2  # the budget: 2 writes, then held
        assert events.pending() == 2
    finally:
        task.cancel()


async def test_emit_never_waits_for_an_absent_control_plane():
    """With no control plane at all, emitting returns at once, the table stays bounded, and
    the writer keeps trying without raising."""
    async with Client("127.0.0.1:1", timeout=0.5, retry_seconds=0.5) as nowhere:
        events = NodeEvents(nowhere, "n1", limits=EventLimits(max_pending=100, timeout=0.5))
        task = asyncio.create_task(events.run())
        try:
            for i in range(1000):
                events.emit({"metadata": {"name": f"p{i}", "uid": f"u{i}"}},
                            type="Normal", reason="Started", message="Started container c")
            assert events.pending() <= 100 + EventLimits().concurrency
            assert events.dropped >= 900 - EventLimits().concurrency
            await asyncio.sleep(1.5)
            assert not task.done()
            assert events.written == 0
        finally:
            task.cancel()


async def _count(client: Any, name: str, reason: str, n: int) -> bool:
    evs = _by_reason(await _events(client, name))
    return int((evs.get(reason) or {}).get("count") or 0) == n


async def _reasons(client: Any, name: str, n: int) -> bool:
    return len(await _events(client, name)) >= n
