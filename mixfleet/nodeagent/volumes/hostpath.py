"""``hostPath``: a file or directory of the node itself, checked against its ``type`` as the
kubelet checks it (``DirectoryOrCreate`` and ``FileOrCreate`` make what is missing;
``Directory``, ``File``, ``Socket``, ``CharDevice``, ``BlockDevice`` must already be there
and be that). Simulated nodes have no filesystem of their own: the path is passed to the
engine unchecked."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Callable, Mapping

from mixfleet.nodeagent.volumes.errors import VolumeSetupError
from mixfleet.nodeagent.volumes.sources import Prepared, VolumeContext

# The kubelet's checks (pkg/volume/hostpath): type -> (test of st_mode, what it must be).
_MUST_BE: dict[str, tuple[Callable[[int], bool], str]] = {
    "Directory": (stat.S_ISDIR, "directory"),
    "File": (stat.S_ISREG, "file"),
    "Socket": (stat.S_ISSOCK, "socket"),
    "CharDevice": (stat.S_ISCHR, "character device"),
    "BlockDevice": (stat.S_ISBLK, "block device"),
}


def _check(name: str, path: str, kind: str) -> None:
    try:
        if kind == "DirectoryOrCreate":
            os.makedirs(path, mode=0o755, exist_ok=True)
            kind = "Directory"
        elif kind == "FileOrCreate":
            os.makedirs(os.path.dirname(path) or "/", mode=0o755, exist_ok=True)
            with open(path, "a"):
                pass
            kind = "File"
    except OSError as e:
        raise VolumeSetupError(name, f"hostPath type check failed: {path}: {e.strerror}") from e
    if kind not in _MUST_BE:
        return  # "": no check, as the kubelet
    test, what = _MUST_BE[kind]
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise VolumeSetupError(name, f"hostPath type check failed: {path} is not a {what}") from None
    if not test(mode):
        raise VolumeSetupError(name, f"hostPath type check failed: {path} is not a {what}")


class HostPath:
    field = "hostPath"
    plugin = "kubernetes.io~host-path"
    refreshes = False

    async def setup(
        self, ctx: VolumeContext, name: str, source: Mapping[str, Any], path: Path
    ) -> Prepared:
        host = str(source.get("path") or "")
        if ctx.host_fs:
            _check(name, host, str(source.get("type") or ""))
        return Prepared(host)

    async def teardown(self, path: Path) -> None:
        return None  # the node's own path is never removed
