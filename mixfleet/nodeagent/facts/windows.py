"""Windows host facts, detected, not configured.

The parsing is pure (``windows_facts``, ``parse_hyperv_probe``) and unit-tested on recorded
inputs from real hosts; ``detect`` gathers the raw inputs on Windows: the kernel version from
``sys.getwindowsversion()``, the revision (UBR), product name, edition and installation type
from the registry key ``SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion``, Hyper-V from one
PowerShell CIM probe, memory from ``GlobalMemoryStatusEx``.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Mapping

from mixfleet.nodeagent.facts.host import HostFacts, normalize_arch
from mixfleet.util import log

_log = log.get("nodeagent.facts")

CURRENT_VERSION_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
REGISTRY_VALUES = (
    "UBR",
    "CurrentBuildNumber",
    "ProductName",
    "EditionID",
    "InstallationType",
    "DisplayVersion",
)
# InstallState 1 = installed (Win32_OptionalFeature); HypervisorPresent says it is running.
_HYPERV_PROBE = (
    "@{present=(Get-CimInstance Win32_ComputerSystem).HypervisorPresent;"
    " feature=(Get-CimInstance Win32_OptionalFeature -Filter \"Name='Microsoft-Hyper-V'\")"
    ".InstallState} | ConvertTo-Json -Compress"
)
_WORKSTATION = 1  # OSVERSIONINFOEX.wProductType


@dataclass(frozen=True, slots=True)
class WinVer:
    """The parts of ``sys.getwindowsversion()`` we use."""

    major: int
    minor: int
    build: int
    product_type: int  # 1 workstation, 2 domain controller, 3 server


def windows_facts(
    *,
    winver: WinVer,
    registry: Mapping[str, Any],
    hyperv: bool,
    cpu: int,
    memory_bytes: int,
    hostname: str,
    machine: str,
) -> HostFacts:
    build = winver.build or int(registry.get("CurrentBuildNumber") or 0)
    revision = int(registry.get("UBR") or 0)
    os_version = f"{winver.major}.{winver.minor}.{build}.{revision}"
    install = str(registry.get("InstallationType") or "")
    if install:
        edition = "client" if install == "Client" else "server"
    else:
        edition = "client" if winver.product_type == _WORKSTATION else "server"
    return HostFacts(
        os="windows",
        arch=normalize_arch(machine),
        hostname=hostname.lower(),
        cpu=cpu,
        memory_bytes=memory_bytes,
        os_image=_product_name(registry, build=build, edition=edition),
        kernel_version=os_version,
        os_version=os_version,
        os_build=build,
        windows_edition=edition,
        installation_type=install,
        hyperv=hyperv,
    )


def _product_name(registry: Mapping[str, Any], *, build: int, edition: str) -> str:
    name = str(registry.get("ProductName") or "Windows")
    # Windows 11 still says "Windows 10" in ProductName; the build tells them apart.
    if edition == "client" and build >= 22000:
        name = name.replace("Windows 10", "Windows 11")
    return name


def parse_hyperv_probe(output: str) -> bool:
    """Hyper-V isolation needs the Hyper-V feature installed AND a running hypervisor."""
    try:
        data = json.loads(output or "{}")
    except json.JSONDecodeError:
        return False
    return bool(data.get("present")) and data.get("feature") == 1


def _read_registry() -> dict[str, Any]:
    if sys.platform != "win32":  # only called on Windows; mypy then knows winreg is there
        raise OSError("the Windows registry exists only on Windows")
    import winreg

    values: dict[str, Any] = {}
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, CURRENT_VERSION_KEY) as key:
        for name in REGISTRY_VALUES:
            try:
                values[name] = winreg.QueryValueEx(key, name)[0]
            except OSError:
                pass  # absent on older builds (DisplayVersion before 20H2)
    return values


def _probe_hyperv() -> bool:
    try:
        out = subprocess.run(
            ["powershell", "-NoProfile", "-NonInteractive", "-Command", _HYPERV_PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        _log.warning("facts.hyperv_probe_failed", error=str(e))
        return False
    return parse_hyperv_probe(out)


def _total_memory() -> int:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    return int(status.ullTotalPhys)


def detect() -> HostFacts:
    v = sys.getwindowsversion()  # type: ignore[attr-defined]
    return windows_facts(
        winver=WinVer(v.major, v.minor, v.build, v.product_type),
        registry=_read_registry(),
        hyperv=_probe_hyperv(),
        cpu=os.cpu_count() or 1,
        memory_bytes=_total_memory(),
        hostname=socket.gethostname(),
        machine=platform.machine(),
    )
