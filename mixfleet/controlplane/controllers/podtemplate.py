"""A new pod from a controller's pod template: ``<owner>-<5 random chars>`` (a name not in
``taken``), the template's labels and annotations, owned by the controller."""

from __future__ import annotations

from collections.abc import Mapping

from mixfleet.api import objects
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.objects import thaw


def pod_from(owner: ObjView, template: ObjView, taken: set[str], *,
             labels: Mapping[str, str] | None = None, spec: Obj | None = None) -> Obj:
    """``labels`` are added to the template's; ``spec`` replaces the template's (a copy of
    it by default). The name chosen is added to ``taken``."""
    tmeta = template.get("metadata") or {}
    m = owner["metadata"]
    while True:
        name = f"{m['name']}-{objects.random_suffix()}"
        if name not in taken:
            taken.add(name)
            break
    meta: Obj = {
        "name": name,
        "namespace": m.get("namespace", "default"),
        "labels": {**thaw(tmeta.get("labels") or {}), **(labels or {})},
        "ownerReferences": [objects.owner_reference(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = thaw(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": spec if spec is not None else thaw(template.get("spec") or {})}
