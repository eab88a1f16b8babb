"""Linux host facts: parsing is pure (tested on recorded inputs); ``detect`` reads the host."""

from __future__ import annotations

import os
import socket

from mixfleet.nodeagent.facts.host import HostFacts, normalize_arch


def parse_meminfo(text: str) -> int:
    """MemTotal in bytes from /proc/meminfo."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            value, *unit = line.split(":", 1)[1].split()
            return int(value) * (1024 if unit and unit[0].lower() == "kb" else 1)
    raise ValueError("no MemTotal line in /proc/meminfo")


def parse_os_release(text: str) -> str:
    """PRETTY_NAME from /etc/os-release ("Linux" when absent)."""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def linux_facts(
    *, release: str, machine: str, hostname: str, cpu: int, meminfo: str, os_release: str
) -> HostFacts:
    return HostFacts(
        os="linux",
        arch=normalize_arch(machine),
        hostname=hostname.lower(),
        cpu=cpu,
        memory_bytes=parse_meminfo(meminfo),
        os_image=parse_os_release(os_release),
        kernel_version=release,
    )


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def detect() -> HostFacts:
    u = os.uname()
    # The CPUs this process may use: a container or cgroup-pinned agent sees fewer.
    cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return linux_facts(
        release=u.release,
        machine=u.machine,
        hostname=socket.gethostname(),
        cpu=cpu or 1,
        meminfo=_read("/proc/meminfo"),
        os_release=_read("/etc/os-release") or _read("/usr/lib/os-release"),
    )
