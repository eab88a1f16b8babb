"""Builders for pods and engine containers in reconcile tests."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

from mixfleet.nodeagent.engines.base import ContainerState, RunState
from mixfleet.nodeagent.podspec import container_spec

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_pod(
    name: str = "web",
    *,
    uid: str = "uid-web",
    containers: int = 1,
    restart: str = "Always",
    deleting: bool = False,
    image: str = "mixfleet/busybox:latest",
    grace: int | None = None,
    status: dict | None = None,
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": uid},
        "spec": {
            "nodeName": "n1",
            "restartPolicy": restart,
            "containers": [
                {
                    "name": f"c{i}",
                    "image": image,
                    "command": ["sh", "-c", "sleep 600"],
                    "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                }
                for i in range(containers)
            ],
        },
    }
    if grace is not None:
        pod["spec"]["terminationGracePeriodSeconds"] = grace
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    if status is not None:
        pod["status"] = status
    return pod


def make_container(
    pod: dict,
    *,
    container: int = 0,
    attempt: int = 0,
    state: RunState = RunState.RUNNING,
    exit_code: int | None = None,
    started: float = -100,
    finished: float | None = None,
    cid: str | None = None,
    labels: dict | None = None,
) -> ContainerState:
    spec = container_spec(
        pod, pod["spec"]["containers"][container], attempt=attempt, host_os="linux"
    )
    return ContainerState(
        id=cid or f"{pod['metadata']['uid']}-c{container}-{attempt}",
        name=spec.name,
        labels={**spec.labels, **(labels or {})},
        image=spec.image,
        state=state,
        exit_code=exit_code if state is RunState.EXITED else None,
        started_at=at(started),
        finished_at=at(finished) if finished is not None else None,
    )


def exited(
    pod: dict, *, code: int, attempt: int = 0, finished: float = -1, **kw: Any
) -> ContainerState:
    return make_container(
        pod, state=RunState.EXITED, exit_code=code, attempt=attempt, finished=finished, **kw
    )


def foreign(cid: str = "foreign") -> ContainerState:
    return ContainerState(
        id=cid, name="someone-else", labels={"owner": "x"}, image="busybox", state=RunState.RUNNING
    )


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0) -> Any:
    """Poll until check() returns something truthy (generous: this is not a speed test)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(0.1)
