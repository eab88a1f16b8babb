"""The Docker engine adapter: the blocking ``docker`` SDK run in worker threads, so the
agent's event loop never blocks. Docker and transport errors are translated here, once, into
the tree in ``nodeagent.engines.errors``; transient ones (engine unreachable) are retried
with exponential backoff and jitter for up to ``retry_seconds``."""

from __future__ import annotations

import asyncio
import math
import random
import socket
import sys
import threading
from datetime import datetime
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence, TypeVar, cast

import docker
import docker.errors
import docker.types
import requests.exceptions
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from mixfleet.api import images as image_ref
from mixfleet.api import times
from mixfleet.nodeagent.engines.base import (
    ContainerNotFound,
    ContainerSpec,
    ContainerState,
    Engine,
    EngineError,
    EngineInfo,
    EngineUnavailable,
    ExecRequest,
    ExecResult,
    ExecSession,
    ImageInfo,
    ImageNotFound,
    Mount,
    ProgressCallback,
    PullError,
    RunState,
    StartError,
)
from mixfleet.nodeagent.engines import netns
from mixfleet.nodeagent.engines import credspecs
from mixfleet.nodeagent.engines.docker_exec import DockerExecSession
from mixfleet.nodeagent.engines.docker_streams import WAKE_EVENTS, pump_events, run_exec
from mixfleet.nodeagent.facts.engine_view import parse_docker_image, parse_docker_info
from mixfleet.util import log

_log = log.get("nodeagent.engine")
T = TypeVar("T")

DEFAULT_URL = (
    "npipe:////./pipe/docker_engine" if sys.platform == "win32" else "unix:///var/run/docker.sock"
)
_ZERO_TIME = "0001-01-01T00:00:00Z"
_STATES = {
    "running": RunState.RUNNING,
    "restarting": RunState.RUNNING,
    "paused": RunState.RUNNING,
    "created": RunState.CREATED,
}


def _translate(e: Exception, *, default: type[EngineError] = EngineError) -> EngineError:
    if isinstance(e, EngineError):
        return e
    if isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return EngineUnavailable(f"cannot reach the container engine: {e}")
    if isinstance(e, docker.errors.ImageNotFound):
        return ImageNotFound(_explain(e))
    if isinstance(e, docker.errors.NotFound):
        return ContainerNotFound(_explain(e))
    if isinstance(e, docker.errors.APIError) and e.status_code in (502, 503, 504):
        return EngineUnavailable(_explain(e))
    return default(_explain(e))


def _explain(e: Exception) -> str:
    return str(getattr(e, "explanation", None) or e)


def parse_time(s: str | None) -> datetime | None:
    """Docker's RFC 3339 nanosecond times; None for the zero time."""
    if not s or s.startswith("0001-01-01"):
        return None
    return times.parse_time(s)


def parse_container(attrs: Mapping[str, Any]) -> ContainerState:
    """ContainerState from ``docker inspect`` JSON."""
    st = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    state = _STATES.get(str(st.get("Status")), RunState.EXITED)
    return ContainerState(
        id=str(attrs.get("Id")),
        name=str(attrs.get("Name") or "").lstrip("/"),
        labels=dict(config.get("Labels") or {}),
        image=str(config.get("Image") or ""),
        state=state,
        exit_code=int(st.get("ExitCode", 0)) if state is RunState.EXITED else None,
        started_at=parse_time(st.get("StartedAt")),
        finished_at=parse_time(st.get("FinishedAt")) if state is RunState.EXITED else None,
        restart_count=int(attrs.get("RestartCount") or 0),
        isolation=str((attrs.get("HostConfig") or {}).get("Isolation") or ""),
        error=str(st.get("Error") or ""),
        ip=container_ip(attrs),
    )


def _docker_mount(m: Mount) -> docker.types.Mount:
    if m.type == "tmpfs":
        return docker.types.Mount(m.target, None, type="tmpfs", read_only=m.read_only,
                                  tmpfs_size=m.size_bytes)
    return docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only)


def container_ip(attrs: Mapping[str, Any]) -> str:
    """The container's address on a Docker network, "" when it has none."""
    settings = attrs.get("NetworkSettings") or {}
    if settings.get("IPAddress"):
        return str(settings["IPAddress"])
    for net in (settings.get("Networks") or {}).values():
        if (net or {}).get("IPAddress"):
            return str(net["IPAddress"])
    return ""


