"""Who a simulated container runs as, and what Windows refuses about it, as data: the
default user of each image family (Microsoft's nanoserver images run as ContainerUser,
servercore ones as ContainerAdministrator; busybox as root), the accounts every Windows
container has, and what a gMSA credential spec must hold for HCS to join the container to
its domain."""

from __future__ import annotations

import json

from mixfleet.nodeagent.engines.base import ImageInfo
from mixfleet.nodeagent.engines.simulated_exec import Identity

# The accounts in every Windows base image (names compare case-insensitively, as Windows does).
WINDOWS_BUILTIN_ACCOUNTS = frozenset({
    "containeruser",
    "containeradministrator",
    "nt authority\\system",
    "nt authority\\network service",
    "nt authority\\local service",
})


def image_user(image: ImageInfo) -> str:
    """The User in the image's config."""
    if image.os != "windows":
        return ""
    return "ContainerUser" if any("nanoserver" in n for n in image.names) else "ContainerAdministrator"


def unknown_windows_user(user: str, local_accounts: set[str]) -> bool:
    """Whether a Windows container has no account ``user`` (the process cannot log on)."""
    name = user.lower()
    known = WINDOWS_BUILTIN_ACCOUNTS | {a.lower() for a in local_accounts}
    return bool(name) and name not in known and name.removeprefix(".\\") not in known


def credential_spec_refusal(document: str) -> bool:
    """Whether HCS would fail to find the domain a credential spec names: it needs the
    domain's DnsName and the gMSA's MachineAccountName under DomainJoinConfig."""
    try:
        spec = json.loads(document)
    except ValueError:
        return True
    join = spec.get("DomainJoinConfig") if isinstance(spec, dict) else None
    return not (isinstance(join, dict) and join.get("DnsName") and join.get("MachineAccountName"))


def exec_identity(os: str, user: str, hostname: str) -> Identity:
    """What ``whoami`` and ``id`` print in the container for its configured ``user``."""
    if os == "windows":
        name = user or "ContainerAdministrator"
        low = name.lower()
        if low in ("containeruser", "containeradministrator"):
            shown = f"user manager\\{low}"
        elif "\\" in low:
            shown = low
        else:
            shown = f"{hostname.lower()}\\{low}"
        return Identity(os="windows", user=shown, hostname=hostname)
    uid_text, _, gid_text = (user or "0").partition(":")
    uid = int(uid_text) if uid_text.isdigit() else 0
    gid = int(gid_text) if gid_text.isdigit() else (uid if uid_text.isdigit() else 0)
    whoami = "root" if uid == 0 and uid_text in ("0", "root", "") else uid_text
    return Identity(os="linux", user=whoami, uid=uid, gid=gid, hostname=hostname)
