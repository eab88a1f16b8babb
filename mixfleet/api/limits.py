"""Limits on what one request or one object may hold, so that no single user's input can
exhaust the control plane's memory or the store (each overridable by a control-plane flag).

The replicas per workload: a Deployment of ``replicas: 1000000000`` is valid by the schema,
but its ReplicaSet would write pods until the store or the scheduler fell over, and deleting
it again would take hours: such a request is refused up front, naming the field and the
limit (``--max-replicas``). Only users' writes are checked, so a workload accepted under a
higher limit keeps running after the limit is lowered.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixfleet.api.errors import FieldError
from mixfleet.api.types import ObjView

# etcd refuses requests above 1.5 MiB (--max-request-bytes), and the Kubernetes API server
# holds objects to that size for the same reason: every version of an object is kept in the
# watch cache and the store's history, so a 50 MB object costs gigabytes. Measured on the
# encoded object as stored.
MAX_OBJECT_BYTES = 1536 * 1024


def mebibytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


# Manifests (mixctl apply and the server's decoding): a YAML alias bomb is a few hundred bytes
# that stand for billions of values (each alias repeats a whole subtree), and walking it froze
# mixctl for minutes and took gigabytes; a document nested thousands deep breaks every
# recursive reader after it (printing it as YAML, for one). Kubernetes objects nest about 15
# deep and a large List holds a few hundred thousand values.
MAX_NESTING_DEPTH = 100
MAX_DOCUMENT_VALUES = 1_000_000  # counted with every alias expanded
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


# Replicas per workload (the module docstring says why).
MAX_REPLICAS_PER_WORKLOAD = 10_000
_REPLICATED_KINDS = ("Deployment", "ReplicaSet")


@dataclass(frozen=True, slots=True)
class Limits:
    max_replicas: int = MAX_REPLICAS_PER_WORKLOAD

    def __post_init__(self) -> None:
        if self.max_replicas < 1:
            raise ValueError(f"--max-replicas must be at least 1, got {self.max_replicas}")


DEFAULT = Limits()


def errors(obj: ObjView, limits: Limits) -> list[FieldError]:
    """What ``obj`` (already validated: ``spec.replicas`` is an int if set) asks beyond
    ``limits``."""
    if obj.get("kind") in ("Job", "CronJob"):
        return _job_errors(obj, limits)
    if obj.get("kind") not in _REPLICATED_KINDS:
        return []
    replicas = (obj.get("spec") or {}).get("replicas")
    if isinstance(replicas, int) and replicas > limits.max_replicas:
        return [FieldError(
            "spec.replicas",
            f"{replicas} is above the limit of {limits.max_replicas} replicas per workload "
            "(--max-replicas)",
        )]
    return []


def _job_errors(obj: ObjView, limits: Limits) -> list[FieldError]:
    """A Job's parallelism is how many pods it runs at once: the same bound as replicas."""
    spec = obj.get("spec") or {}
    path = "spec"
    if obj.get("kind") == "CronJob":
        spec, path = (spec.get("jobTemplate") or {}).get("spec") or {}, "spec.jobTemplate.spec"
    value = spec.get("parallelism")
    if isinstance(value, int) and value > limits.max_replicas:
        return [FieldError(
            f"{path}.parallelism",
            f"{value} is above the limit of {limits.max_replicas} pods per workload (--max-replicas)",
        )]
    return []
