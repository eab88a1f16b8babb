"""Node facts read once from a Node object, and the node class they fall into.

A *class* is everything a class-level check reads (OS, architecture, Windows build,
isolation modes, kernel, labels other than the hostname, taints, cordon, readiness and
disk pressure).
A mixed fleet of thousands of nodes has a few dozen classes, so the scheduler decides
"can this template ever run here" once per class (Nomad's computed node class), and only
resources and pod-to-pod rules are checked per node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mixfleet.api import objects
from mixfleet.api.quantity import cpu_millis, memory_bytes
from mixfleet.api.types import NodeImage, NodePlatform, NodeSpec, NodeStatus, ObjectMeta
from mixfleet.api.versions import (
    WS2016,
    InvalidVersionError,
    WindowsVersion,
    parse_kernel_version,
)
from mixfleet.scheduler.selectors import PER_NODE_KEYS

DEFAULT_MAX_PODS = 110
BUILD_LABEL = "node.kubernetes.io/windows-build"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str  # NoSchedule | PreferNoSchedule | NoExecute

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass(frozen=True, slots=True)
class ClassFacts:
    """The part of a node that class-level checks read; equal facts mean one class."""

    os: str
    arch: str
    version: WindowsVersion | None  # Windows; revision kept only for 14393 (see versions.py)
    edition: str  # server | client | "" (Linux)
    isolation_modes: frozenset[str]
    lcow: bool
    kernel: tuple[int, ...] | None
    hyperv_overhead: tuple[int, int] | None  # (cpu millis, memory bytes) as reported
    labels: tuple[tuple[str, str], ...]  # sorted, per-node keys removed
    taints: tuple[Taint, ...]
    unschedulable: bool
    ready: bool
    disk_pressure: bool = False  # the DiskPressure condition is True

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(slots=True)
class NodeFacts:
    name: str
    facts: ClassFacts
    labels: dict[str, str]  # all labels plus metadata.name, for per-node selectors
    cpu: int  # allocatable millicores
    memory: int  # allocatable bytes
    pods: int
    images: list[NodeImage] = field(default_factory=list)


@dataclass(slots=True)
class NodeClass:
    id: int
    facts: ClassFacts
    members: list[int] = field(default_factory=list)  # node indexes


def read_node(node: Mapping[str, Any]) -> NodeFacts:
    # Typed views of the parts read: a misspelt key is a type error, at no run-time cost.
    md: ObjectMeta = node.get("metadata") or ObjectMeta()
    spec: NodeSpec = node.get("spec") or NodeSpec()
    status: NodeStatus = node.get("status") or NodeStatus()
    labels = dict(md.get("labels") or {})
    name = md.get("name", "")
    info = status.get("nodeInfo") or {}
    platform: NodePlatform = status.get("platform") or NodePlatform()
    os_name = labels.get("kubernetes.io/os") or info.get("operatingSystem") or "linux"
    alloc = status.get("allocatable") or status.get("capacity") or {}
    facts = ClassFacts(
        os=os_name,
        arch=labels.get("kubernetes.io/arch") or info.get("architecture") or "amd64",
        version=_windows_version(platform, labels) if os_name == "windows" else None,
        edition=(platform.get("windowsEdition") or "server") if os_name == "windows" else "",
        isolation_modes=_isolation_modes(platform, os_name),
        lcow=bool(platform.get("lcow")),
        kernel=_kernel(platform) if os_name == "linux" else None,
        hyperv_overhead=_overhead(platform.get("hypervOverhead")),
        labels=tuple(sorted((k, str(v)) for k, v in labels.items() if k not in PER_NODE_KEYS)),
        taints=tuple(
            Taint(t.get("key", ""), str(t.get("value") or ""), t.get("effect", "NoSchedule"))
            for t in spec.get("taints") or ()
        ),
        unschedulable=bool(spec.get("unschedulable")),
        ready=objects.condition_true(node, "Ready"),
        disk_pressure=objects.condition_true(node, "DiskPressure"),
    )
    return NodeFacts(
        name=name,
        facts=facts,
        labels={**labels, "metadata.name": name},
        cpu=cpu_millis(alloc.get("cpu", "0")),
        memory=memory_bytes(alloc.get("memory", "0")),
        pods=int(alloc.get("pods", DEFAULT_MAX_PODS)),
        images=list(status.get("images") or ()),
    )


def _windows_version(platform: NodePlatform, labels: Mapping[str, Any]) -> WindowsVersion | None:
    raw = platform.get("osVersion") or platform.get("osBuild") or labels.get(BUILD_LABEL)
    if not raw:
        return None
    try:
        v = WindowsVersion.parse(raw)
    except InvalidVersionError:
        return None
    # The revision (UBR) changes monthly and matters only for 14393: dropping it elsewhere
    # keeps patched and unpatched nodes of one build in one class.
    return v if v.build == WS2016 else WindowsVersion(v.major, v.minor, v.build)


def _isolation_modes(platform: NodePlatform, os_name: str) -> frozenset[str]:
    if os_name != "windows":
        return frozenset()
    modes = platform.get("isolationModes")
    return frozenset(modes) if modes is not None else frozenset({"process"})


def _kernel(platform: NodePlatform) -> tuple[int, ...] | None:
    raw = platform.get("kernelVersion")
    if not raw:
        return None
    try:
        return parse_kernel_version(str(raw))
    except InvalidVersionError:
        return None


def _overhead(raw: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if not raw:
        return None
    return cpu_millis(raw.get("cpu", "0")), memory_bytes(raw.get("memory", "0"))
