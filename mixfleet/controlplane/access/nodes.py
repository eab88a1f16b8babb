"""What a node identity may do, as Kubernetes' Node authorizer and NodeRestriction admission
decide it (plugin/pkg/auth/authorizer/node, plugin/pkg/admission/noderestriction).

A node ``system:node:N`` (group ``system:nodes``) may:
- read Nodes (the scheduler's filters on its side read its own); create, update and delete
  only Node ``N``, never change its taints after creation nor set labels Kubernetes reserves
  (``node-restriction.kubernetes.io/``, and ``kubernetes.io``/``k8s.io`` keys other than the
  kubelet's own: hostname, os, arch, instance type, zone, region, ``kubelet.`` and ``node.``
  prefixes);
- read, renew and remove only its own Lease (``mixfleet-node-lease/N``);
- read, list and watch only the pods bound to it (a list or watch must select
  ``spec.nodeName=N``), write their status, and delete them (the end of a graceful
  deletion); never create pods or change a pod's spec;
- read (get) a Secret, ConfigMap or PersistentVolumeClaim only when a pod bound to it
  refers to it (``api.podrefs``);
- create Events it reports (``source.host`` or ``reportingInstance`` is N), and read and
  update those (the agent aggregates repeats into one Event, as the kubelet's recorder).
Everything else is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Awaitable, Callable

from mixfleet.api import podrefs, selectors
from mixfleet.api.rbac import Attributes

LEASE_NAMESPACE = "mixfleet-node-lease"
_REFERABLE = {"secrets": podrefs.SECRET, "configmaps": podrefs.CONFIGMAP,
              "persistentvolumeclaims": podrefs.PVC}
# NodeRestriction's lists (noderestriction/admission.go, kubelet's well-known labels).
_KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
})
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
RESTRICTED_PREFIX = "node-restriction.kubernetes.io/"

# (namespace, node, kind, name) -> whether a pod bound to the node refers to that object.
Referenced = Callable[[str, str, str, str], Awaitable[bool]]
# (kind, namespace, name) -> the stored object, None when absent.
Getter = Callable[[str, str, str], Awaitable[Mapping[str, Any] | None]]


async def decide(
    node: str,
    a: Attributes,
    *,
    field_selector: str,
    obj: Mapping[str, Any] | None,
    get: Getter,
    referenced: Referenced,
) -> str | None:
    """None if node ``node`` may make request ``a``; else why not. ``obj``: the object a
    create or update writes (its name decides a create)."""
    name = a.name or _name(obj)
    if a.resource == "nodes":
        if a.verb in ("get", "list", "watch"):
            return None
        return None if name == node else f'node "{node}" may only change its own Node'
    if a.resource == "leases":
        if a.namespace == LEASE_NAMESPACE and name == node and a.verb not in ("list", "watch"):
            return None
        return f'node "{node}" may only use its own Lease ({LEASE_NAMESPACE}/{node})'
    if a.resource == "events":
        return await _events(node, a, name, obj, get)
    if a.resource == "pods":
        return await _pods(node, a, name, field_selector, get)
    kind = _REFERABLE.get(a.resource)
    if kind is not None:
        if a.verb != "get" or not name:
            return f'node "{node}" may only get {a.resource} that pods bound to it refer to'
        if await referenced(a.namespace, node, kind, name):
            return None
        return f'no pod bound to node "{node}" refers to {kind} "{name}"'
    return f'node "{node}" has no access to {a.resource}'


def _reported_by(event: Mapping[str, Any] | None, node: str) -> bool:
    e = event or {}
    return (e.get("source") or {}).get("host") == node or e.get("reportingInstance") == node


async def _events(node: str, a: Attributes, name: str, obj: Mapping[str, Any] | None, get: Getter) -> str | None:
    why = f'node "{node}" may only use Events it reports (source.host={node})'
    if a.verb not in ("create", "get", "update", "patch"):
        return why
    if obj is not None and not _reported_by(obj, node):
        return why
    if a.verb != "create" and not _reported_by(await get("Event", a.namespace, name), node):
        return why
    return None


async def _pods(node: str, a: Attributes, name: str, field_selector: str, get: Getter) -> str | None:
    if a.verb in ("list", "watch"):
        if _selects_node(field_selector, node):
            return None
        return f'node "{node}" may only {a.verb} pods with the field selector spec.nodeName={node}'
    if a.subresource not in ("", "status") or a.verb == "create":
        return f'node "{node}" may not {a.verb} {a.full_resource}'
    if a.verb in ("update", "patch") and a.subresource != "status":
        return f'node "{node}" may only write the status of pods, not their spec'
    pod = await get("Pod", a.namespace, name)
    bound = str(((pod or {}).get("spec") or {}).get("nodeName") or "")
    if bound == node:
        return None
    return f'node "{node}" may only touch pods bound to it'


def _selects_node(field_selector: str, node: str) -> bool:
    try:
        terms = selectors.parse_fields(field_selector).terms
    except selectors.SelectorError:
        return False
    return any(t.path == "spec.nodeName" and not t.negate and t.value == node for t in terms)


def _name(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("name") or "")


def admit_node_write(node: str, new: Mapping[str, Any], old: Mapping[str, Any] | None) -> str | None:
    """NodeRestriction on a node's write of its own Node: None when admitted, else why not."""
    new_labels = (new.get("metadata") or {}).get("labels") or {}
    old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
    changed = [k for k, v in new_labels.items() if old_labels.get(k) != v]
    changed += [k for k in old_labels if k not in new_labels]
    for key in sorted(changed):
        if not _may_set_label(key):
            return f'node "{node}" is not allowed to modify label {key!r}'
    if old is not None:
        before = (old.get("spec") or {}).get("taints") or []
        after = (new.get("spec") or {}).get("taints")
        if after is not None and after != before:
            return f'node "{node}" is not allowed to modify taints'
    return None


def _may_set_label(key: str) -> bool:
    if key.startswith(RESTRICTED_PREFIX):
        return False
    namespace = key.split("/", 1)[0] if "/" in key else ""
    reserved = namespace in ("kubernetes.io", "k8s.io") or namespace.endswith((".kubernetes.io", ".k8s.io"))
    if not reserved:
        return True
    return key in _KUBELET_LABELS or namespace in _KUBELET_LABEL_NAMESPACES or namespace.endswith(
        tuple("." + n for n in _KUBELET_LABEL_NAMESPACES))
