"""asyncio helpers shared by every long-running loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any


async def run_together(*coros: Coroutine[Any, Any, None]) -> None:
    """Run all in one :class:`asyncio.TaskGroup`: when one fails or this call is cancelled,
    the rest are cancelled and awaited, so no loop outlives the component that started it.
    A failure surfaces as an ExceptionGroup holding it. (A coroutine function, so a caller
    can also hand the whole group to ``asyncio.create_task``.)"""
    async with asyncio.TaskGroup() as tg:
        for coro in coros:
            tg.create_task(coro)


# How long a component's stop waits for its cancelled loops. A loop blocked in a call that
# ignores cancellation (an etcd watch on a channel that died and came back) must not hang
# the process's shutdown: it is reported and left behind.
STOP_TIMEOUT_SECONDS = 10.0


async def settle(tasks: Iterable[asyncio.Task[Any]], *, timeout: float = STOP_TIMEOUT_SECONDS) -> list[str]:
    """Wait for cancelled ``tasks`` to finish, at most ``timeout``; the names of the ones that
    did not, for the caller to log."""
    pending_tasks = [t for t in tasks if not t.done()]
    if not pending_tasks:
        return []
    _, pending = await asyncio.wait(pending_tasks, timeout=timeout)
    return sorted(t.get_name() for t in pending)
