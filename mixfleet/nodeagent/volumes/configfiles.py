"""``configMap`` and ``secret`` volumes: the object's keys as files (or only ``items``, each
key at its ``path``), with ``defaultMode``/``mode`` (0644 by default), written by the
atomic writer and written again on every refresh, so an edit reaches running containers
without a restart (a ``subPath`` mount keeps the file it started with, as on Kubernetes).
Mounted read-only. A Secret's volume is a tmpfs on Linux nodes where the agent may mount
(root), so its values never touch the disk, as the kubelet does. A missing object or item
key fails the set-up with the kubelet's words unless ``optional`` (then: an empty volume,
or the item left out)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from mixfleet.api.configdata import decoded
from mixfleet.nodeagent.volumes import atomic_writer
from mixfleet.nodeagent.volumes.emptydir import mount_tmpfs, unmount
from mixfleet.nodeagent.volumes.errors import VolumeSetupError
from mixfleet.nodeagent.volumes.sources import Prepared, VolumeContext

DEFAULT_MODE = 0o644


def _contents(kind: str, obj: Mapping[str, Any]) -> dict[str, bytes]:
    if kind == "Secret":
        return {k: decoded(v) or b"" for k, v in (obj.get("data") or {}).items()}
    out = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: decoded(v) or b"" for k, v in (obj.get("binaryData") or {}).items()})
    return out


def payload(kind: str, volume: str, source: Mapping[str, Any],
            obj: Mapping[str, Any] | None) -> dict[str, atomic_writer.File]:
    """The files of the volume (the kubelet's MakePayload)."""
    contents = _contents(kind, obj) if obj is not None else {}
    default = source.get("defaultMode")
    default = DEFAULT_MODE if default is None else int(default)
    items = source.get("items") or ()
    if not items:
        return {k: atomic_writer.File(v, default) for k, v in contents.items()}
    out = {}
    for it in items:
        key = str(it.get("key") or "")
        if key not in contents:
            if source.get("optional"):
                continue
            raise VolumeSetupError(volume, f"{kind.lower()} references non-existent {kind.lower()} key: {key}"
                                   if kind == "Secret" else f"configmap references non-existent config key: {key}")
        mode = it.get("mode")
        out[str(it.get("path"))] = atomic_writer.File(contents[key], default if mode is None else int(mode))
    return out


class _ObjectFiles:
    kind = ""
    name_field = ""
    refreshes = True

    async def setup(
        self, ctx: VolumeContext, name: str, source: Mapping[str, Any], path: Path
    ) -> Prepared:
        obj_name = str(source.get(self.name_field) or "")
        obj = await ctx.get_object(self.kind, ctx.namespace, obj_name)
        if obj is None and not source.get("optional"):
            raise VolumeSetupError(name, f'{self.kind.lower()} "{obj_name}" not found')
        files = payload(self.kind, name, source, obj)
        await self._prepare_dir(ctx, name, path)
        try:
            atomic_writer.write(path, files)
        except (OSError, ValueError) as e:
            raise VolumeSetupError(name, f"writing the volume's files: {e}") from e
        return Prepared(str(path), read_only=True)

    async def _prepare_dir(self, ctx: VolumeContext, name: str, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)

    async def teardown(self, path: Path) -> None:
        await unmount(path)


class ConfigMapFiles(_ObjectFiles):
    field = "configMap"
    plugin = "kubernetes.io~configmap"
    kind = "ConfigMap"
    name_field = "name"


class SecretFiles(_ObjectFiles):
    field = "secret"
    plugin = "kubernetes.io~secret"
    kind = "Secret"
    name_field = "secretName"

    async def _prepare_dir(self, ctx: VolumeContext, name: str, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if ctx.host_fs and ctx.host_os == "linux" and os.geteuid() == 0:
            await mount_tmpfs(name, path, mode="0755")