class DockerEngine(Engine):
    def __init__(
        self,
        *,
        base_url: str = DEFAULT_URL,
        timeout: float = 60.0,
        retry_seconds: float = 10.0,
        network_mode: str | None = None,
        api_version: str | None = None,  # None: ask the engine (a round trip, here)
    ) -> None:
        self.base_url = base_url
        self.retry_seconds = retry_seconds
        self.network_mode = network_mode
        self._client = docker.DockerClient(
            base_url=base_url, timeout=int(timeout), version=api_version
        )
        self._api = self._client.api

    async def _run(self, fn: Callable[[], T], *, error: type[EngineError] = EngineError) -> T:
        """Run a blocking SDK call in a thread; retry while the engine is unreachable."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(EngineUnavailable),
            wait=wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.1),
            stop=stop_after_delay(self.retry_seconds),
            reraise=True,
        ):
            with attempt:
                try:
                    return await asyncio.to_thread(fn)
                except Exception as e:  # translated, once, here
                    err = _translate(e, default=error)
                    if isinstance(err, EngineUnavailable):
                        _log.debug("engine.retry", error=err.message)
                    raise err from e
        raise AssertionError("unreachable")  # pragma: no cover

    async def info(self) -> EngineInfo:
        return parse_docker_info(await self._run(self._api.info))

    async def list_containers(
        self, labels: Mapping[str, str] | None = None
    ) -> list[ContainerState]:
        filters = {"label": [f"{k}={v}" for k, v in (labels or {}).items()]}

        def inspect_all() -> list[ContainerState]:
            out = []
            for summary in self._api.containers(all=True, filters=filters):
                try:
                    out.append(parse_container(self._api.inspect_container(summary["Id"])))
                except docker.errors.NotFound:
                    continue  # removed between list and inspect
            return out

        return await self._run(inspect_all)

    async def pull(self, image: str, progress_cb: ProgressCallback | None = None) -> None:
        try:
            ref = image_ref.parse(image)
        except image_ref.ImageRefError as e:
            raise PullError(str(e)) from e
        # The SDK pulls ``repo@digest`` when the "tag" is a digest.
        repo, tag = ref.familiar_name, ref.digest or ref.tag

        def pull() -> None:
            for msg in self._api.pull(repo, tag=tag, stream=True, decode=True):
                if "error" in msg:
                    raise PullError(str(msg["error"]))
                if progress_cb is not None:
                    progress_cb(msg)

        _log.info("engine.pull", image=image)
        await self._run(pull, error=PullError)

    async def image_present(self, image: str) -> bool:
        try:
            await self._run(lambda: self._api.inspect_image(image))
        except (ImageNotFound, ContainerNotFound):
            return False
        return True

    async def image_user(self, image: str) -> str:
        attrs = await self._run(lambda: self._api.inspect_image(image))
        return str((attrs.get("Config") or {}).get("User") or "")

    async def list_images(self) -> list[ImageInfo]:
        def inspect_all() -> list[ImageInfo]:
            return [
                parse_docker_image(self._api.inspect_image(i["Id"])) for i in self._api.images()
            ]

        return await self._run(inspect_all)

    def _security_options(self, spec: ContainerSpec) -> list[str] | None:
        options = list(spec.security_opt)
        if spec.credential_spec is not None:
            credspecs.write(str(self._api.info().get("DockerRootDir") or ""), spec.credential_spec)
            options.append(credspecs.security_option(spec.credential_spec))
        return options or None

    def _create(self, spec: ContainerSpec) -> str:
        host_config = self._api.create_host_config(
            read_only=spec.read_only_rootfs or None,
            privileged=spec.privileged,
            cap_add=list(spec.cap_add) or None,
            cap_drop=list(spec.cap_drop) or None,
            security_opt=self._security_options(spec),
            group_add=list(spec.group_add) or None,
            nano_cpus=spec.nano_cpus,
            mem_limit=spec.memory_bytes,
            port_bindings={
                f"{p.container_port}/{p.protocol.lower()}": p.host_port
                for p in spec.ports
                if p.host_port
            }
            or None,
            isolation=spec.isolation,
            network_mode=spec.network_mode or self.network_mode,
            mounts=[_docker_mount(m) for m in spec.mounts] or None,
        )
        created = self._api.create_container(
            spec.image,
            name=spec.name,
            entrypoint=list(spec.command) if spec.command is not None else None,
            command=list(spec.args) if spec.args is not None else None,
            environment=dict(spec.env),
            labels=dict(spec.labels),
            ports=[(p.container_port, p.protocol.lower()) for p in spec.ports] or None,
            working_dir=spec.working_dir,
            user=spec.user,
            hostname=spec.hostname,
            host_config=host_config,
        )
        return str(created["Id"])

    def _start_or_clean(self, container_id: str) -> None:
        try:
            self._api.start(container_id)
        except docker.errors.APIError as e:
            # A container that never started is useless; remove it so a retry starts clean.
            try:
                self._api.remove_container(container_id, force=True)
            except docker.errors.APIError:
                _log.warning("engine.cleanup_failed", container=container_id)
            raise StartError(_explain(e)) from e

    async def create_and_start(self, spec: ContainerSpec) -> str:
        container_id = await self._run(lambda: self._create(spec), error=StartError)
        await self._run(lambda: self._start_or_clean(container_id), error=StartError)
        _log.info("engine.started", container=container_id[:12], name=spec.name)
        return container_id

    async def start(self, container_id: str) -> None:
        await self._run(lambda: self._api.start(container_id), error=StartError)

    async def import_image(self, tag: str, rootfs: bytes, *, changes: Sequence[str] = ()) -> None:
        ref = image_ref.parse(tag)
        await self._run(
            lambda: self._api.import_image_from_data(
                rootfs, repository=ref.familiar_name, tag=ref.tag or "latest", changes=list(changes)
            )
        )
        _log.info("engine.image_imported", image=tag)

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        grace = max(0, math.ceil(grace_seconds))
        try:
            # Docker sends the image's stop signal (SIGTERM), then SIGKILL after `timeout`.
            await self._run(lambda: self._api.stop(container_id, timeout=grace))
        except ContainerNotFound:
            pass
        _log.info("engine.stopped", container=container_id[:12], grace=grace)

    async def remove(self, container_id: str) -> None:
        try:
            await self._run(lambda: self._api.remove_container(container_id, force=True))
        except ContainerNotFound:
            pass

    async def logs(
        self, container_id: str, *, follow: bool = False, tail: int = -1
    ) -> AsyncIterator[bytes]:
        stream = await self._run(
            lambda: self._api.logs(
                container_id, stream=True, follow=follow, tail="all" if tail < 0 else tail
            )
        )
        done = object()
        try:
            while True:
                chunk = await asyncio.to_thread(next, stream, done)
                if chunk is done:
                    return
                yield cast(bytes, chunk)
        finally:
            # Closing the socket unblocks a thread still waiting in a follow.
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float
    ) -> ExecResult:
        # Not through _run's retries: a probe is repeated on its own period anyway.
        try:
            return await asyncio.to_thread(run_exec, self._api, container_id, command, timeout=timeout)
        except Exception as e:
            raise _translate(e) from e

    async def dial(
        self, container_id: str, host: str, port: int, *, timeout: float
    ) -> socket.socket:
        """To ``host`` from this host; to the container's own address when ``host`` is "":
        its IP on a Docker network (a container in its pod's sandbox: the sandbox's, the
        pod IP, which the kubelet probes), or, with no network the host can route to (no
        bridge), 127.0.0.1 inside its network namespace."""
        if host:
            return await netns.connect_from_host(host, port, timeout=timeout)
        attrs = await self._run(lambda: self._api.inspect_container(container_id))
        ip = container_ip(attrs)
        owner = str((attrs.get("HostConfig") or {}).get("NetworkMode") or "")
        if not ip and owner.startswith("container:"):
            box = await self._run(lambda: self._api.inspect_container(owner.split(":", 1)[1]))
            ip = container_ip(box)
        if ip:
            return await netns.connect_from_host(ip, port, timeout=timeout)
        pid = int((attrs.get("State") or {}).get("Pid") or 0)
        if not pid or sys.platform != "linux":
            raise EngineError(f"container {container_id[:12]} has no address to probe")
        return await netns.connect_in(pid, "127.0.0.1", port, timeout=timeout)

    async def exec_session(self, container_id: str, request: ExecRequest) -> ExecSession:
        # Not retried: the user sees the failure and runs the command again if they want.
        try:
            return await asyncio.to_thread(DockerExecSession.open, self._api, container_id, request)
        except Exception as e:
            raise _translate(e) from e

    async def events(self, labels: Mapping[str, str] | None = None) -> AsyncGenerator[str, None]:
        filters = {
            "type": ["container"],
            "event": list(WAKE_EVENTS),
            "label": [f"{k}={v}" for k, v in (labels or {}).items()],
        }
        loop = asyncio.get_running_loop()
        delay = _EVENTS_RETRY_MIN
        while True:
            try:
                stream = await self._run(lambda: self._api.events(decode=True, filters=filters))
            except EngineError as e:
                _log.warning("engine.events_unavailable", error=e.message, retry_in=delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, _EVENTS_RETRY_MAX)
                continue
            queue: asyncio.Queue[str | None] = asyncio.Queue()
            threading.Thread(
                target=pump_events,
                args=(stream, _deliver_to(loop, queue)),
                name="docker-events",
                daemon=True,  # blocked in a read until close() below shuts the socket
            ).start()
            try:
                yield ""  # (re)connected: changes in between are unknown
                while (cid := await queue.get()) is not None:
                    delay = _EVENTS_RETRY_MIN
                    yield cid
            finally:
                stream.close()  # shuts the socket down: the pump thread's read ends
            _log.info("engine.events_reconnect", retry_in=delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, _EVENTS_RETRY_MAX)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


_EVENTS_RETRY_MIN, _EVENTS_RETRY_MAX = 0.5, 30.0


def _deliver_to(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]
) -> Callable[[str | None], None]:
    def deliver(item: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    return deliver
