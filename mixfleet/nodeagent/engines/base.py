"""The one interface every container engine implements (Docker, simulated), and the plain
values that cross it. Methods are async: the Docker adapter runs the blocking SDK in a
thread, the simulated engine answers at once, so thousands of hollow nodes share one loop.
"""

from __future__ import annotations

import abc
import enum
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncGenerator, AsyncIterator, Callable, Mapping, NamedTuple, Sequence

from mixfleet.nodeagent.engines.errors import (  # re-exported: callers import the tree from here
    ContainerNotFound,
    EngineError,
    EngineUnavailable,
    ExecTimeout,
    ImageNotFound,
    PullError,
    StartError,
)
from mixfleet.nodeagent.engines import netprobe
from mixfleet.nodeagent.engines.sessions import ExecRequest, ExecSession, Stream

__all__ = [
    "ContainerNotFound",
    "ContainerSpec",
    "ContainerState",
    "Engine",
    "EngineError",
    "EngineInfo",
    "EngineUnavailable",
    "ExecRequest",
    "ExecResult",
    "ExecSession",
    "ExecTimeout",
    "ImageInfo",
    "ImageNotFound",
    "Mount",
    "PortMapping",
    "ProgressCallback",
    "PullError",
    "RunState",
    "StartError",
    "Stream",
]

ProgressCallback = Callable[[dict], None]


class RunState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"  # Docker's "dead", "removing" and "paused" are mapped to the nearest


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What the engine says about itself and its host (Docker ``/info``)."""

    os_type: str  # linux | windows
    architecture: str  # normalised: amd64 | arm64
    kernel_version: str  # Linux: uname -r; Windows: "10.0 20348 (20348.1.amd64fre...)"
    operating_system: str  # "Debian GNU/Linux 12 (bookworm)", "Windows Server 2022 ..."
    server_version: str  # "24.0.7"
    ncpu: int
    mem_total: int  # bytes
    default_isolation: str = ""  # Windows: process | hyperv; "" on Linux
    os_version: str = ""  # Windows: 10.0.20348.2655 when the engine reveals the revision
    name: str = ""  # the engine host's name
    runtime: str = "docker"  # prefix of containerRuntimeVersion
    data_root: str = ""  # where images and layers go (Docker's DockerRootDir); disk pressure


@dataclass(frozen=True, slots=True)
class ImageInfo:
    id: str
    names: tuple[str, ...]  # repo tags
    os: str
    architecture: str
    os_version: str  # "" for Linux images
    size: int


@dataclass(frozen=True, slots=True)
class PortMapping:
    container_port: int
    host_port: int | None = None
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class Mount:
    """A path the container sees from outside its image: a host path bound in (``bind``,
    every pod volume the agent prepares) or a memory filesystem of the container's own
    (``tmpfs``). ``target`` is in the container OS's form (``/data``, ``C:\\data``)."""

    target: str
    source: str = ""  # the host path (bind); "" for tmpfs
    type: str = "bind"  # bind | tmpfs
    read_only: bool = False
    size_bytes: int | None = None  # tmpfs only


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """A container to create. command/args follow Kubernetes: command replaces the image
    entrypoint, args its CMD."""

    name: str
    image: str
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[PortMapping, ...] = ()
    nano_cpus: int | None = None
    memory_bytes: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    isolation: str | None = None  # Windows: process | hyperv; None = engine default
    working_dir: str | None = None
    mounts: tuple[Mount, ...] = ()  # pod volumes, set by the agent's volume manager
    # The security context (nodeagent/security.py): Docker's User ("uid[:gid]" or a name;
    # on Windows ContainerUser, ContainerAdministrator or a local account), GroupAdd,
    # ReadonlyRootfs, Privileged, CapAdd/CapDrop, SecurityOpt ("no-new-privileges").
    user: str | None = None  # None: the image's user
    group_add: tuple[str, ...] = ()
    read_only_rootfs: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    # Windows gMSA: the credential spec document (JSON); each engine delivers it its way.
    credential_spec: str | None = None
    # "container:<id>": join that container's network namespace (a pod's sandbox); None:
    # the engine's pod network. Ports are published only by the container owning the network.
    network_mode: str | None = None
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerState:
    id: str
    name: str
    labels: Mapping[str, str]
    image: str
    state: RunState
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    restart_count: int = 0  # the engine's own restart counter (we restart by recreating)
    isolation: str = ""
    error: str = ""  # the engine's last error for this container, if any
    ip: str = ""  # its address on the engine's pod network ("" when it has none of its own)


class ExecResult(NamedTuple):
    """What a command run inside a container (an exec probe) ended with."""

    exit_code: int
    output: str  # stdout and stderr, decoded leniently; for messages and logs only


