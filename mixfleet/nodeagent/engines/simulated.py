"""A simulated container engine that behaves like Docker on a Windows (HCS) or Linux host.

Containers are state only: they "run" until stopped, except that a command ending in
``exit N`` (``["sh", "-c", "exit 3"]``) exits at once with code N, for crash tests, and
``crash()`` ends a running one. ``exec`` (readiness probes) is deterministic: a command set in
``exec_codes`` (joined with spaces) ends with that code; otherwise ``false`` ends with 1,
a command ending in ``exit N`` with N, anything else with 0. ``events`` reports every run
state change made here to each listener whose labels match. Pulls come
from a known image catalogue. The refusals use the engine's own words, so what users see
from a hollow node matches a real one: HCS 0xc0370101 at start for an image build the host
cannot run in the isolation asked for, Docker's pull-time "a Windows version ... -based image
is incompatible" for a newer image, ``manifest unknown`` for an unknown image. Which builds
HCS starts comes from the engine's own table (:mod:`.hcs_matrix`, Microsoft's matrix written
out as data), never from the scheduler's rule, so the end-to-end tests check placement
against something other than itself. Cheap: plain dicts and no threads, so thousands of
hollow nodes share one process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import ipaddress
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence

from mixfleet.api import images as image_ref
from mixfleet.api.versions import WindowsVersion
from mixfleet.nodeagent.engines import hcs_matrix, netprobe
from mixfleet.nodeagent.engines.base import (
    ContainerNotFound,
    ContainerSpec,
    ContainerState,
    Engine,
    EngineError,
    EngineInfo,
    ExecResult,
    ImageInfo,
    ImageNotFound,
    Mount,
    ProgressCallback,
    PullError,
    RunState,
    StartError,
)
from mixfleet.nodeagent.engines import credspecs
from mixfleet.nodeagent.engines.sessions import ExecRequest, ExecSession
from mixfleet.nodeagent.engines.simulated_exec import SimulatedExecSession
from mixfleet.nodeagent.engines.simulated_hostconfig import hostconfig_refusal
from mixfleet.nodeagent.engines.simulated_identity import (
    credential_spec_refusal,
    exec_identity,
    image_user,
    unknown_windows_user,
)
from mixfleet.nodeagent.facts.host import HostFacts

_GI = 1 << 30
_EXIT = re.compile(r"(?:^|[;&|\s])exit (\d+)\s*$")
_SERVER_PRODUCTS = (
    (26100, "Windows Server 2025 Datacenter", "24H2"),
    (20348, "Windows Server 2022 Datacenter", "2009"),
    (17763, "Windows Server 2019 Datacenter", "1809"),
    (14393, "Windows Server 2016 Datacenter", "1607"),
)
# The engine's own words (Docker on Windows over HCS).
HCS_OS_MISMATCH = (
    "The container operating system does not match the host operating system. (0xc0370101)"
)
HCS_NO_HYPERV = (
    "The virtual machine could not be started because a required feature is not installed."
)
_HCS_CALL = "container {cid} encountered an error during hcs::{call}: failure in a Windows system call: {err}"
_WRONG_OS = 'image operating system "{os}" cannot be used on this platform: operating system is not supported'
_LINUX_ISOLATION = "Invalid isolation: \"{iso}\" - linux only supports 'default'"
_WINDOWS_ISOLATION = (
    "Invalid isolation: \"{iso}\" - windows daemon only supports 'default', 'process' and 'hyperv'"
)
# Docker's mount validation (moby volume/mounts parsers), in its own words. The simulated
# engine keeps its own statement of the path rules, apart from the API's validation, so a
# pod that reaches a node with the wrong kind of path (spec.nodeName set by hand) is
# refused here as the real engine would refuse it.
_MOUNT_CONFIG = 'invalid mount config for type "{type}": {err}'
_NOT_ABSOLUTE = "invalid mount path: '{path}' mount path must be absolute"
_WINDOWS_TARGET = re.compile(r"^(?:[a-zA-Z]:\\[^:*?\"<>|]*|\\\\\.\\pipe\\[^\\/]+)$")
# A process asked to run as a user the container does not have (Windows' ERROR_LOGON_FAILURE).
HCS_BAD_USER = "The user name or password is incorrect. (0x52e)"
# A gMSA credential spec naming no domain the container host can reach.
HCS_NO_DOMAIN = "The specified domain either does not exist or could not be contacted. (0x54b)"
# Docker's words for a container joining another's network namespace (container:<id>).
_JOIN_NOT_RUNNING = "cannot join network of a non running container: {cid}"
_JOIN_PORTS = "conflicting options: port publishing and the container type network mode"
_JOIN_HYPERV = "sharing of hyperv containers network is not supported"
# Windows Server 2016 has no network namespaces to share (dockershim: "Windows Server 2016
# Support only non-sandbox case"); sharing came with 1709 (build 16299).
_JOIN_2016 = "container network mode is not supported on Windows builds before 16299 (Windows Server 1709)"
_NO_ADDRESS = "no IP addresses available in range set: {first}-{last}"
_NAME_CONFLICT = (
    'Conflict. The container name "/{name}" is already in use by container "{cid}". '
    "You have to remove (or rename) that container to be able to reuse that name."
)


@functools.lru_cache(maxsize=1024)
def _version(text: str) -> WindowsVersion:
    """Parsed once per distinct version string: thousands of hollow nodes share a few."""
    return WindowsVersion.parse(text)


def _img(name: str, os: str, os_version: str = "", size: int = 0) -> ImageInfo:
    return ImageInfo(
        id="sha256:" + hashlib.sha256(name.encode()).hexdigest(),  # stable across processes
        names=(name,),
        os=os,
        architecture="amd64",
        os_version=os_version,
        size=size,
    )


def _default_cidr(hostname: str) -> str:
    n = int(hashlib.sha256(hostname.encode()).hexdigest(), 16) % 256
    return f"10.244.{n}.0/24"


_MCR = "mcr.microsoft.com/windows"
DEFAULT_CATALOGUE: tuple[ImageInfo, ...] = (
    _img(f"{_MCR}/servercore:ltsc2019", "windows", "10.0.17763.6189", 5_700_000_000),
    _img(f"{_MCR}/servercore:1903", "windows", "10.0.18362.1256", 5_900_000_000),
    _img(f"{_MCR}/servercore:ltsc2022", "windows", "10.0.20348.2655", 5_300_000_000),
    _img(f"{_MCR}/servercore:ltsc2025", "windows", "10.0.26100.2314", 6_100_000_000),
    _img(f"{_MCR}/servercore/iis:windowsservercore-ltsc2019", "windows", "10.0.17763.6189", 5_900_000_000),
    _img(f"{_MCR}/servercore/iis:windowsservercore-ltsc2022", "windows", "10.0.20348.2655", 5_500_000_000),
    _img(f"{_MCR}/servercore/iis:windowsservercore-ltsc2025", "windows", "10.0.26100.2314", 6_300_000_000),
    _img(f"{_MCR}/nanoserver:ltsc2019", "windows", "10.0.17763.6189", 260_000_000),
    _img(f"{_MCR}/nanoserver:ltsc2022", "windows", "10.0.20348.2655", 290_000_000),
    _img(f"{_MCR}/nanoserver:ltsc2025", "windows", "10.0.26100.2314", 310_000_000),
    _img("mixfleet/busybox:latest", "linux", "", 1_200_000),
    _img("busybox:latest", "linux", "", 4_300_000),
    _img("nginx:latest", "linux", "", 190_000_000),
)


@dataclass(slots=True)
class _Container:  # mutable on purpose: this is the simulated engine's own state
    id: str
    spec: ContainerSpec
    isolation: str
    state: RunState = RunState.CREATED
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output: list[bytes] = field(default_factory=list)
    stopped: asyncio.Event | None = None
    ip: str = ""  # its own address while it runs ("" when it joined another's network)

    def view(self) -> ContainerState:
        return ContainerState(
            id=self.id,
            name=self.spec.name,
            labels=self.spec.labels,
            image=self.spec.image,
            state=self.state,
            exit_code=self.exit_code,
            started_at=self.started_at,
            finished_at=self.finished_at,
            isolation=self.isolation,
            ip=self.ip,
        )


class SimulatedEngine(Engine):
    host_filesystem = False
    def __init__(
        self,
        *,
        os: str = "windows",
        build: int = 20348,
        revision: int = 2655,
        edition: str = "server",
        hyperv: bool = True,
        cpu: int = 8,
        memory: int = 32 * _GI,
        images: Iterable[str | ImageInfo] = (),
        catalogue: Iterable[ImageInfo] = DEFAULT_CATALOGUE,
        hyperv_start_delay: float = 0.0,
        hostname: str = "simulated",
        kernel_version: str = "6.1.0-18-amd64",
        server_version: str = "24.0.7",
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        pod_cidr: str = "",
    ) -> None:
        self.os, self.build, self.revision, self.edition = os, build, revision, edition
        self.hyperv = hyperv and os == "windows"
        self.cpu, self.memory, self.hostname = cpu, memory, hostname
        self.kernel_version, self.server_version = kernel_version, server_version
        self.hyperv_start_delay = hyperv_start_delay
        self.clock = clock
        self.catalogue = {image_ref.normalize(n): i for i in catalogue for n in i.names}
        self._images: dict[str, ImageInfo] = {}
        for image in images:
            info = image if isinstance(image, ImageInfo) else self.catalogue[image_ref.normalize(image)]
            for n in info.names:
                self._images[image_ref.normalize(n)] = info
        self._containers: dict[str, _Container] = {}
        self._ids = itertools.count(1)
        self.exec_codes: dict[str, int] = {}  # "test -f /tmp/ready" -> 0: tests flip probes
        # Network probes: every container answers httpGet with 200, accepts TCP on every
        # port and is SERVING over gRPC, unless told otherwise here (tests fail a health
        # endpoint by path, close a port, or set a gRPC service's status).
        self.http_codes: dict[str, int] = {}  # "/healthz" -> 500
        self.closed_ports: set[int] = set()
        self.grpc_status: dict[str, str] = {}  # service -> "NOT_SERVING"
        self.network_probes = 0  # answered (tests)
        self.local_accounts: set[str] = set()  # accounts the images have beyond the built-in ones
        self.credential_specs: dict[str, str] = {}  # Docker's CredentialSpecs folder: name -> JSON
        # The node's pod range: a /24 of 10.244.0.0/16 picked by host name, as flannel gives one.
        self.pod_cidr = ipaddress.ip_network(pod_cidr or _default_cidr(hostname))
        self._listeners: list[tuple[Mapping[str, str], asyncio.Queue[str]]] = []

    # -- host view ---------------------------------------------------------------------
    @property
    def os_version(self) -> str:
        return f"10.0.{self.build}.{self.revision}" if self.os == "windows" else ""

    def _product(self) -> tuple[str, str]:
        if self.edition == "client":
            return "Windows 10 Pro", "23H2"  # Windows 11 still says "Windows 10" here
        return next(
            ((p, v) for b, p, v in _SERVER_PRODUCTS if self.build >= b), ("Windows Server", "")
        )

    def host_facts(self) -> HostFacts:
        """Facts for a hollow node, without a round trip through ``info()``."""
        from mixfleet.nodeagent.facts.engine_view import facts_from_engine

        return dataclasses.replace(
            facts_from_engine(self._info(), hyperv=self.hyperv), simulated=True
        )

    def _info(self) -> EngineInfo:
        if self.os != "windows":
            return EngineInfo(
                os_type="linux",
                architecture="amd64",
                kernel_version=self.kernel_version,
                operating_system="Debian GNU/Linux 12 (bookworm)",
                server_version=self.server_version,
                ncpu=self.cpu,
                mem_total=self.memory,
                name=self.hostname,
            )
        product, display = self._product()
        return EngineInfo(
            os_type="windows",
            architecture="amd64",
            kernel_version=f"10.0 {self.build} ({self.build}.1.amd64fre.release)",
            operating_system=f"{product} Version {display} (OS Build {self.build}.{self.revision})",
            server_version=self.server_version,
            ncpu=self.cpu,
            mem_total=self.memory,
            default_isolation="hyperv" if self.edition == "client" else "process",
            os_version=self.os_version,
            name=self.hostname,
        )

    async def info(self) -> EngineInfo:
        return self._info()

    # -- images ------------------------------------------------------------------------
    def pull_refusal(self, image: str) -> str | None:
        """Docker's pull-time refusal for this host, or None when the pull would succeed."""
        info = self.catalogue.get(image_ref.normalize(image))
        if info is None:
            return f"manifest for {image_ref.familiar(image)} not found: manifest unknown: manifest unknown"
        if info.os != self.os:
            host = f"{self.os}/amd64" + (f" 10.0.{self.build}" if self.os == "windows" else "")
            return f"no matching manifest for {host} in the manifest list entries"
        if self.os == "windows" and _version(info.os_version).build > self.build:
            image_ver = ".".join(info.os_version.split(".")[:3])
            return f"a Windows version {image_ver}-based image is incompatible with a 10.0.{self.build} host"
        return None

    async def pull(self, image: str, progress_cb: ProgressCallback | None = None) -> None:
        refusal = self.pull_refusal(image)
        if refusal is not None:
            raise PullError(refusal)
        info = self.catalogue[image_ref.normalize(image)]
        if progress_cb is not None:
            progress_cb(
                {"status": f"Pulling from {image}", "id": image_ref.familiar(image).rsplit(":", 1)[-1]}
            )
            progress_cb({"status": f"Status: Downloaded newer image for {image_ref.familiar(image)}"})
        self._images[image_ref.normalize(image)] = info

    async def image_present(self, image: str) -> bool:
        return image_ref.normalize(image) in self._images

    async def list_images(self) -> list[ImageInfo]:
        return list({i.id: i for i in self._images.values()}.values())

    # -- containers --------------------------------------------------------------------
    async def list_containers(
        self, labels: Mapping[str, str] | None = None
    ) -> list[ContainerState]:
        want = (labels or {}).items()
        return [
            c.view()
            for c in self._containers.values()
            if all(c.spec.labels.get(k) == v for k, v in want)
        ]

    def _start_refusal(self, cid: str, image: ImageInfo, isolation: str) -> str | None:
        """What the engine says when it cannot start this image here, or None."""
        if image.os != self.os:
            return _WRONG_OS.format(os=image.os)
        if self.os != "windows":
            return _LINUX_ISOLATION.format(iso=isolation) if isolation else None
        host, img = _version(self.os_version), _version(image.os_version)
        if isolation == "process":
            if hcs_matrix.process_starts(host, img, client=self.edition == "client"):
                return None
            return _HCS_CALL.format(cid=cid, call="System::Start", err=HCS_OS_MISMATCH)
        if isolation == "hyperv":
            if not self.hyperv:
                return _HCS_CALL.format(cid=cid, call="CreateComputeSystem", err=HCS_NO_HYPERV)
            if hcs_matrix.hyperv_starts(host, img):
                return None
            return _HCS_CALL.format(cid=cid, call="CreateComputeSystem", err=HCS_OS_MISMATCH)
        return _WINDOWS_ISOLATION.format(iso=isolation)

    def _mount_refusal(self, spec: ContainerSpec) -> str | None:
        """What Docker says of a mount this host's containers cannot have, or None: a
        Windows container takes ``C:\\dir`` (or a named pipe) and no tmpfs; a Linux one an
        absolute POSIX path."""
        for m in spec.mounts:
            target = m.target.replace("/", "\\") if self.os == "windows" else m.target
            if self.os == "windows":
                if m.type == "tmpfs":
                    return _MOUNT_CONFIG.format(type=m.type, err="mount type unknown")
                if not _WINDOWS_TARGET.match(target) or target.rstrip("\\").endswith(":"):
                    return _MOUNT_CONFIG.format(type=m.type, err=_NOT_ABSOLUTE.format(path=m.target))
            elif not m.target.startswith("/"):
                return _MOUNT_CONFIG.format(type=m.type, err=_NOT_ABSOLUTE.format(path=m.target))
        return None

    def mounts(self, container_id: str) -> tuple[Mount, ...]:
        """The mounts a container was created with (tests: what the agent asked for)."""
        return self._get(container_id).spec.mounts

    def container_env(self, container_id: str) -> Mapping[str, str]:
        """The environment a container was created with (tests: what the agent resolved)."""
        return self._get(container_id).spec.env

    def _identity_refusal(self, cid: str, spec: ContainerSpec, image: ImageInfo) -> str | None:
        """HCS's words when the container's process cannot be created as the user asked
        for, or its gMSA credential spec names no domain (Windows only)."""
        if self.os != "windows":
            return None
        if unknown_windows_user(spec.user or image_user(image), self.local_accounts):
            return _HCS_CALL.format(cid=cid, call="System::CreateProcess", err=HCS_BAD_USER)
        if spec.credential_spec is not None and credential_spec_refusal(spec.credential_spec):
            return _HCS_CALL.format(cid=cid, call="System::Start", err=HCS_NO_DOMAIN)
        return None

    def _default_isolation(self) -> str:
        if self.os != "windows":
            return ""
        return "hyperv" if self.edition == "client" and self.hyperv else "process"

    async def create_and_start(self, spec: ContainerSpec) -> str:
        image = self._images.get(image_ref.normalize(spec.image))
        if image is None:
            raise ImageNotFound(f"No such image: {spec.image}")
        for c in self._containers.values():
            if c.spec.name == spec.name:
                raise StartError(_NAME_CONFLICT.format(name=spec.name, cid=c.id))
        refusal = self._mount_refusal(spec)
        if refusal is not None:
            raise StartError(refusal)
        cid = f"{next(self._ids):012x}{abs(hash(spec.name)):052x}"[:64]
        isolation = spec.isolation or self._default_isolation()
        # Docker checks the network mode at create, before HCS starts anything.
        refusal = (
            self._join_refusal(spec)
            or self._start_refusal(cid, image, isolation)
            or self._identity_refusal(cid, spec, image)
            or hostconfig_refusal(self.os, spec)
        )
        if refusal is not None:
            raise StartError(refusal)
        if spec.credential_spec is not None:  # what Docker's CredentialSpecs folder would hold
            self.credential_specs[credspecs.file_name(spec.credential_spec)] = spec.credential_spec
        container = _Container(id=cid, spec=spec, isolation=isolation)
        self._containers[cid] = container
        if isolation == "hyperv" and self.hyperv_start_delay:
            await asyncio.sleep(self.hyperv_start_delay)  # the utility VM boots
        try:
            self._run(container)
        except StartError:
            self._containers.pop(cid, None)  # as the contract says: a retry starts clean
            raise
        return cid

    def _join_refusal(self, spec: ContainerSpec) -> str | None:
        """What Docker says when a container cannot join the network it names."""
        mode = spec.network_mode or ""
        if not mode.startswith("container:"):
            return None
        if spec.ports:
            return _JOIN_PORTS
        if self.os == "windows" and self.build < 16299:
            return _JOIN_2016
        target = self._find(mode[len("container:"):])
        if target is None:
            return f"No such container: {mode[len('container:'):]}"
        if target.state is not RunState.RUNNING:
            return _JOIN_NOT_RUNNING.format(cid=target.id)
        if self.os == "windows" and target.isolation == "hyperv":
            return _JOIN_HYPERV
        return None

    def _find(self, ref: str) -> _Container | None:
        """A container by id, id prefix or name, as Docker resolves references."""
        return next(
            (c for c in self._containers.values() if c.id.startswith(ref) or c.spec.name == ref),
            None,
        )

    def _allocate(self) -> str:
        taken = {c.ip for c in self._containers.values() if c.ip}
        hosts = self.pod_cidr.hosts()
        next(hosts, None)  # .1 is the bridge's (the gateway)
        for ip in hosts:
            if str(ip) not in taken:
                return str(ip)
        first, *_, last = self.pod_cidr.hosts()
        raise StartError(_NO_ADDRESS.format(first=first, last=last))

    def _run(self, c: _Container) -> None:
        joined = (c.spec.network_mode or "").startswith("container:")
        c.ip = "" if joined else self._allocate()
        c.state, c.started_at, c.exit_code, c.finished_at = (
            RunState.RUNNING,
            self.clock(),
            None,
            None,
        )
        words = " ".join((*(c.spec.command or ()), *(c.spec.args or ())))
        c.output.append(f"simulated: {words or '(image default command)'}\n".encode())
        self._notify(c)
        m = _EXIT.search(words)
        if m:
            self._exit(c, int(m[1]))

    def _exit(self, c: _Container, code: int) -> None:
        c.state, c.exit_code, c.finished_at = RunState.EXITED, code, self.clock()
        c.ip = ""  # Docker releases the endpoint when the container stops
        if c.stopped is not None:
            c.stopped.set()
        self._notify(c)

    def crash(self, container_id: str, exit_code: int = 1) -> None:
        """The container's process dies (tests: a crash the agent must notice)."""
        c = self._get(container_id)
        if c.state is RunState.RUNNING:
            self._exit(c, exit_code)

    def _notify(self, c: _Container) -> None:
        for labels, queue in self._listeners:
            if all(c.spec.labels.get(k) == v for k, v in labels.items()):
                queue.put_nowait(c.id)

    def _get(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise ContainerNotFound(f"No such container: {container_id}") from None

    async def start(self, container_id: str) -> None:
        c = self._get(container_id)
        if c.state is not RunState.RUNNING:
            self._run(c)

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        c = self._containers.get(container_id)
        if c is not None and c.state is RunState.RUNNING:
            self._exit(c, 0)  # simulated processes honour the stop signal at once

    async def remove(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is not None and c.stopped is not None:
            c.stopped.set()
        if c is not None:
            self._notify(c)

    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float
    ) -> ExecResult:
        c = self._get(container_id)
        if c.state is not RunState.RUNNING:
            raise EngineError(f"Container {container_id} is not running")
        words = " ".join(command)
        code = self.exec_codes.get(words)
        if code is None:
            m = _EXIT.search(words)
            code = int(m[1]) if m else 1 if list(command[:1]) == ["false"] else 0
        return ExecResult(code, "")

    async def probe(
        self, container_id: str, action: netprobe.ProbeAction, *, timeout: float
    ) -> netprobe.ProbeResult:
        """Exec as ``exec``; network checks answered from the settings above, in the words
        the real checks use, so the prober's logic is the same on simulated nodes."""
        if isinstance(action, netprobe.ExecAction):
            return await super().probe(container_id, action, timeout=timeout)
        c = self._get(container_id)
        if c.state is not RunState.RUNNING:
            raise EngineError(f"Container {container_id} is not running")
        self.network_probes += 1
        where = f"{action.host or 'localhost'}:{action.port}" if not isinstance(
            action, netprobe.GRPCAction) else f":{action.port}"
        if action.port in self.closed_ports:
            refused = f"dial tcp {where}: connect: connection refused"
            if isinstance(action, netprobe.HTTPGetAction):
                refused = f'Get "{action.scheme.lower()}://{where}{action.path}": {refused}'
            return netprobe.ProbeResult(False, refused)
        if isinstance(action, netprobe.HTTPGetAction):
            code = self.http_codes.get(action.path, 200)
            if 200 <= code < 400:
                return netprobe.ProbeResult(True, "")
            return netprobe.ProbeResult(False, f"{netprobe.STATUS_FAILED} {code}")
        if isinstance(action, netprobe.GRPCAction):
            status = self.grpc_status.get(action.service, "SERVING")
            if status != "SERVING":
                return netprobe.ProbeResult(False, f'service unhealthy (responded with "{status}")')
        return netprobe.ProbeResult(True, "")

    async def exec_session(self, container_id: str, request: ExecRequest) -> ExecSession:
        c = self._get(container_id)
        if c.state is not RunState.RUNNING:
            raise EngineError(f"Container {container_id} is not running")
        image = self._images.get(image_ref.normalize(c.spec.image))
        who = exec_identity(self.os, c.spec.user or (image_user(image) if image else ""), self.hostname)
        session = SimulatedExecSession(request.command, who)
        if not request.stdin:
            await session.close_stdin()
        return session

    async def image_user(self, image: str) -> str:
        info = self._images.get(image_ref.normalize(image)) or self.catalogue.get(image_ref.normalize(image))
        if info is None:
            raise ImageNotFound(f"No such image: {image}")
        return image_user(info)

    def inspect(self, container_id: str) -> dict[str, object]:
        """The container as ``docker inspect`` shows it, trimmed to what the spec set."""
        c = self._get(container_id)
        spec = c.spec
        options = [*spec.security_opt]
        if spec.credential_spec is not None:
            options.append(credspecs.security_option(spec.credential_spec))
        return {
            "Id": c.id,
            "Name": "/" + spec.name,
            "Config": {"Image": spec.image, "User": spec.user or "", "Labels": dict(spec.labels)},
            "HostConfig": {
                "Isolation": c.isolation,
                "SecurityOpt": options or None,
                "ReadonlyRootfs": spec.read_only_rootfs,
                "Privileged": spec.privileged,
                "CapAdd": list(spec.cap_add) or None,
                "CapDrop": list(spec.cap_drop) or None,
                "GroupAdd": list(spec.group_add) or None,
            },
            "State": {"Status": c.state.value, "ExitCode": c.exit_code or 0},
        }

    async def import_image(self, tag: str, rootfs: bytes, *, changes: Sequence[str] = ()) -> None:
        info = _img(tag, self.os, self.os_version if self.os == "windows" else "", len(rootfs))
        self._images[image_ref.normalize(tag)] = info

    async def events(self, labels: Mapping[str, str] | None = None) -> AsyncGenerator[str, None]:
        entry = (dict(labels or {}), asyncio.Queue[str]())
        self._listeners.append(entry)
        try:
            yield ""
            while True:
                yield await entry[1].get()
        finally:
            self._listeners.remove(entry)

    async def logs(
        self, container_id: str, *, follow: bool = False, tail: int = -1
    ) -> AsyncIterator[bytes]:
        c = self._get(container_id)
        for chunk in c.output if tail < 0 else c.output[len(c.output) - tail :] if tail else []:
            yield chunk
        if follow and c.state is RunState.RUNNING:
            c.stopped = c.stopped or asyncio.Event()
            await c.stopped.wait()
