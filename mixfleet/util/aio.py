"""asyncio helpers shared by every long-running loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")


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


# Python 3.11's asyncio.wait_for loses a cancellation that arrives in the same loop turn as
# the awaited thing finishing: it returns the result instead of raising (CPython gh-86296,
# fixed in 3.12 by rebuilding wait_for on asyncio.timeout). A loop that waits on an event
# which fires often then outlives its TaskGroup's cancel, and whoever stops it hangs for
# good. Every timed wait in the package goes through these two instead.


async def within(aw: Awaitable[_T], timeout: float | None) -> _T:
    """``aw``'s result, or TimeoutError after ``timeout`` seconds (None: no limit); a
    cancellation always propagates."""
    async with asyncio.timeout(timeout):
        return await aw


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` passes; whether it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


def survivable(e: BaseException) -> bool:
    """Whether a loop that must outlive every error it meets may go on after ``e``: any
    Exception, and a CancelledError that nobody asked for (gRPC raises one in a call whose
    channel another task closed). A cancellation of the current task is never survivable."""
    if isinstance(e, asyncio.CancelledError):
        task = asyncio.current_task()
        return task is not None and task.cancelling() == 0
    return isinstance(e, Exception)