class Engine(abc.ABC):
    """A container engine on one host. Every method may raise EngineUnavailable."""

    # Its containers bind paths of the filesystem the agent runs on (False for simulated
    # engines: the agent then makes no host mounts and checks no host paths for them).
    host_filesystem: bool = True

    @abc.abstractmethod
    async def info(self) -> EngineInfo: ...

    @abc.abstractmethod
    async def list_containers(
        self, labels: Mapping[str, str] | None = None
    ) -> list[ContainerState]:
        """All containers (running or not) carrying every given label=value."""

    @abc.abstractmethod
    async def pull(self, image: str, progress_cb: ProgressCallback | None = None) -> None:
        """Fetch image; raises PullError with the engine's text."""

    @abc.abstractmethod
    async def image_present(self, image: str) -> bool: ...

    @abc.abstractmethod
    async def list_images(self) -> list[ImageInfo]: ...

    @abc.abstractmethod
    async def create_and_start(self, spec: ContainerSpec) -> str:
        """Create and start; returns the container id. Raises ImageNotFound when the image
        is absent and StartError when the engine refuses (a container that was created but
        did not start is removed first, so a retry starts clean)."""

    @abc.abstractmethod
    async def start(self, container_id: str) -> None: ...

    @abc.abstractmethod
    async def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM (or the Windows equivalent), then kill after grace_seconds."""

    @abc.abstractmethod
    async def remove(self, container_id: str) -> None:
        """Remove a stopped container (forcing if it still runs). Absent is not an error."""

    @abc.abstractmethod
    def logs(
        self, container_id: str, *, follow: bool = False, tail: int = -1
    ) -> AsyncIterator[bytes]:
        """Container output (stdout and stderr interleaved); tail=-1 for all lines."""

    @abc.abstractmethod
    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float
    ) -> ExecResult:
        """Run command in the running container. Raises ExecTimeout when it has not ended
        within timeout seconds (the command may go on running: engines cannot kill an exec),
        ContainerNotFound, or EngineError when the container does not run."""

    async def image_user(self, image: str) -> str:
        """The user the image runs as (its config's User; "" for the engine's default)."""
        return ""

    async def exec_session(self, container_id: str, request: ExecRequest) -> ExecSession:
        """Start ``request.command`` in the running container for a user (mixctl exec).
        Raises ContainerNotFound, or EngineError when the container does not run."""
        raise EngineError("this container engine cannot run commands for a user")

    @abc.abstractmethod
    def events(self, labels: Mapping[str, str] | None = None) -> AsyncGenerator[str, None]:
        """Ids of containers carrying every given label whose run state changed (started,
        exited, killed by OOM, removed), as the engine reports them, until the caller stops
        iterating. Yields "" after (re)connecting, when earlier changes may have been
        missed: the caller should then look at everything. Reconnects on its own."""

    async def dial(
        self, container_id: str, host: str, port: int, *, timeout: float
    ) -> socket.socket:
        """A TCP connection into the container's network, for probes and hooks: to ``host``
        (``""``: the container's own address) and ``port``. Raises OSError or TimeoutError
        when nothing answers, EngineError when this engine cannot reach containers."""
        raise EngineError(f"{type(self).__name__} cannot open connections to containers")

    async def probe(
        self, container_id: str, action: netprobe.ProbeAction, *, timeout: float
    ) -> netprobe.ProbeResult:
        """Run one probe (or hook) check, as the kubelet's probers do: exec in the
        container, or an HTTP/TCP/gRPC check over ``dial``. Never raises for a check that
        failed; EngineError only when the container cannot be reached at all."""
        if isinstance(action, netprobe.ExecAction):
            try:
                result = await self.exec(container_id, action.command, timeout=timeout)
            except ExecTimeout:
                return netprobe.ProbeResult(False, f"command {' '.join(action.command)!r} timed out")
            output = result.output[-1024:].strip()
            if result.exit_code != 0 and not output:
                output = f"command {' '.join(action.command)!r} exited with {result.exit_code}"
            return netprobe.ProbeResult(result.exit_code == 0, output)

        async def dial(host: str, port: int, t: float) -> socket.socket:
            return await self.dial(container_id, host, port, timeout=t)

        if isinstance(action, netprobe.HTTPGetAction):
            return await netprobe.http_get(action, dial, timeout=timeout)
        if isinstance(action, netprobe.TCPSocketAction):
            return await netprobe.tcp_socket(action, dial, timeout=timeout)
        return await netprobe.grpc_health(action, dial, timeout=timeout)

    async def import_image(self, tag: str, rootfs: bytes, *, changes: Sequence[str] = ()) -> None:
        """Make image ``tag`` from a rootfs tar (``docker import``): how a node gets its pod
        sandbox image without a registry. Engines that cannot raise EngineError."""
        raise EngineError(f"this engine cannot import images (wanted {tag})")

    async def close(self) -> None:
        """Release connections."""
