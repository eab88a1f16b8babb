"""asyncio helpers shared by every long-running loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def run_together(*coros: Coroutine[Any, Any, None]) -> None:
    """Run all in one :class:`asyncio.TaskGroup`: when one fails or this call is cancelled,
    the rest are cancelled and awaited, so no loop outlives the component that started it.
    A failure surfaces as an ExceptionGroup holding it. (A coroutine function, so a caller
    can also hand the whole group to ``asyncio.create_task``.)"""
    async with asyncio.TaskGroup() as tg:
        for coro in coros:
            tg.create_task(coro)
