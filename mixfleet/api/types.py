"""Typed views of the API objects Mixfleet moves around: one definition each, instead of
``dict[str, Any]`` redefined in every module.

Objects travel as JSON-shaped dicts (that is what the store holds and the wire carries), so
these are TypedDicts over those dicts, not classes that copy them: a function that takes a
``Pod`` reads ``pod["spec"]["nodeName"]`` with the key checked by mypy, at no cost at run
time. Every key is optional (``total=False``) because a dict read from a manifest or an old
store entry may lack any of them; readers use ``.get``. ``Obj`` is any object of any kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

Obj = dict[str, Any]
"""Any API object, as a JSON-shaped dict (writable: a copy the caller owns)."""

ObjView = Mapping[str, Any]
"""Any API object, read only (e.g. one held by an informer cache, never to be mutated)."""


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]


class Condition(TypedDict, total=False):
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    lastTransitionTime: str
    lastHeartbeatTime: str
    lastUpdateTime: str


class ImageOverride(TypedDict, total=False):
    osVersion: str
    image: str
    container: str


class PodPlatform(TypedDict, total=False):
    """Mixfleet's own pod fields (docs/MANIFESTS.md)."""

    os: str  # linux | windows
    isolation: str  # process | hyperv | auto
    osVersion: str  # the image's Windows version
    minKernelVersion: str
    imageOverrides: list[ImageOverride]


class PodBinding(TypedDict, total=False):
    """What the scheduler decided besides the node: the isolation and the image per container."""

    isolation: str
    images: dict[str, str]


class Container(TypedDict, total=False):
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[dict[str, Any]]
    ports: list[dict[str, Any]]
    resources: dict[str, dict[str, str]]
    readinessProbe: dict[str, Any]


class PodSpec(TypedDict, total=False):
    containers: list[Container]
    initContainers: list[Container]
    nodeName: str
    nodeSelector: dict[str, str]
    affinity: dict[str, Any]
    tolerations: list[dict[str, Any]]
    runtimeClassName: str
    os: dict[str, str]
    platform: PodPlatform
    binding: PodBinding
    schedulingStrategy: str
    restartPolicy: str
    terminationGracePeriodSeconds: int


class PodStatus(TypedDict, total=False):
    phase: str
    conditions: list[Condition]
    containerStatuses: list[dict[str, Any]]
    message: str
    reason: str
    hostIP: str
    podIP: str
    startTime: str


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class NodePlatform(TypedDict, total=False):
    """What a node agent reports about its host beyond nodeInfo (``status.platform``)."""

    kernelVersion: str  # Linux: uname -r
    osVersion: str  # Windows: 10.0.20348.2655
    osBuild: int
    windowsEdition: str  # server | client
    isolationModes: list[str]  # process, hyperv
    defaultIsolation: str
    hypervOverhead: dict[str, str]  # cpu, memory per Hyper-V container
    lcow: bool
    simulated: bool


class NodeImage(TypedDict, total=False):
    names: list[str]
    os: str
    architecture: str
    osVersion: str
    sizeBytes: int


class Taint(TypedDict, total=False):
    key: str
    value: str
    effect: str
    timeAdded: str


class NodeSpec(TypedDict, total=False):
    taints: list[Taint]
    unschedulable: bool


class NodeStatus(TypedDict, total=False):
    capacity: dict[str, str]
    allocatable: dict[str, str]
    conditions: list[Condition]
    nodeInfo: dict[str, str]
    platform: NodePlatform
    images: list[NodeImage]
    daemonEndpoint: str


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: NodeStatus
