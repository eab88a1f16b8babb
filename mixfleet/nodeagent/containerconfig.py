"""The last step before a container is created: what its spec only refers to is filled in
from this node and the cluster, as the kubelet's ``generateRunContainerOptions`` does: the
pod's volumes are set up and its ``volumeMounts`` become engine mounts, and its environment
is built from ``env`` and ``envFrom`` (``nodeagent/env.py``); and ``runAsNonRoot`` is checked
against the image's user (``nodeagent/security.py``). A failure is a
ContainerConfigError (``volumes/errors.py``), which keeps the container waiting with the
kubelet's reason and is retried."""

from __future__ import annotations

import dataclasses
from typing import Any, Awaitable, Callable, Mapping

from mixfleet.nodeagent import security
from mixfleet.nodeagent.engines.base import ContainerSpec
from mixfleet.nodeagent.env import EnvResolver
from mixfleet.nodeagent.volumes import VolumeManager


class ContainerConfigurer:
    def __init__(self, volumes: VolumeManager, env: EnvResolver, *, host_os: str = "linux",
                 image_user: Callable[[str], Awaitable[str]] | None = None) -> None:
        self.volumes = volumes
        self.env = env
        self.host_os = host_os
        self.image_user = image_user  # the engine's: who an image runs as (runAsNonRoot)

    async def configure(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], spec: ContainerSpec
    ) -> ContainerSpec:
        # Volumes first, as the kubelet waits for a pod's mounts before it configures any
        # container: a missing ConfigMap volume is ContainerCreating, a missing env key
        # CreateContainerConfigError.
        prepared = await self.volumes.prepare(pod)
        environment = await self.env.environment(pod, container)
        if self.image_user is not None:
            await security.verify_run_as_non_root(pod, container, host_os=self.host_os, image=spec.image,
                                                  image_user=self.image_user)
        return dataclasses.replace(spec, env=environment, mounts=self.volumes.mounts(container, prepared))
