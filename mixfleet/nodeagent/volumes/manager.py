"""The node's volume manager, like the kubelet's: sets up a pod's volumes before its
containers are created, turns ``volumeMounts`` into engine mounts, refreshes volumes whose
contents follow an API object (so an edited ConfigMap reaches running containers without
a restart), and removes a pod's volumes once the pod and its containers are gone.

Every volume the manager owns lives under the agent's directory, as the kubelet's do under
``/var/lib/kubelet``: ``<root>/pods/<pod uid>/volumes/<plugin>/<volume name>``. State is
only there and in the cluster: a restarted agent finds the directories and adopts them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

from mixfleet.api.pods import key as pod_uid
from mixfleet.nodeagent.engines.base import Mount
from mixfleet.nodeagent.volumes import ownership
from mixfleet.nodeagent.volumes.errors import ContainerConfigError, VolumeSetupError
from mixfleet.nodeagent.volumes.sources import (
    SOURCES,
    ObjectGetter,
    Prepared,
    VolumeContext,
    source_of,
)
from mixfleet.util import log

_log = log.get("nodeagent.volumes")


async def _no_objects(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
    raise ContainerConfigError(f"cannot read {kind} {namespace}/{name}: no control plane")


class VolumeManager:
    def __init__(
        self,
        root: str | Path,
        *,
        host_os: str = "linux",
        host_fs: bool = True,
        get_object: ObjectGetter = _no_objects,
    ) -> None:
        # Absolute: volumes reach the engine as bind mounts, which Docker refuses relative
        # (`mixfleet dev` keeps its state in ./.mixfleet by default).
        self.root = Path(root).absolute()
        self.host_os = host_os
        self.host_fs = host_fs
        self.get_object = get_object

    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    def _context(self, pod: Mapping[str, Any]) -> VolumeContext:
        ns = str((pod.get("metadata") or {}).get("namespace") or "default")
        return VolumeContext(pod, ns, self.host_os, self.host_fs, self.get_object)

    async def prepare(self, pod: Mapping[str, Any], *, only_refreshing: bool = False
                      ) -> dict[str, Prepared]:
        """Set up every volume of the pod (idempotent). Raises VolumeSetupError."""
        ctx, uid = self._context(pod), pod_uid(pod)
        out: dict[str, Prepared] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or ():
            name = str(volume.get("name") or "")
            found = source_of(volume)
            if found is None:  # validation refuses these: say so rather than mount nothing
                raise VolumeSetupError(name, "volume type not supported on this node")
            src, settings = found
            if only_refreshing and not src.refreshes:
                continue
            path = self.pod_dir(uid) / "volumes" / src.plugin / name
            out[name] = await src.setup(ctx, name, settings, path)
            if src.field in ownership.FS_GROUP_TYPES:
                await ownership.apply(name, Path(out[name].source), pod, read_only=out[name].read_only)
        return out

    def mounts(
        self, container: Mapping[str, Any], prepared: Mapping[str, Prepared]
    ) -> tuple[Mount, ...]:
        """The engine mounts of one container's ``volumeMounts``. Raises
        ContainerConfigError for a subPath that cannot be used, as the kubelet does."""
        out = []
        for m in container.get("volumeMounts") or ():
            name, target = str(m.get("name")), str(m.get("mountPath"))
            vol = prepared.get(name)
            if vol is None:
                raise ContainerConfigError(f'unable to find volume "{name}" for volumeMount {target}')
            sub = str(m.get("subPath") or "")
            if sub and vol.mount_type == "bind" and self.host_fs:
                _ensure_sub_path(vol.source, sub, name)
            out.append(vol.mount(target, read_only=bool(m.get("readOnly")), sub_path=sub))
        return tuple(out)

    async def refresh(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Set up again the volumes that follow API objects, for pods already set up here;
        a failure keeps the old contents (the kubelet's way) and is logged."""
        for pod in pods:
            if not self.pod_dir(pod_uid(pod)).is_dir():
                continue
            try:
                await self.prepare(pod, only_refreshing=True)
            except ContainerConfigError as e:
                meta = pod.get("metadata") or {}
                _log.warning("volume.refresh_failed", pod=f"{meta.get('namespace')}/{meta.get('name')}",
                             error=e.message)

    def known_pods(self) -> set[str]:
        try:
            return {p.name for p in (self.root / "pods").iterdir() if p.is_dir()}
        except FileNotFoundError:
            return set()

    async def cleanup(self, keep: set[str]) -> None:
        """Remove the volumes of every pod here whose uid is not in ``keep`` (pods still
        bound here, or whose containers still exist)."""
        for uid in sorted(self.known_pods() - keep):
            await self.remove_pod(uid)

    async def remove_pod(self, uid: str) -> None:
        pod_dir = self.pod_dir(uid)
        by_plugin = {s.plugin: s for s in SOURCES.values()}
        try:
            for plugin_dir in (pod_dir / "volumes").glob("*"):
                src = by_plugin.get(plugin_dir.name)
                if src is None:
                    continue  # a type no longer registered: its files go with the directory
                for vol in plugin_dir.iterdir():
                    await src.teardown(vol)
            shutil.rmtree(pod_dir)
        except (OSError, VolumeSetupError) as e:
            _log.warning("volume.cleanup_failed", pod_uid=uid, error=str(e))
            return
        _log.info("volume.pod_removed", pod_uid=uid)


def _ensure_sub_path(volume_path: str, sub: str, name: str) -> None:
    """The kubelet makes a missing subPath directory, and refuses one that leads out of
    its volume (a symlink pointing elsewhere)."""
    base = os.path.realpath(volume_path)
    if not os.path.isdir(base):
        return  # a file volume (hostPath File): nothing to make
    full = os.path.join(volume_path, sub)
    if not os.path.lexists(full):
        try:
            os.makedirs(full, mode=0o755, exist_ok=True)
        except OSError as e:
            raise ContainerConfigError(f"failed to prepare subPath for volumeMount of volume "
                                       f'"{name}": {e.strerror}') from e
    real = os.path.realpath(full)
    if real != base and not real.startswith(base + os.sep):
        raise ContainerConfigError(f'subPath "{sub}" of volume "{name}" leads outside the volume')
