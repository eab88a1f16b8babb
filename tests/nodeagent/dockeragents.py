"""What every real-dockerd agent test does when its agent stops: end the agent's task, then
remove the containers it left on the shared test dockerd (the agent's own removal may still
be under way, hence EngineError is expected)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from mixfleet.nodeagent.engines.base import Engine, EngineError
from mixfleet.nodeagent.podspec import LABEL_NODE, MANAGED


async def stop_and_clean(task: "asyncio.Task[Any] | None", engine: Engine, node: str) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for c in await engine.list_containers({**MANAGED, LABEL_NODE: node}):
        with contextlib.suppress(EngineError):
            await engine.remove(c.id)
