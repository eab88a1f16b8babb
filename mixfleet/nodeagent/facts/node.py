"""The Node object a node agent writes (docs/MANIFESTS.md, "Node"), built from detected
facts and the engine's view. Pure: same inputs, same dict."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from mixfleet.api.quantity import format_memory
from mixfleet.api.times import format_time
from mixfleet.api.types import NodeImage, NodePlatform
from mixfleet.nodeagent.engines.base import EngineInfo, ImageInfo
from mixfleet.nodeagent.facts.host import HostFacts

_MI, _GI = 1 << 20, 1 << 30
DEFAULT_MAX_PODS = 110
DEFAULT_HYPERV_OVERHEAD = {"cpu": "100m", "memory": "512Mi"}
WINDOWS_TAINT = {"key": "os", "value": "windows", "effect": "NoSchedule"}
_FIRST_CLIENT_PROCESS_BUILD = 17763  # Windows 10 1809: process isolation on clients


def default_reserved_memory(total: int) -> int:
    """Kept back for the OS and engine: 1Gi, or a tenth of a small host (whole Mi)."""
    return _GI if total >= 4 * _GI else (total // 10) // _MI * _MI


def node_conditions(
    *,
    now: datetime,
    engine_ready: bool,
    engine_message: str = "",
    memory_pressure: bool = False,
    disk_pressure: bool = False,
    disk_message: str = "",
) -> list[dict[str, Any]]:
    t = format_time(now)

    def cond(type_: str, ok: bool, reason: str, message: str = "") -> dict[str, Any]:
        return {
            "type": type_,
            "status": "True" if ok else "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": t,
            "lastTransitionTime": t,
        }

    return [
        cond(
            "Ready",
            engine_ready,
            "AgentReady" if engine_ready else "EngineNotReady",
            engine_message,
        ),
        cond(
            "EngineReady",
            engine_ready,
            "EngineReady" if engine_ready else "EngineUnavailable",
            engine_message,
        ),
        cond(
            "MemoryPressure",
            memory_pressure,
            "MemoryPressure" if memory_pressure else "SufficientMemory",
        ),
        cond(
            "DiskPressure",
            disk_pressure,
            "DiskPressure" if disk_pressure else "SufficientDisk",
            disk_message,
        ),
    ]


def isolation_modes(facts: HostFacts) -> list[str]:
    modes = []
    if facts.windows_edition == "server" or facts.os_build >= _FIRST_CLIENT_PROCESS_BUILD:
        modes.append("process")
    if facts.hyperv:
        modes.append("hyperv")
    return modes


def _default_isolation(facts: HostFacts, engine: EngineInfo | None) -> str:
    if engine and engine.default_isolation:
        return engine.default_isolation
    # Docker's own default: process on Server, Hyper-V on client.
    if facts.windows_edition == "client" and facts.hyperv:
        return "hyperv"
    return "process"


def _platform(
    facts: HostFacts, engine: EngineInfo | None, hyperv_overhead: Mapping[str, str]
) -> NodePlatform:
    if facts.os != "windows":
        return {"kernelVersion": facts.kernel_version, "simulated": facts.simulated}
    p: NodePlatform = {
        "osVersion": facts.os_version,
        "osBuild": facts.os_build,
        "windowsEdition": facts.windows_edition,
        "isolationModes": isolation_modes(facts),
        "defaultIsolation": _default_isolation(facts, engine),
        "lcow": False,
        "simulated": facts.simulated,
    }
    if facts.hyperv:
        p["hypervOverhead"] = dict(hyperv_overhead)
    return p


def image_entry(img: ImageInfo) -> NodeImage:
    e: NodeImage = {
        "names": list(img.names),
        "os": img.os,
        "architecture": img.architecture,
        "sizeBytes": img.size,
    }
    if img.os_version:
        e["osVersion"] = img.os_version
    return e


def node_object(
    facts: HostFacts,
    *,
    name: str,
    engine_info: EngineInfo | None,
    images: Sequence[ImageInfo] = (),
    conditions: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
    daemon_endpoint: str = "",
    labels: Mapping[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    max_pods: int = DEFAULT_MAX_PODS,
    reserved_memory_bytes: int | None = None,
    reserved_cpu: int = 0,
    hyperv_overhead: Mapping[str, str] = DEFAULT_HYPERV_OVERHEAD,
) -> dict[str, Any]:
    """The Node dict. ``labels`` add to (and may override) the detected labels; ``taints``
    replace the default (Windows nodes get ``os=windows:NoSchedule``)."""
    node_labels = {
        "kubernetes.io/os": facts.os,
        "kubernetes.io/arch": facts.arch,
        # The node name, as kubelet does by default: unique even for many agents on one host.
        "kubernetes.io/hostname": name,
    }
    if facts.os == "windows":
        node_labels["node.kubernetes.io/windows-build"] = facts.windows_build_label
    node_labels.update(labels or {})
    if taints is None:
        taints = [dict(WINDOWS_TAINT)] if facts.os == "windows" else []
    reserved_mem = (
        default_reserved_memory(facts.memory_bytes)
        if reserved_memory_bytes is None
        else reserved_memory_bytes
    )
    if conditions is None:
        conditions = node_conditions(
            now=now or datetime.now(timezone.utc), engine_ready=engine_info is not None
        )
    runtime = f"{engine_info.runtime}://{engine_info.server_version}" if engine_info else ""
    status: dict[str, Any] = {
        "capacity": {
            "cpu": str(facts.cpu),
            "memory": format_memory(facts.memory_bytes),
            "pods": str(max_pods),
        },
        "allocatable": {
            "cpu": str(max(facts.cpu - reserved_cpu, 0)),
            "memory": format_memory(max(facts.memory_bytes - reserved_mem, 0)),
            "pods": str(max_pods),
        },
        "nodeInfo": {
            "operatingSystem": facts.os,
            "architecture": facts.arch,
            "kernelVersion": facts.kernel_version,
            "osImage": facts.os_image,
            "containerRuntimeVersion": runtime,
        },
        "platform": _platform(facts, engine_info, hyperv_overhead),
        "images": [image_entry(i) for i in images],
        "conditions": conditions,
    }
    if daemon_endpoint:
        status["daemonEndpoint"] = daemon_endpoint
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node_labels},
        "spec": {"unschedulable": False, "taints": taints},
        "status": status,
    }
