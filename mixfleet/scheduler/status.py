"""Typed outcomes of a check, and every reason string the scheduler can report.

A check never raises to say "does not fit": it returns a :class:`Status`. The code tells
the caller whether waiting can help:

* ``UNSCHEDULABLE``: may change as pods come and go or a node recovers (resources,
  anti-affinity, cordoned, NotReady, disk pressure);
* ``UNRESOLVABLE``: this node will never run this pod as specified (OS, architecture,
  Windows build, kernel, labels, taints);
* ``ERROR``: the pod itself cannot be understood (a bad quantity or version): a bug to
  report, not a placement to retry.

Reasons are named templates so that failures sum up across nodes, kubectl style.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Code(enum.Enum):
    UNSCHEDULABLE = "Unschedulable"
    UNRESOLVABLE = "UnschedulableAndUnresolvable"
    ERROR = "Error"


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reason: str

    @classmethod
    def unschedulable(cls, reason: str) -> Status:
        return cls(Code.UNSCHEDULABLE, reason)

    @classmethod
    def unresolvable(cls, reason: str) -> Status:
        return cls(Code.UNRESOLVABLE, reason)


# Node state.
NODE_CORDONED = "node is cordoned (unschedulable)"
NODE_NOT_READY = "node is not ready"
NODE_DISK_PRESSURE = "node has disk pressure"
# Platform.
NODE_OS = "node OS is {node}, pod needs {pod}"
NODE_ARCH = "node architecture is {node}, pod needs {pod}"
NO_LCOW = "node OS is windows and does not run Linux containers (no LCOW)"
NODE_BUILD_UNKNOWN = "node did not report its Windows build"
PROCESS_BUILD = "host build {host} cannot run image build {image} with process isolation"
HYPERV_BUILD = "host build {host} cannot run image build {image} with Hyper-V isolation"
NO_HYPERV = "node does not support Hyper-V isolation"
NO_PROCESS = "node does not support process isolation"
CLIENT_NO_PROCESS = "Windows client build {host} cannot run process-isolated containers"
KERNEL_TOO_OLD = "node kernel {node} is older than {pod}"
KERNEL_UNKNOWN = "node did not report its kernel version"
# Labels and taints.
NODE_SELECTOR = "node(s) didn't match Pod's node affinity/selector"
UNTOLERATED_TAINT = "node(s) had untolerated taint {{{taint}}}"
# Per node.
INSUFFICIENT_CPU = "insufficient cpu"
INSUFFICIENT_MEMORY = "insufficient memory"
TOO_MANY_PODS = "too many pods"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict"
# For every node at once (volume_binding.prefilter), Kubernetes' words.
CLAIM_NOT_FOUND = 'persistentvolumeclaim "{name}" not found'
CLAIM_DELETING = 'persistentvolumeclaim "{name}" is being deleted'
# No nodes at all.
NO_NODES = "no nodes available to schedule pods"
