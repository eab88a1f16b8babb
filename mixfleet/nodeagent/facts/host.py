"""The facts a node agent detects about its host: what placement depends on."""

from __future__ import annotations

from dataclasses import dataclass

_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8": "arm64",
    "armv7l": "arm",
    "i386": "386",
    "i686": "386",
    "x86": "386",
}


def normalize_arch(machine: str) -> str:
    """Kubernetes' name for a CPU architecture (``x86_64`` and ``AMD64`` are ``amd64``)."""
    m = machine.strip().lower()
    return _ARCH.get(m, m)


@dataclass(frozen=True, slots=True)
class HostFacts:
    os: str  # linux | windows
    arch: str  # amd64 | arm64
    hostname: str
    cpu: int
    memory_bytes: int
    os_image: str  # "Debian GNU/Linux 12 (bookworm)", "Windows Server 2022 Datacenter"
    kernel_version: str  # Linux: uname -r; Windows: the osVersion
    os_version: str = ""  # Windows: 10.0.20348.2655 (revision = UBR)
    os_build: int = 0  # Windows only
    windows_edition: str = ""  # server | client (Windows only)
    installation_type: str = ""  # Server | Server Core | Nano Server | Client
    hyperv: bool = False  # Windows: the Hyper-V role is installed and running
    simulated: bool = False

    @property
    def windows_build_label(self) -> str:
        """``node.kubernetes.io/windows-build``: major.minor.build."""
        return ".".join(self.os_version.split(".")[:3])
