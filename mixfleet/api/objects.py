"""Small read helpers over object dicts: metadata accessors, owner references, generated
names. None of these mutate the object they are given. Pod facts are in
:mod:`mixfleet.api.pods`, timestamps in :mod:`mixfleet.api.times`."""

import secrets
import uuid
from typing import Any

from mixfleet.api.types import ObjView

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' vowel-free suffix alphabet


def as_map(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one: reads of optional sub-objects."""
    return value if isinstance(value, dict) else {}


def meta(obj: ObjView) -> dict[str, Any]:
    return as_map(obj.get("metadata"))


def name(obj: ObjView) -> str:
    return meta(obj).get("name") or ""


def namespace(obj: ObjView) -> str:
    return meta(obj).get("namespace") or ""


def uid(obj: ObjView) -> str:
    return meta(obj).get("uid") or ""


def labels(obj: ObjView) -> dict[str, str]:
    return as_map(meta(obj).get("labels"))


def annotations(obj: ObjView) -> dict[str, str]:
    return as_map(meta(obj).get("annotations"))


def describe(obj: ObjView) -> str:
    """``Pod/web-0`` as users see it in errors; ``Pod`` alone while the name is unknown."""
    kind = str(obj["kind"]) if isinstance(obj.get("kind"), str) else "Object"
    n = meta(obj).get("name")
    return f"{kind}/{n}" if isinstance(n, str) and n else kind


def new_uid() -> str:
    return str(uuid.uuid4())


def random_suffix(n: int = 5) -> str:
    """A name suffix as Kubernetes generates them (``web-7d9fx``)."""
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(n))


def owner_reference(owner: ObjView, *, controller: bool = True, block_owner_deletion: bool = True) -> dict[str, Any]:
    """The ownerReferences entry that makes ``owner`` (e.g. a ReplicaSet) own an object."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name(owner),
        "uid": uid(owner),
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def owner_references(obj: ObjView) -> list[dict[str, Any]]:
    refs = meta(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def controller_of(obj: ObjView) -> dict[str, Any] | None:
    """The owner reference marked ``controller: true``, if any."""
    return next((r for r in owner_references(obj) if r.get("controller")), None)


def is_owned_by(obj: ObjView, owner: ObjView) -> bool:
    return any(r.get("uid") == uid(owner) for r in owner_references(obj)) if uid(owner) else False


def is_controlled_by(obj: ObjView, owner: ObjView) -> bool:
    """Whether ``owner`` is ``obj``'s controller (the owner reference marked controller)."""
    ref = controller_of(obj)
    return ref is not None and bool(uid(owner)) and ref.get("uid") == uid(owner)


def condition(obj: ObjView, type_: str) -> dict[str, Any] | None:
    """The ``status.conditions`` entry of this type (``Ready``, ``PodScheduled``), if any."""
    for c in as_map(obj.get("status")).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def condition_true(obj: ObjView, type_: str) -> bool:
    c = condition(obj, type_)
    return c is not None and c.get("status") == "True"
