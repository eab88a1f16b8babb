"""Pod volumes on a node: the manager (``manager.py``), the source types registered below
(one module each), and the kubelet's atomic writer for ConfigMap and Secret files. See
``sources.py`` for how to add a source type."""

from mixfleet.nodeagent.volumes.claim import Claim
from mixfleet.nodeagent.volumes.configfiles import ConfigMapFiles, SecretFiles
from mixfleet.nodeagent.volumes.emptydir import EmptyDir
from mixfleet.nodeagent.volumes.errors import ContainerConfigError, VolumeSetupError
from mixfleet.nodeagent.volumes.hostpath import HostPath
from mixfleet.nodeagent.volumes.manager import VolumeManager
from mixfleet.nodeagent.volumes.sources import Prepared, VolumeContext, VolumeSource, register

register(EmptyDir())
register(HostPath())
register(Claim())
register(ConfigMapFiles())
register(SecretFiles())

__all__ = [
    "ContainerConfigError",
    "Prepared",
    "VolumeContext",
    "VolumeManager",
    "VolumeSetupError",
    "VolumeSource",
    "register",
]
