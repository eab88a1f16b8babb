"""PersistentVolumeClaim (v1): node-local persistent data, and the facts every part reads.

Mixfleet has no PersistentVolumes and no provisioners: a claim *is* a directory on one node.
It works like Kubernetes' local volumes with ``volumeBindingMode: WaitForFirstConsumer``:

- a new claim is ``Pending`` and bound to no node;
- the scheduler places the first pod that uses it and, in the same store transaction as that
  pod's binding, binds the claim to the pod's node: the annotation
  ``volume.kubernetes.io/selected-node`` (Kubernetes' own) and ``status.phase: Bound``;
- from then on the scheduler places the claim's pods only on that node, and the node's agent
  keeps the data (a directory named by the claim's uid) across pod deletions;
- the finalizer ``kubernetes.io/pvc-protection`` (Kubernetes' own) keeps a claim that a pod
  uses from going away under it; once no pod uses it the claim is removed, and the agent
  removes its data.

Honoured spec fields: ``accessModes`` (``ReadWriteOnce``: one node, any number of its pods),
``resources.requests.storage`` (required; reported as the claim's capacity; not enforced as a
quota, as for Kubernetes' hostPath and local volumes), ``storageClassName`` (``local``, the
default) and ``volumeMode`` (``Filesystem``). Everything else is refused, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mixfleet.api import quantity
from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item, sub
from mixfleet.api.types import ObjView

KIND = "PersistentVolumeClaim"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
STORAGE_CLASS = "local"
ACCESS_MODES = ("ReadWriteOnce",)
VOLUME_MODES = ("Filesystem",)
# Modes Kubernetes has that a directory on one node cannot give, and why.
_REFUSED_MODES = {
    "ReadOnlyMany": "the data lives on one node; pods on other nodes cannot mount it",
    "ReadWriteMany": "the data lives on one node; pods on other nodes cannot mount it",
    "ReadWriteOncePod": "not supported by Mixfleet (use ReadWriteOnce: one node, any of its pods)",
}
PENDING, BOUND = "Pending", "Bound"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pod_claims(pod: ObjView) -> tuple[str, ...]:
    """The claim names a pod's volumes use, in order, each once."""
    spec = _map(pod.get("spec"))
    names: dict[str, None] = {}
    for v in spec.get("volumes") or ():
        claim = _map(_map(v).get("persistentVolumeClaim")).get("claimName")
        if isinstance(claim, str) and claim:
            names[claim] = None
    return tuple(names)


def selected_node(claim: ObjView) -> str | None:
    """The node a claim is bound to, or None while it waits for its first pod."""
    node = _map(_map(claim.get("metadata")).get("annotations")).get(SELECTED_NODE)
    return node if isinstance(node, str) and node else None


def deleting(claim: ObjView) -> bool:
    return bool(_map(claim.get("metadata")).get("deletionTimestamp"))


def requested_storage(claim: ObjView) -> str | None:
    raw = _map(_map(_map(claim.get("spec")).get("resources")).get("requests")).get("storage")
    return str(raw) if raw is not None else None


def bound_status(claim: ObjView) -> dict[str, Any]:
    """The status of a claim bound to a node: phase Bound, the requested capacity and modes."""
    spec = _map(claim.get("spec"))
    status: dict[str, Any] = {"phase": BOUND, "accessModes": list(spec.get("accessModes") or ACCESS_MODES)}
    storage = requested_storage(claim)
    if storage is not None:
        status["capacity"] = {"storage": storage}
    return status


def bound_to(claim: ObjView, node: str) -> dict[str, Any]:
    """A copy of ``claim`` bound to ``node`` (annotation and status), as the scheduler writes it."""
    meta = dict(_map(claim.get("metadata")))
    meta["annotations"] = {**_map(meta.get("annotations")), SELECTED_NODE: node}
    return {**claim, "metadata": meta, "status": bound_status(claim)}


def apply_defaults(claim: dict[str, Any]) -> None:
    """In place: the storage class and volume mode Kubernetes would default, and the
    protection finalizer on every claim not being deleted (Kubernetes' admission adds it on
    create, and its pvc-protection controller adds it back if removed)."""
    spec = claim.get("spec")
    if isinstance(spec, dict):
        if spec.get("storageClassName") is None:
            spec["storageClassName"] = STORAGE_CLASS
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = VOLUME_MODES[0]
    meta = claim.get("metadata")
    if isinstance(meta, dict) and not meta.get("deletionTimestamp"):
        finalizers = meta.get("finalizers")
        if finalizers is None:
            meta["finalizers"] = [PROTECTION_FINALIZER]
        elif isinstance(finalizers, list) and PROTECTION_FINALIZER not in finalizers:
            meta["finalizers"] = [*finalizers, PROTECTION_FINALIZER]


def validate(claim: dict[str, Any], errs: list[FieldError]) -> None:
    spec = claim.get("spec")
    if not isinstance(spec, dict):
        if spec is None:
            errs.append(FieldError("spec", "required value"))
        return
    _access_modes(spec.get("accessModes"), errs)
    storage = _map(_map(spec.get("resources")).get("requests")).get("storage")
    path = sub("spec", "resources", "requests", "storage")
    if storage is None:
        errs.append(FieldError(path, "required value"))
    else:
        try:
            if quantity.parse(storage) <= 0:
                errs.append(FieldError(path, f'invalid value "{storage}": must be greater than zero'))
        except ValueError:
            pass  # the schema reports a bad quantity
    cls = spec.get("storageClassName")
    if isinstance(cls, str) and cls != STORAGE_CLASS:
        errs.append(FieldError(
            "spec.storageClassName",
            f'"{cls}" is not supported by Mixfleet (supported: "{STORAGE_CLASS}": a directory on the '
            "node of the claim's first pod)",
        ))
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in VOLUME_MODES:
        errs.append(FieldError("spec.volumeMode", f'"{mode}" is not supported by Mixfleet (supported: "Filesystem")'))


def _access_modes(modes: Any, errs: list[FieldError]) -> None:
    if not modes:
        errs.append(FieldError("spec.accessModes", "at least 1 access mode is required"))
        return
    if not isinstance(modes, list):
        return
    for i, mode in enumerate(modes):
        if not isinstance(mode, str) or mode in ACCESS_MODES:
            continue
        why = _REFUSED_MODES.get(mode)
        if why is None:
            errs.append(FieldError(item("spec.accessModes", i), f'unsupported value "{mode}": supported values: '
                                                                  '"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", '
                                                                  '"ReadWriteOncePod"'))
        else:
            errs.append(FieldError(item("spec.accessModes", i), f'"{mode}" is not supported by Mixfleet: {why}'))


def validate_update(old: ObjView, new: ObjView) -> list[FieldError]:
    """A claim's spec never changes, and neither does the node it is bound to."""
    if old.get("kind") != KIND:
        return []
    errs = []
    if old.get("spec") != new.get("spec"):
        errs.append(FieldError("spec", "field is immutable after creation"))
    node = selected_node(old)
    if node is not None and selected_node(new) != node:
        errs.append(FieldError(child(sub("metadata", "annotations"), SELECTED_NODE),
                               f'the claim is bound to node "{node}": field is immutable'))
    return errs
