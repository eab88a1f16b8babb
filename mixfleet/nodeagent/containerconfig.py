"""The last step before a container is created: what its spec only refers to is filled in
from this node and the cluster, as the kubelet's ``generateRunContainerOptions`` does: the
pod's volumes are set up and its ``volumeMounts`` become engine mounts. A failure is a
ContainerConfigError (``volumes/errors.py``), which keeps the container waiting with the
kubelet's reason and is retried."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from mixfleet.nodeagent.engines.base import ContainerSpec
from mixfleet.nodeagent.volumes import VolumeManager


class ContainerConfigurer:
    def __init__(self, volumes: VolumeManager) -> None:
        self.volumes = volumes

    async def configure(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], spec: ContainerSpec
    ) -> ContainerSpec:
        prepared = await self.volumes.prepare(pod)
        return dataclasses.replace(spec, mounts=self.volumes.mounts(container, prepared))
