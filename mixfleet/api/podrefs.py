"""The Secrets, ConfigMaps and PersistentVolumeClaims a pod refers to, wherever its spec
may name them (volumes, projected volumes, env, envFrom, imagePullSecrets), as Kubernetes'
node authorizer graph collects them: a node may read exactly these objects of the pods
bound to it. Reads every Kubernetes shape, whether or not Mixfleet honours it yet, so a
field honoured later is covered without a change here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

SECRET = "Secret"
CONFIGMAP = "ConfigMap"
PVC = "PersistentVolumeClaim"


def _maps(value: Any) -> Iterator[Mapping[str, Any]]:
    for v in value if isinstance(value, list) else ():
        if isinstance(v, dict):
            yield v


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(value: Any, key: str = "name") -> str:
    name = _map(value).get(key)
    return name if isinstance(name, str) else ""


def references(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every Secret, ConfigMap and PVC ``pod`` refers to; all live in the
    pod's own namespace."""
    spec = _map(pod.get("spec"))
    refs: set[tuple[str, str]] = set()
    for s in _maps(spec.get("imagePullSecrets")):
        refs.add((SECRET, _name(s)))
    for v in _maps(spec.get("volumes")):
        refs.add((SECRET, _name(v.get("secret"), "secretName")))
        refs.add((CONFIGMAP, _name(v.get("configMap"))))
        refs.add((PVC, _name(v.get("persistentVolumeClaim"), "claimName")))
        for source in _maps(_map(v.get("projected")).get("sources")):
            refs.add((SECRET, _name(source.get("secret"))))
            refs.add((CONFIGMAP, _name(source.get("configMap"))))
        for driver in ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos",
                       "azureFile", "csi"):
            ref = _map(v.get(driver))
            refs.add((SECRET, _name(ref.get("secretRef")) or _name(ref.get("nodePublishSecretRef"))
                      or _name(ref, "secretName")))
    for c in (*_maps(spec.get("containers")), *_maps(spec.get("initContainers")),
              *_maps(spec.get("ephemeralContainers"))):
        for env in _maps(c.get("env")):
            source = _map(env.get("valueFrom"))
            refs.add((SECRET, _name(source.get("secretKeyRef"))))
            refs.add((CONFIGMAP, _name(source.get("configMapKeyRef"))))
        for env_from in _maps(c.get("envFrom")):
            refs.add((SECRET, _name(env_from.get("secretRef"))))
            refs.add((CONFIGMAP, _name(env_from.get("configMapRef"))))
    return {(kind, name) for kind, name in refs if name}
