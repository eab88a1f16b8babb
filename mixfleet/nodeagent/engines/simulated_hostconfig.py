"""What Docker refuses of a container's security settings on the other OS, in its own words,
for the simulated engine: Docker on Windows takes no privileged mode and no read-only root
filesystem (runconfig/hostconfig_windows.go); Docker on Linux knows no ``credentialspec``
security option (daemon_unix.go parseSecurityOpt). The API refuses these fields on the other
OS's pods already; this keeps a simulated node as strict as a real one."""

from __future__ import annotations

from mixfleet.nodeagent.engines import credspecs
from mixfleet.nodeagent.engines.base import ContainerSpec


def hostconfig_refusal(os: str, spec: ContainerSpec) -> str | None:
    if os == "windows":
        if spec.privileged:
            return "invalid --privileged: Windows does not support this feature"
        if spec.read_only_rootfs:
            return "invalid --read-only: Windows does not support this feature"
        return None
    if spec.credential_spec is not None:
        return f'invalid --security-opt 2: "{credspecs.security_option(spec.credential_spec)}"'
    return None
