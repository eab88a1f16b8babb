"""The pod sandbox: one small container per pod that owns the pod's network namespace, as the
kubelet's dockershim (and cri-dockerd) make it. It is created first, its address is the pod's
``status.podIP``, it publishes the pod's host ports, and every other container of the pod
(init and app) joins it with Docker's ``container:<id>`` network mode, so the pod's
containers reach each other on ``localhost``. It is removed last; when it dies, the pod's
containers are stopped and started again in a new sandbox (init containers first).

Windows: Docker shares a network namespace from Windows Server 1709 (build 16299) on, never a
Hyper-V container's ("sharing of hyperv containers network is not supported"). There, as
dockershim did, each container keeps a network of its own and the pod's IP is its first
container's: such pods run without a sandbox. The sandbox image must run on the host's build
with process isolation, so the default one is the nanoserver image of the host's build.

The image: no registry is needed. On Linux the default ``mixfleet/pause:latest`` is made on
the node by ``docker import`` of a rootfs holding only a static busybox (its ``sleep`` and
``sh``, which exits at once on SIGTERM); ``--pod-infra-image`` names another, pulled when
absent, as cri-dockerd does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mixfleet.api import images as image_ref
from mixfleet.nodeagent.engines.base import (
    ContainerSpec,
    ContainerState,
    Engine,
    EngineError,
    PortMapping,
    PullError,
    RunState,
    StartError,
)
from mixfleet.nodeagent.podspec import (
    PREFIX,
    attempt_of,
    pod_isolation,
    pod_labels,
    pod_uid,
)

SANDBOX_NAME = "POD"  # the kubelet's name for it; no user container can be named so
LABEL_TYPE = PREFIX + "container-type"  # sandbox | init; absent on app containers
LABEL_SANDBOX = PREFIX + "sandbox-id"  # on every container that joined a sandbox
TYPE_SANDBOX, TYPE_INIT = "sandbox", "init"
FAILED_SANDBOX = "FailedCreatePodSandBox"

PAUSE_IMAGE = "mixfleet/pause:latest"
PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"
_WINDOWS_PAUSE_COMMAND = ("cmd", "/c", "ping -t localhost > NUL")
_NANOSERVER = "mcr.microsoft.com/windows/nanoserver"
# The nanoserver tag of each build Microsoft publishes images for (docs/WINDOWS-COMPAT.md).
_NANOSERVER_TAGS = {17763: "ltsc2019", 20348: "ltsc2022", 26100: "ltsc2025"}
_LTSC = (20348, 26100)
RS3 = 16299  # Windows Server 1709: the first build sharing a network namespace


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How this node makes pod sandboxes."""

    image: str
    host_os: str = "linux"
    host_build: int = 0  # Windows only
    command: tuple[str, ...] | None = None  # None: the image's own

    @classmethod
    def for_host(cls, *, host_os: str, host_build: int = 0, image: str = "") -> "SandboxConfig":
        """The node's default sandbox image, unless ``image`` (--pod-infra-image) is set."""
        if host_os != "windows":
            return cls(image or PAUSE_IMAGE, host_os)
        return cls(image or windows_sandbox_image(host_build), host_os, host_build,
                   _WINDOWS_PAUSE_COMMAND)

    def shares_network(self, pod: Mapping[str, Any]) -> bool:
        """Whether the pod's containers share one network namespace here (see module doc)."""
        if self.host_os != "windows":
            return True
        if self.host_build and self.host_build < RS3:
            return False
        return pod_isolation(pod, host_os=self.host_os) != "hyperv"


def windows_sandbox_image(build: int) -> str:
    """The nanoserver image a process-isolated sandbox runs on this host build: its own
    build's, else (a build without images of its own, e.g. Windows 11 or 23H2) the newest
    LTSC build older than it, which HCS runs there."""
    tag = _NANOSERVER_TAGS.get(build)
    if tag is None:
        older = [b for b in _LTSC if b < build]
        tag = _NANOSERVER_TAGS[older[-1]] if older else _NANOSERVER_TAGS[20348]
    return f"{_NANOSERVER}:{tag}"


def is_sandbox(c: ContainerState | ContainerSpec) -> bool:
    return c.labels.get(LABEL_TYPE) == TYPE_SANDBOX


def split(containers: Sequence[ContainerState]) -> tuple[list[ContainerState], list[ContainerState]]:
    """(sandboxes by attempt, the pod's other containers)."""
    boxes = sorted((c for c in containers if is_sandbox(c)), key=attempt_of)
    return boxes, [c for c in containers if not is_sandbox(c)]


