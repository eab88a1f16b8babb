"""The volume source types, one small module each, and the one place they are registered.

A source type is the name of a field of a pod's ``spec.volumes[]`` entry (``emptyDir``,
``configMap``, ...) and an object that sets it up on this node. To add one (say
``persistentVolumeClaim``): write a class with the ``VolumeSource`` methods, and call
``register(Claim())`` at import in ``volumes/__init__.py``; the manager then sets it up
before the pod's containers are created, mounts it where ``volumeMounts`` ask, and tears it
down when the pod is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Protocol

from mixfleet.nodeagent.engines.base import Mount


# Reads a ConfigMap or Secret the pod refers to: the object, or None when it does not exist.
# Raises ContainerConfigError when the control plane cannot answer.
ObjectGetter = Callable[[str, str, str], Awaitable["Mapping[str, Any] | None"]]


@dataclass(frozen=True, slots=True)
class VolumeContext:
    """What a source may look at while it sets a volume up for one pod."""

    pod: Mapping[str, Any]
    namespace: str
    host_os: str  # the node's: linux | windows
    host_fs: bool  # False on simulated nodes: no host mounts, host paths are not checked
    get_object: ObjectGetter


@dataclass(frozen=True, slots=True)
class Prepared:
    """A volume ready on this node: the host path mounts bind (a directory, or a file for
    a hostPath File), or a tmpfs the engine makes per container."""

    source: str
    read_only: bool = False  # the source type allows reading only (configMap, secret)
    mount_type: str = "bind"  # bind | tmpfs

    def mount(self, target: str, *, read_only: bool, sub_path: str = "") -> Mount:
        source = self.source
        if sub_path:
            source = str(Path(source, sub_path))
        return Mount(target=target, source=source, type=self.mount_type,
                     read_only=read_only or self.read_only)


class VolumeSource(Protocol):
    field: str  # the spec.volumes[] field naming this type: "emptyDir"
    plugin: str  # the directory its volumes go in, under the pod's: "kubernetes.io~empty-dir"
    # Contents follow an API object: set up again on every refresh, so a running container
    # sees an edit without a restart (configMap, secret).
    refreshes: bool

    async def setup(
        self, ctx: VolumeContext, name: str, source: Mapping[str, Any], path: Path
    ) -> Prepared:
        """Make the volume ready at ``path`` (which the manager owns; a source that needs
        no directory of its own, like hostPath, may ignore it). Idempotent: called again on
        each container create and refresh. Raises VolumeSetupError."""
        ...

    async def teardown(self, path: Path) -> None:
        """Undo what setup did outside ``path``'s files (an unmount); the manager then
        removes the directory."""
        ...


SOURCES: dict[str, VolumeSource] = {}


def register(source: VolumeSource) -> None:
    """Make ``source`` a volume type this node honours (last registration of a field wins)."""
    SOURCES[source.field] = source


def source_of(volume: Mapping[str, Any]) -> tuple[VolumeSource, Mapping[str, Any]] | None:
    """The registered type a ``spec.volumes[]`` entry uses and its settings, or None."""
    for field, settings in volume.items():
        src = SOURCES.get(field)
        if src is not None and isinstance(settings, Mapping):
            return src, settings
    return None
