"""Per-client limits on the API server: one client over its watch or request limit is refused
with RESOURCE_EXHAUSTED naming the limit, while another client is served; every watch that
ends is logged with its reason. Against a real control plane on the embedded store."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from mixfleet.client import APIError, Client
from tests.controllers.conftest import eventually


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


@contextlib.asynccontextmanager
async def _limited_controlplane(tmp_path: Path, **limits: Any) -> AsyncIterator[Any]:
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    config = ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'state.db'}", listen="127.0.0.1:0")
    for name, value in limits.items():  # max_watches_per_client, max_requests_per_client
        setattr(config, name, value)
    cp = ControlPlane(config)
    await cp.start()
    try:
        yield cp
    finally:
        await cp.stop()


class _OpenWatch:
    """A Namespace watch held open in a task, once its first event has arrived."""

    def __init__(self, client: Client) -> None:
        self.first = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run(client))

    async def _run(self, client: Client) -> None:
        try:
            async for _ in client.watch("Namespace"):
                if not self.first.done():
                    self.first.set_result(None)
        except Exception as e:
            if not self.first.done():
                self.first.set_exception(e)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest_asyncio.fixture
async def watch_limited(tmp_path: Path) -> AsyncIterator[Any]:
    async with _limited_controlplane(tmp_path, max_watches_per_client=3) as cp:
        yield cp


async def test_a_client_over_its_watch_limit_is_refused_while_another_watches_and_writes(watch_limited: Any) -> None:
    """The 4th watch of a client limited to 3 gets RESOURCE_EXHAUSTED naming the limit and its
    flag; a second client still opens a watch and creates a pod."""
    async with Client(watch_limited.address, retry_seconds=2) as greedy, \
            Client(watch_limited.address, retry_seconds=2) as other:
        held = [_OpenWatch(greedy) for _ in range(3)]
        try:
            await asyncio.wait_for(asyncio.gather(*(w.first for w in held)), 20)
            extra = _OpenWatch(greedy)
            with pytest.raises(APIError) as refused:
                await asyncio.wait_for(extra.first, 20)
            assert "too many watches from this client: 3 open" in refused.value.message
            assert "--max-watches-per-client" in refused.value.message

            theirs = _OpenWatch(other)
            await asyncio.wait_for(theirs.first, 20)
            created = await other.create(_pod("still-served"))
            assert created["metadata"]["name"] == "still-served"
            await theirs.close()
        finally:
            for w in held:
                await w.close()


async def test_a_closed_watch_frees_its_place(watch_limited: Any) -> None:
    """A client at its watch limit that closes one watch can open another."""
    async with Client(watch_limited.address, retry_seconds=2) as c:
        held = [_OpenWatch(c) for _ in range(3)]
        await asyncio.wait_for(asyncio.gather(*(w.first for w in held)), 20)
        with pytest.raises(APIError, match="too many watches"):
            await asyncio.wait_for(_OpenWatch(c).first, 20)
        await held.pop().close()

        async def reopened() -> bool:
            w = _OpenWatch(c)
            try:
                await asyncio.wait_for(w.first, 20)
                held.append(w)
                return True
            except APIError:
                return False  # the server has not seen the cancel yet
        try:
            await eventually(reopened, what="a watch in the freed place", timeout=20)
        finally:
            for w in held:
                await w.close()


async def test_a_client_over_its_request_rate_is_refused_while_another_is_served(tmp_path: Path) -> None:
    """A client that makes requests faster than --max-requests-per-client (and does not retry)
    gets RESOURCE_EXHAUSTED naming the flag; another client is served meanwhile."""
    async with _limited_controlplane(tmp_path, max_requests_per_client=5) as cp, \
            Client(cp.address, retry_seconds=0) as greedy, Client(cp.address, retry_seconds=0) as other:
        with pytest.raises(APIError) as refused:
            for _ in range(50):  # the burst is 10
                await greedy.get("Namespace", "default")
        assert "too many requests from this client" in refused.value.message
        assert "--max-requests-per-client" in refused.value.message
        assert getattr(refused.value, "retry_after", None) is not None  # a hint: retry later

        assert (await other.get("Namespace", "default"))["metadata"]["name"] == "default"


async def test_the_client_library_retries_a_rate_limited_request(tmp_path: Path) -> None:
    """Over the request rate, a client that may retry waits and succeeds instead of failing."""
    async with _limited_controlplane(tmp_path, max_requests_per_client=10) as cp, \
            Client(cp.address, retry_seconds=30) as c:
        with capture_logs() as logs:
            for _ in range(40):  # the burst is 20: the rest wait for tokens
                assert (await c.get("Namespace", "default"))["metadata"]["name"] == "default"
        retries = [e for e in logs if e.get("event") == "client.retry"]
        assert retries and all("too many requests from this client" in e["error"] for e in retries)


def _ended(logs: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    return [e for e in logs if e.get("event") == "watch.ended" and e.get("reason") == reason]


async def test_a_watch_closed_by_its_client_is_logged_with_the_reason(controlplane: Any, client: Client) -> None:
    """A watch the client closes leaves one watch.ended line: kind, client, 'client cancelled'."""
    with capture_logs() as logs:
        w = _OpenWatch(client)
        await asyncio.wait_for(w.first, 20)
        await w.close()

        async def logged() -> list[dict[str, Any]]:
            return _ended(logs, "client cancelled")

        (line,) = await eventually(logged, what="a watch.ended line", timeout=20)
    assert line["kind"] == "Namespace"
    assert line["client"].startswith("ipv4:127.0.0.1:")
    assert line["log_level"] == "info"


async def test_a_refused_watch_is_logged_with_the_limit(watch_limited: Any) -> None:
    """A watch refused for the client's watch limit is logged as ended for 'limit'."""
    async with Client(watch_limited.address, retry_seconds=2) as c:
        with capture_logs() as logs:
            held = [_OpenWatch(c) for _ in range(4)]
            try:
                results = await asyncio.wait_for(
                    asyncio.gather(*(w.first for w in held), return_exceptions=True), 20)
                assert sum(isinstance(r, APIError) for r in results) == 1
            finally:
                for w in held:
                    await w.close()
        (line,) = _ended(logs, "limit")
        assert "--max-watches-per-client" in line["detail"]


async def test_watches_ended_by_a_stopping_server_are_logged_as_such(tmp_path: Path) -> None:
    """A control plane that stops logs each watch it ends as 'server stopping', not as a
    client's cancel."""
    with capture_logs() as logs:
        async with _limited_controlplane(tmp_path) as cp:
            c = Client(cp.address, retry_seconds=1)
            w = _OpenWatch(c)
            await asyncio.wait_for(w.first, 20)
        await w.close()
        await c.close()
    assert len(_ended(logs, "server stopping")) == 1, [e for e in logs if e.get("event") == "watch.ended"]
