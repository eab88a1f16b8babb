"""asyncio helpers shared by every long-running loop."""

from __future__ import annotations

import asyncio
from typing import Awaitable


async def run_together(*aws: Awaitable[None]) -> None:
    """Run all until they finish; when one fails or this call is cancelled, cancel the rest
    and wait for them, so no loop outlives the component that started it."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
