"""The last step before a container is created: what its spec only refers to is filled in
from this node and the cluster, as the kubelet's ``generateRunContainerOptions`` does: the
pod's volumes are set up and its ``volumeMounts`` become engine mounts, and its environment
is built from ``env`` and ``envFrom`` (``nodeagent/env.py``). A failure is a
ContainerConfigError (``volumes/errors.py``), which keeps the container waiting with the
kubelet's reason and is retried."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from mixfleet.nodeagent.engines.base import ContainerSpec
from mixfleet.nodeagent.env import EnvResolver
from mixfleet.nodeagent.volumes import VolumeManager


class ContainerConfigurer:
    def __init__(self, volumes: VolumeManager, env: EnvResolver) -> None:
        self.volumes = volumes
        self.env = env

    async def configure(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], spec: ContainerSpec
    ) -> ContainerSpec:
        # Volumes first, as the kubelet waits for a pod's mounts before it configures any
        # container: a missing ConfigMap volume is ContainerCreating, a missing env key
        # CreateContainerConfigError.
        prepared = await self.volumes.prepare(pod)
        environment = await self.env.environment(pod, container)
        return dataclasses.replace(spec, env=environment, mounts=self.volumes.mounts(container, prepared))
