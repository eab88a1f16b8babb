"""``securityContext.fsGroup``: the pod's volumes made its group's, as the kubelet's
SetVolumeOwnership (pkg/volume/volume_linux.go) does for the volume types that ask for it
(emptyDir, configMap, secret, persistentVolumeClaim; never hostPath): every file and
directory gets group ``fsGroup``, group read and write (read only for the read-only types,
configMap and secret), directories also group search and the setgid bit, so what a container
writes later belongs to the group too. The container runs with ``fsGroup`` among its groups
(nodeagent/security.py). ``fsGroupChangePolicy: OnRootMismatch`` skips the walk when the
volume's root already has the group and the bits; ``Always`` (the default) walks every
time the volume is set up, a refreshed configMap's new files included."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any, Mapping

from mixfleet.nodeagent.volumes.errors import VolumeSetupError

FS_GROUP_TYPES = frozenset({"emptyDir", "configMap", "secret", "persistentVolumeClaim"})
ON_ROOT_MISMATCH = "OnRootMismatch"
_RW_MASK, _RO_MASK, _EXEC_MASK = 0o660, 0o440, 0o110


def fs_group(pod: Mapping[str, Any]) -> tuple[int, str] | None:
    """The pod's (fsGroup, fsGroupChangePolicy), None when it sets no fsGroup."""
    sc = (pod.get("spec") or {}).get("securityContext") or {}
    gid = sc.get("fsGroup")
    if not isinstance(gid, int) or isinstance(gid, bool):
        return None
    return gid, str(sc.get("fsGroupChangePolicy") or "Always")


def _mask(mode: int, *, read_only: bool) -> int:
    mask = _RO_MASK if read_only else _RW_MASK
    if stat.S_ISDIR(mode):
        mask |= stat.S_ISGID | _EXEC_MASK
    return mask


def _owned(path: str, gid: int, *, read_only: bool) -> bool:
    st = os.lstat(path)
    mask = _mask(st.st_mode, read_only=read_only)
    return st.st_gid == gid and stat.S_IMODE(st.st_mode) & mask == mask


def _set(path: str, gid: int, *, read_only: bool) -> None:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return  # the atomic writer's links: their targets are walked themselves
    os.chown(path, -1, gid, follow_symlinks=False)
    os.chmod(path, stat.S_IMODE(st.st_mode) | _mask(st.st_mode, read_only=read_only))


def set_ownership(root: Path, gid: int, *, read_only: bool, policy: str) -> None:
    """Blocking: give ``root`` and everything under it to group ``gid``."""
    if policy == ON_ROOT_MISMATCH and _owned(str(root), gid, read_only=read_only):
        return
    _set(str(root), gid, read_only=read_only)
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        for entry in (*dirs, *files):
            _set(os.path.join(folder, entry), gid, read_only=read_only)


async def apply(name: str, root: Path, pod: Mapping[str, Any], *, read_only: bool) -> None:
    """Apply the pod's fsGroup to a volume of a type that takes it; VolumeSetupError if the
    agent cannot (it must run as root to give files to another group)."""
    found = fs_group(pod)
    if found is None:
        return
    gid, policy = found
    try:
        await asyncio.to_thread(set_ownership, root, gid, read_only=read_only, policy=policy)
    except OSError as e:
        raise VolumeSetupError(name, f"applying fsGroup {gid}: {e}") from e
