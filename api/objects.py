"""Small read helpers over object dicts (metadata accessors, owner references, timestamps)
and the two facts every component derives from a pod the same way: its OS and the
isolation it asks for. None of these mutate the object they are given."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

ISOLATION_ANNOTATION = "experimental.windows.kubernetes.io/isolation-type"
RUNTIME_CLASS_ISOLATION = {"runhcs-wcow-process": "process", "runhcs-wcow-hypervisor": "hyperv"}
OS_LABEL = "kubernetes.io/os"


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def meta(obj: dict) -> dict:
    return _map(obj.get("metadata"))


def name(obj: dict) -> str:
    return meta(obj).get("name") or ""


def namespace(obj: dict) -> str:
    return meta(obj).get("namespace") or ""


def uid(obj: dict) -> str:
    return meta(obj).get("uid") or ""


def labels(obj: dict) -> dict[str, str]:
    return _map(meta(obj).get("labels"))


def annotations(obj: dict) -> dict[str, str]:
    return _map(meta(obj).get("annotations"))


def describe(obj: dict) -> str:
    """``Pod/web-0`` as users see it in errors; ``Pod`` alone while the name is unknown."""
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else "Object"
    n = meta(obj).get("name")
    return f"{kind}/{n}" if isinstance(n, str) and n else kind


def new_uid() -> str:
    return str(uuid.uuid4())


def now() -> str:
    """The current time as Kubernetes writes timestamps: ``2024-05-01T12:00:00Z`` (UTC)."""
    return format_time(dt.datetime.now(dt.timezone.utc))


def format_time(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """An RFC 3339 timestamp (``Z`` or an offset, optional fraction) as an aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def owner_reference(owner: dict, *, controller: bool = True, block_owner_deletion: bool = True) -> dict:
    """The ownerReferences entry that makes ``owner`` (e.g. a ReplicaSet) own an object."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name(owner),
        "uid": uid(owner),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def owner_references(obj: dict) -> list[dict]:
    refs = meta(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def controller_of(obj: dict) -> dict | None:
    """The owner reference marked ``controller: true``, if any."""
    return next((r for r in owner_references(obj) if r.get("controller")), None)


def is_owned_by(obj: dict, owner: dict) -> bool:
    return any(r.get("uid") == uid(owner) for r in owner_references(obj)) if uid(owner) else False


def pod_os(pod: dict) -> str:
    """``linux`` or ``windows``: spec.platform.os, else spec.os.name, else the
    ``kubernetes.io/os`` node selector, else linux. Works on pods and pod templates."""
    spec = _map(pod.get("spec"))
    for candidate in (
        _map(spec.get("platform")).get("os"),
        _map(spec.get("os")).get("name"),
        _map(spec.get("nodeSelector")).get(OS_LABEL),
    ):
        if candidate in ("linux", "windows"):
            return candidate
    return "linux"


def isolation_from_pod(pod: dict) -> str | None:
    """``process``, ``hyperv`` or ``auto`` as the pod asks, or None when it does not say.
    spec.platform.isolation wins over runtimeClassName, which wins over the old annotation."""
    spec = _map(pod.get("spec"))
    explicit = _map(spec.get("platform")).get("isolation")
    if explicit in ("process", "hyperv", "auto"):
        return explicit
    from_class = RUNTIME_CLASS_ISOLATION.get(spec.get("runtimeClassName") or "")
    if from_class:
        return from_class
    if str(annotations(pod).get(ISOLATION_ANNOTATION, "")).lower() == "hyperv":
        return "hyperv"
    return None
