"""The engine's view of its host: Docker ``/info`` and ``docker image inspect`` JSON parsed
into plain values. Pure; tested on JSON recorded from Linux and Windows hosts."""

from __future__ import annotations

import re
from typing import Any, Mapping

from mixfleet.api.versions import InvalidVersionError, WindowsVersion
from mixfleet.nodeagent.engines.base import EngineInfo, ImageInfo
from mixfleet.nodeagent.facts.host import HostFacts, normalize_arch

# "Windows Server 2022 Datacenter Version 2009 (OS Build 20348.2655)"
_OS_BUILD = re.compile(r"\(OS Build (\d+)\.(\d+)\)")
# "10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)"
_WIN_KERNEL = re.compile(r"^(\d+)\.(\d+) (\d+)")


def parse_docker_info(info: Mapping[str, Any]) -> EngineInfo:
    os_type = str(info.get("OSType") or "linux")
    return EngineInfo(
        os_type=os_type,
        architecture=normalize_arch(str(info.get("Architecture") or "")),
        kernel_version=str(info.get("KernelVersion") or ""),
        operating_system=str(info.get("OperatingSystem") or ""),
        server_version=str(info.get("ServerVersion") or ""),
        ncpu=int(info.get("NCPU") or 0),
        mem_total=int(info.get("MemTotal") or 0),
        default_isolation=str(info.get("Isolation") or ""),
        os_version=_windows_os_version(info) if os_type == "windows" else "",
        name=str(info.get("Name") or ""),
        data_root=str(info.get("DockerRootDir") or ""),
    )


def _windows_os_version(info: Mapping[str, Any]) -> str:
    """major.minor.build.revision: the revision only shows in OperatingSystem."""
    kernel = _WIN_KERNEL.match(str(info.get("KernelVersion") or ""))
    build_rev = _OS_BUILD.search(str(info.get("OperatingSystem") or ""))
    if kernel and build_rev:
        return f"{kernel[1]}.{kernel[2]}.{build_rev[1]}.{build_rev[2]}"
    if kernel:
        return f"{kernel[1]}.{kernel[2]}.{kernel[3]}.0"
    return str(info.get("OSVersion") or "")


def _product(operating_system: str) -> str:
    """ "Windows Server 2022 Datacenter" out of Docker's "... Version 2009 (OS Build ...)"."""
    name = operating_system.split(" Version ")[0].split(" (OS Build")[0].strip()
    return name or operating_system


def parse_docker_image(inspect: Mapping[str, Any]) -> ImageInfo:
    return ImageInfo(
        id=str(inspect.get("Id") or ""),
        names=tuple(inspect.get("RepoTags") or ()),
        os=str(inspect.get("Os") or ""),
        architecture=normalize_arch(str(inspect.get("Architecture") or "")),
        os_version=str(inspect.get("OsVersion") or ""),
        size=int(inspect.get("Size") or 0),
    )


def facts_from_engine(
    info: EngineInfo, *, hostname: str = "", hyperv: bool | None = None
) -> HostFacts:
    """Host facts as the engine sees them: for a remote or simulated engine, where the agent
    cannot look at the host itself. Hyper-V defaults to what the default isolation implies."""
    name = (hostname or info.name).lower()
    if info.os_type != "windows":
        return HostFacts(
            os=info.os_type,
            arch=info.architecture,
            hostname=name,
            cpu=info.ncpu,
            memory_bytes=info.mem_total,
            os_image=info.operating_system,
            kernel_version=info.kernel_version,
        )
    try:
        build = WindowsVersion.parse(info.os_version).build
    except InvalidVersionError:
        build = 0  # an engine that reports no version: the node shows build 0, never matches
    product = _product(info.operating_system)
    is_server = "Server" in product
    if not is_server and build >= 22000:
        product = product.replace("Windows 10", "Windows 11")
    return HostFacts(
        os="windows",
        arch=info.architecture,
        hostname=name,
        cpu=info.ncpu,
        memory_bytes=info.mem_total,
        os_image=product,
        kernel_version=info.os_version,
        os_version=info.os_version,
        os_build=build,
        windows_edition="server" if is_server else "client",
        hyperv=(info.default_isolation == "hyperv") if hyperv is None else hyperv,
    )
