"""What keeps a container from being created before the engine is even asked: its
configuration (env from a missing ConfigMap or Secret key) or a volume that cannot be set
up. Each carries the kubelet's reason and message, shown as the container's ``waiting``
state; no message ever holds a Secret's value (only names and keys)::

    ContainerConfigError        reason CreateContainerConfigError (env, subPath)
    └── VolumeSetupError        reason ContainerCreating: MountVolume.SetUp failed ...
"""

from __future__ import annotations


class ContainerConfigError(Exception):
    reason = "CreateContainerConfigError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VolumeSetupError(ContainerConfigError):
    """The pod waits in ContainerCreating, as the kubelet's pods do on a failed mount."""

    reason = "ContainerCreating"

    def __init__(self, volume: str, problem: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {problem}')
        self.volume = volume
