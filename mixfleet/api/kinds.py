"""The kinds Mixfleet serves, their names as users type them, and where they live in the store.

Objects are plain Kubernetes-shaped dicts (``apiVersion``, ``kind``, ``metadata``, ``spec``,
``status``). This module is the one place that knows each kind's plural, short names,
whether it is namespaced, and its store key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REGISTRY_PREFIX = "/registry/"


class UnknownKindError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f'the server doesn\'t have a resource type "{name}" '
            f"(known: {', '.join(sorted(k.plural for k in KINDS))})"
        )
        self.name = name


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str  # e.g. "Pod"
    api_version: str  # e.g. "v1"
    plural: str  # e.g. "pods"
    short_names: tuple[str, ...]
    namespaced: bool
    has_status: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def prefix(self, namespace: str | None = None) -> str:
        """Store key prefix for listing: all namespaces when namespace is None/empty."""
        base = f"{REGISTRY_PREFIX}{self.plural}/"
        if self.namespaced and namespace:
            return f"{base}{namespace}/"
        return base

    def key(self, name: str, namespace: str | None = None) -> str:
        if self.namespaced:
            return f"{REGISTRY_PREFIX}{self.plural}/{namespace or 'default'}/{name}"
        return f"{REGISTRY_PREFIX}{self.plural}/{name}"


KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "v1", "namespaces", ("ns",), namespaced=False),
    Kind("Node", "v1", "nodes", ("no",), namespaced=False),
    Kind("Pod", "v1", "pods", ("po",), namespaced=True),
    Kind("Deployment", "apps/v1", "deployments", ("deploy",), namespaced=True),
    Kind("ReplicaSet", "apps/v1", "replicasets", ("rs",), namespaced=True),
    Kind("Event", "v1", "events", ("ev",), namespaced=True, has_status=False),
    Kind("Lease", "coordination.k8s.io/v1", "leases", (), namespaced=True, has_status=False),
    Kind("ConfigMap", "v1", "configmaps", ("cm",), namespaced=True, has_status=False),
    Kind("Secret", "v1", "secrets", (), namespaced=True, has_status=False),
    Kind("PersistentVolumeClaim", "v1", "persistentvolumeclaims", ("pvc",), namespaced=True),
    Kind("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", (), namespaced=True,
         has_status=False),
    Kind("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", (),
         namespaced=False, has_status=False),
    Kind("Job", "batch/v1", "jobs", (), namespaced=True),
    Kind("CronJob", "batch/v1", "cronjobs", ("cj",), namespaced=True),
    Kind("DaemonSet", "apps/v1", "daemonsets", ("ds",), namespaced=True),
    # A Windows gMSA credential spec, as the windows-gmsa project's CRD has it (controlplane/gmsa.py).
    Kind("GMSACredentialSpec", "windows.k8s.io/v1", "gmsacredentialspecs", (), namespaced=False,
         has_status=False),
)

_BY_NAME: dict[str, Kind] = {}
for _k in KINDS:
    for _n in (_k.kind.lower(), _k.plural, _k.singular, *_k.short_names):
        _BY_NAME[_n] = _k

ACCEPTED_API_VERSIONS: dict[str, tuple[str, ...]] = {
    "Namespace": ("v1",),
    "Node": ("v1",),
    "Pod": ("v1",),
    "Deployment": ("apps/v1",),
    "ReplicaSet": ("apps/v1",),
    "Event": ("v1", "events.k8s.io/v1"),
    "Lease": ("coordination.k8s.io/v1",),
    "ConfigMap": ("v1",),
    "Secret": ("v1",),
    "PersistentVolumeClaim": ("v1",),
    "RoleBinding": ("rbac.authorization.k8s.io/v1",),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1",),
    "Job": ("batch/v1",),
    "CronJob": ("batch/v1",),
    "DaemonSet": ("apps/v1",),
    "GMSACredentialSpec": ("windows.k8s.io/v1",),
}


def lookup(name: str) -> Kind:
    """Resolve what a user typed (``po``, ``pods``, ``Pod``, ``deployments.apps``)."""
    key = name.strip().lower().split(".", 1)[0]
    try:
        return _BY_NAME[key]
    except KeyError:
        raise UnknownKindError(name) from None


def by_kind(kind: str) -> Kind:
    """Resolve an object's ``kind`` field exactly (``Pod``)."""
    for k in KINDS:
        if k.kind == kind:
            return k
    raise UnknownKindError(kind)


def key_for(obj: dict[str, Any]) -> str:
    k = by_kind(obj["kind"])
    meta = obj.get("metadata") or {}
    return k.key(meta["name"], meta.get("namespace"))
