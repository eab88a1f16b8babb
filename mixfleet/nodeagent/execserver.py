"""The agent's half of ``mixctl exec``: find the container, start the command in the engine,
relay the stream. Refusals in the kubelet's words: a container the pod does not run here is
NOT_FOUND ("container not found"), one that is not running FAILED_PRECONDITION. A session
that sees neither input nor output for ``idle_timeout`` seconds is ended, like the kubelet's
``streamingConnectionIdleTimeout`` (4 hours by default)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Mapping

from mixfleet.nodeagent.engines.base import Engine, EngineError, ExecRequest, ExecSession, RunState, Stream
from mixfleet.nodeagent.logs import NoContainerError, find_container
from mixfleet.nodeagent.podspec import LABEL_CONTAINER, MANAGED
from mixfleet.util import log

_log = log.get("nodeagent.exec")
IDLE_TIMEOUT_SECONDS = 4 * 3600.0


class ExecRefused(Exception):
    """The command cannot be run; ``not_found`` tells NOT_FOUND from FAILED_PRECONDITION."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.message, self.not_found = message, not_found


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str
    pod: str
    container: str


@dataclass(frozen=True, slots=True)
class Input:
    """One message from the client: stdin bytes, the end of stdin, or a terminal size."""

    stdin: bytes = b""
    close_stdin: bool = False
    resize: tuple[int, int] | None = None  # (width, height)


@dataclass(frozen=True, slots=True)
class Output:
    stream: Stream | None  # None: the exit message
    data: bytes = b""
    exit_code: int = 0


async def open_session(
    engine: Engine, target: Target, request: ExecRequest, *, labels: Mapping[str, str] = MANAGED
) -> ExecSession:
    try:
        c = await find_container(
            engine, namespace=target.namespace, pod=target.pod, container=target.container, labels=labels
        )
    except NoContainerError:
        name = target.container or "(the pod's first)"
        raise ExecRefused(f'container not found ("{name}")', not_found=True) from None
    name = c.labels.get(LABEL_CONTAINER, target.container)
    if c.state is not RunState.RUNNING:
        raise ExecRefused(f'container "{name}" of pod "{target.namespace}/{target.pod}" is not running')
    try:
        return await engine.exec_session(c.id, request)
    except EngineError as e:
        raise ExecRefused(f'cannot exec in container "{name}": {e.message}') from e


async def relay(
    session: ExecSession,
    inputs: AsyncIterator[Input],
    *,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
) -> AsyncIterator[Output]:
    """The session's output, then its exit code, while the client's input is fed to it."""
    activity = _Activity()
    feeder = asyncio.create_task(_feed(session, inputs, activity.touch))
    watchdog = asyncio.create_task(_idle_watch(session, activity, idle_timeout))
    try:
        async for stream, data in session.output():
            activity.touch()
            yield Output(stream, data)
        yield Output(None, exit_code=await session.wait())
    finally:
        for task in (feeder, watchdog):
            task.cancel()
        await asyncio.gather(feeder, watchdog, return_exceptions=True)
        await session.close()


async def _feed(session: ExecSession, inputs: AsyncIterator[Input], touch: Callable[[], None]) -> None:
    try:
        async for msg in inputs:
            touch()
            if msg.stdin:
                await session.write(msg.stdin)
            if msg.resize is not None:
                await session.resize(*msg.resize)
            if msg.close_stdin:
                await session.close_stdin()
    except EngineError as e:
        _log.info("exec.input_failed", error=e.message)
    # The client stopped sending (it may still read): stdin ends as it would on EOF.
    with contextlib.suppress(EngineError):
        await session.close_stdin()


class _Activity:
    """When the session last saw input or output."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()


async def _idle_watch(session: ExecSession, activity: _Activity, timeout: float) -> None:
    # Sleeps, not asyncio.wait_for on an Event: Python 3.11's wait_for drops a cancel that
    # comes as its Event is set, and a watchdog that survived its cancel kept the session
    # (and the RPC) open after the command ended.
    while (idle := time.monotonic() - activity.last) < timeout:
        await asyncio.sleep(timeout - idle)
    _log.info("exec.idle_timeout", seconds=timeout)
    await session.close()