def host_ports(pod: Mapping[str, Any]) -> tuple[PortMapping, ...]:
    """Every container's ports (init containers' too): the sandbox publishes them."""
    spec = pod.get("spec") or {}
    return tuple(
        PortMapping(int(p["containerPort"]), p.get("hostPort"), str(p.get("protocol") or "TCP").lower())
        for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
        for p in c.get("ports") or ()
    )


def sandbox_hash(pod: Mapping[str, Any], config: SandboxConfig) -> str:
    """Changes when what the sandbox was made with changes: then the pod starts over."""
    doc = {
        "image": config.image,
        "ports": [dataclasses.astuple(p) for p in host_ports(pod)],
        "iso": pod_isolation(pod, host_os=config.host_os),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def sandbox_spec(
    pod: Mapping[str, Any], config: SandboxConfig, *, attempt: int, node_name: str = ""
) -> ContainerSpec:
    meta = pod.get("metadata") or {}
    ns, name, uid = str(meta.get("namespace") or "default"), str(meta.get("name")), pod_uid(pod)
    isolation = pod_isolation(pod, host_os=config.host_os)
    labels = pod_labels(
        pod, SANDBOX_NAME, sandbox_hash(pod, config),
        attempt=attempt, isolation=isolation, node_name=node_name,
    )
    labels[LABEL_TYPE] = TYPE_SANDBOX
    return ContainerSpec(
        name=f"mx_{ns}_{name}_{SANDBOX_NAME}_{uid[:8]}_{attempt}",
        image=config.image,
        command=config.command,
        ports=host_ports(pod),
        labels=labels,
        isolation=isolation,
        hostname=name[:63],
    )


def join(spec: ContainerSpec, sandbox: ContainerState | None, *, init: bool = False) -> ContainerSpec:
    """A container of the pod, set to run in the sandbox's network namespace (its ports are
    the sandbox's to publish: Docker refuses ports on a joined container)."""
    labels = {**spec.labels, **({LABEL_TYPE: TYPE_INIT} if init else {})}
    if sandbox is None:
        return dataclasses.replace(spec, labels=labels)
    return dataclasses.replace(
        spec,
        network_mode=f"container:{sandbox.id}",
        ports=(),
        labels={**labels, LABEL_SANDBOX: sandbox.id},
    )


def in_sandbox(c: ContainerState, sandbox: ContainerState | None) -> bool:
    """Whether c belongs to the pod's current sandbox (always, for pods without one)."""
    return sandbox is None or c.labels.get(LABEL_SANDBOX) == sandbox.id


def pod_ip(
    sandboxes: Sequence[ContainerState], others: Sequence[ContainerState]
) -> str:
    """The running sandbox's address; for a pod without one, its first running container's."""
    for c in reversed(sandboxes):
        if c.state is RunState.RUNNING and c.ip:
            return c.ip
    if sandboxes:
        return ""
    running = sorted((c for c in others if c.state is RunState.RUNNING and c.ip), key=lambda c: c.name)
    return running[0].ip if running else ""


async def ensure_image(engine: Engine, image: str) -> None:
    """The sandbox image is there: built from the host's static busybox when it is the
    default pause image, else pulled. Raises PullError or StartError with the reason."""
    if await engine.image_present(image):
        return
    if image_ref.normalize(image) != image_ref.normalize(PAUSE_IMAGE):
        try:
            await engine.pull(image)
        except PullError as e:  # a sandbox failure, not one of the pod's images
            raise StartError(f"cannot pull the sandbox image {image}: {e.message}") from e
        return
    from mixfleet.nodeagent.images import BusyboxMissing, busybox_rootfs_tar, find_busybox

    try:
        rootfs = busybox_rootfs_tar(find_busybox(), applets=("sh", "sleep"), dirs=("bin", "dev", "proc", "sys", "etc"))
    except BusyboxMissing as e:
        raise StartError(f"cannot build the sandbox image {PAUSE_IMAGE}: {e}; or set --pod-infra-image") from e
    try:
        await engine.import_image(
            PAUSE_IMAGE, rootfs,
            changes=[f'CMD ["/bin/sh", "-c", {json.dumps(PAUSE_SCRIPT)}]', "ENV PATH=/bin"],
        )
    except EngineError as e:
        raise StartError(f"cannot build the sandbox image {PAUSE_IMAGE}: {e.message}") from e
