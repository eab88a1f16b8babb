"""Timed waits that never lose a cancellation (the bug behind agents that would not stop)."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from mixfleet.util.aio import wait_event, within


async def _stdlib_wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    # What the agent and the prober did before: kept here to show the test catches it.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
    return event.is_set()


_LOSES_CANCEL = pytest.mark.xfail(
    sys.version_info < (3, 12),
    strict=True,
    reason="Python 3.11's wait_for returns instead of raising when cancelled as it completes",
)


async def _wait_loop(waiter, event: asyncio.Event, rounds: list[int]) -> None:
    """A loop like the agent's reconcile loop: clear, work, wait to be woken."""
    while True:
        event.clear()
        rounds.append(1)
        await waiter(event, 10.0)


@pytest.mark.parametrize(
    "waiter",
    [wait_event, pytest.param(_stdlib_wait_event, marks=_LOSES_CANCEL, id="stdlib-wait_for")],
)
async def test_loop_stops_when_cancelled_as_it_is_woken(waiter):
    """Woken and cancelled in the same turn, a waiting loop ends instead of running on."""
    event = asyncio.Event()
    rounds: list[int] = []
    task = asyncio.create_task(_wait_loop(waiter, event, rounds))
    await asyncio.sleep(0.01)  # the loop now waits
    event.set()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2.0)
    if not done:
        task.cancel()  # let the stdlib variant go, so the xfail does not leak a task
        await asyncio.wait([task], timeout=2.0)
    assert done and task.cancelled()


async def test_wait_event_says_whether_it_was_set():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0.01) is True
    assert await wait_event(event, None) is True


async def test_within_returns_the_result_or_times_out():
    async def value() -> int:
        await asyncio.sleep(0)
        return 7

    assert await within(value(), 1.0) == 7
    assert await within(value(), None) == 7
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(5), 0.01)


async def test_within_passes_on_a_cancellation_that_arrives_as_it_completes():
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(within(asyncio.shield(fut), 10.0))
    await asyncio.sleep(0.01)
    fut.set_result(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
