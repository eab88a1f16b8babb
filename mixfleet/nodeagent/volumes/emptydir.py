"""``emptyDir``: a directory of the pod's own, shared by its containers, gone with the pod.
``medium: Memory`` is a tmpfs mounted on that directory on the host (as the kubelet does), so
every container of the pod sees the same memory-backed files; ``sizeLimit`` is its size.
On simulated nodes (no host mounts) it is a plain directory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Mapping

from mixfleet.api import quantity
from mixfleet.nodeagent.volumes.errors import VolumeSetupError
from mixfleet.nodeagent.volumes.sources import Prepared, VolumeContext

_MOUNT_TIMEOUT_SECONDS = 10.0


async def _run(name: str, *argv: str) -> None:
    """Run mount/umount with a deadline; raise VolumeSetupError with its own words."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), _MOUNT_TIMEOUT_SECONDS)
    except (OSError, asyncio.TimeoutError) as e:
        raise VolumeSetupError(name, f"{argv[0]}: {e or 'timed out'}") from e
    if proc.returncode != 0:
        raise VolumeSetupError(name, f"{' '.join(argv[:3])}: {err.decode(errors='replace').strip()}")


async def mount_tmpfs(name: str, path: Path, *, mode: str = "0777", size: int | None = None) -> None:
    """A tmpfs on ``path`` unless one is there already (a restarted agent's)."""
    if os.path.ismount(path):
        return
    opts = f"mode={mode}" + (f",size={size}" if size else "")
    await _run(name, "mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path))


async def unmount(path: Path) -> None:
    if os.path.ismount(path):
        await _run(path.name, "umount", str(path))


class EmptyDir:
    field = "emptyDir"
    plugin = "kubernetes.io~empty-dir"
    refreshes = False

    async def setup(
        self, ctx: VolumeContext, name: str, source: Mapping[str, Any], path: Path
    ) -> Prepared:
        try:
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)  # any container user may write, as the kubelet makes it
        except OSError as e:
            raise VolumeSetupError(name, str(e)) from e
        if source.get("medium") == "Memory" and ctx.host_fs:
            limit = source.get("sizeLimit")
            await mount_tmpfs(name, path, size=quantity.memory_bytes(limit) if limit else None)
        return Prepared(str(path))

    async def teardown(self, path: Path) -> None:
        await unmount(path)
