"""The Docker adapter's event stream over a scripted SDK: a broken stream is reopened, and
every (re)connection is announced so the agent looks at everything again."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import docker.errors

from mixfleet.nodeagent.engines.docker_engine import DockerEngine


class Stream:
    """Stands in for the SDK's CancellableStream: yields events, then breaks or blocks."""

    def __init__(self, events: list[dict], *, breaks: bool) -> None:
        self.events, self.breaks, self.closed = events, breaks, False

    def __iter__(self) -> Iterator[dict]:
        yield from self.events
        if self.breaks:
            raise ConnectionResetError("stream broke")
        while not self.closed:
            time.sleep(0.01)

    def close(self) -> None:
        self.closed = True


class ScriptedAPI:
    """events(): a refusal, a stream that breaks after one event, then one that stays open."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.streams = [
            Stream([{"id": "c1", "status": "die"}], breaks=True),
            Stream([{"Actor": {"ID": "c2"}, "status": "start"}], breaks=False),
        ]

    def events(self, **kw: Any) -> Stream:
        self.calls.append(kw)
        if len(self.calls) == 1:
            raise docker.errors.APIError("busy")
        return self.streams[len(self.calls) - 2]


async def test_events_reconnect_after_refusal_and_break():
    """Refused, then broken, the stream is reopened; each connection first yields ""."""
    engine = DockerEngine(
        base_url="unix:///nonexistent.sock", retry_seconds=0.1, api_version="1.43"
    )
    api = ScriptedAPI()
    engine._api = api
    events = engine.events({"mixfleet.io/managed": "true"})
    try:
        heard = [await asyncio.wait_for(anext(events), 10) for _ in range(4)]
    finally:
        await events.aclose()
    assert heard == ["", "c1", "", "c2"]
    assert api.calls[0]["filters"]["label"] == ["mixfleet.io/managed=true"]
    assert api.streams[1].closed  # closing the iterator closes the stream
