"""What a pod needs from a node, parsed once per pod template and read by every plugin.

Parsing is the expensive part of looking at a pod (quantities, versions, selectors), and the
pods of one Deployment share a template, so :func:`template_key` names the template and the
scheduler caches :class:`PodRequirements` under it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from mixfleet.api import claims, pods, selectors
from mixfleet.api.quantity import QuantityError, cpu_millis, memory_bytes
from mixfleet.api.selectors import LabelSelector, SelectorError
from mixfleet.api.taints import Toleration, TolerationError, tolerations
from mixfleet.api.types import ObjectMeta, PodPlatform, PodSpec
from mixfleet.api.versions import (
    InvalidVersionError,
    WindowsVersion,
    parse_kernel_version,
)
from mixfleet.scheduler.selectors import HOSTNAME, per_node

STRATEGIES = ("binpack", "spread")


class RequirementError(ValueError):
    """The pod's scheduling fields cannot be understood; the message names the field."""


@dataclass(frozen=True, slots=True)
class ImageOverride:
    version: WindowsVersion  # the Windows build the image is built for
    image: str
    container: str | None  # None: every container


@dataclass(frozen=True, slots=True)
class PodTerm:
    """A podAntiAffinity term on kubernetes.io/hostname: pods matching ``selector`` in
    ``namespaces`` must not (required) or should not (preferred) share a node."""

    selector: LabelSelector
    namespaces: frozenset[str]
    weight: int = 0  # preferred terms only


@dataclass(frozen=True, slots=True)
class PodRequirements:
    key: Hashable
    os: str
    isolation: str
    os_version: WindowsVersion | None
    min_kernel: tuple[int, ...] | None
    containers: tuple[tuple[str, str], ...]  # (name, image)
    overrides: tuple[ImageOverride, ...]
    cpu_millis: int
    memory_bytes: int
    node_selector: LabelSelector | None
    required_terms: tuple[LabelSelector, ...]  # ORed; empty: no required node affinity
    preferred_terms: tuple[tuple[int, LabelSelector], ...]
    tolerations: tuple[Toleration, ...]
    anti_required: tuple[PodTerm, ...]
    anti_preferred: tuple[PodTerm, ...]
    strategy: str | None
    namespace: str = "default"
    claims: tuple[str, ...] = ()  # PersistentVolumeClaims the pod's volumes name

    @property
    def selector_per_node(self) -> bool:
        """True when a required selector reads a per-node key (hostname, metadata.name)."""
        terms = (*self.required_terms, *((self.node_selector,) if self.node_selector else ()))
        return any(per_node(t) for t in terms)


def template_key(pod: Mapping[str, Any]) -> Hashable:
    """Pods of one ReplicaSet share their template: name it by owner and template hash;
    other pods by their scheduling-relevant content."""
    md = pod.get("metadata") or {}
    ns = md.get("namespace") or "default"
    tpl = (md.get("labels") or {}).get("pod-template-hash")
    owners = md.get("ownerReferences") or ()
    if tpl and owners:
        return ("tpl", ns, owners[0].get("uid") or owners[0].get("name"), tpl)
    spec = {k: v for k, v in (pod.get("spec") or {}).items() if k not in ("nodeName", "binding")}
    content = {"spec": spec, "labels": md.get("labels"), "iso": (md.get("annotations") or {}).get(pods.ISOLATION_ANNOTATION)}
    return ("spec", ns, json.dumps(content, sort_keys=True, default=str))


def parse(pod: Mapping[str, Any], *, key: Hashable | None = None) -> PodRequirements:
    """Parse a pod's scheduling fields; raises RequirementError naming the bad field."""
    try:
        return _parse(pod, key if key is not None else template_key(pod))
    except (QuantityError, InvalidVersionError, SelectorError, pods.PodFactError, TolerationError) as e:
        raise RequirementError(str(e)) from e


def _parse(pod: Mapping[str, Any], key: Hashable) -> PodRequirements:
    md: ObjectMeta = pod.get("metadata") or ObjectMeta()
    spec: PodSpec = pod.get("spec") or PodSpec()
    platform: PodPlatform = spec.get("platform") or PodPlatform()
    containers = tuple(
        (c.get("name", ""), c.get("image", ""))
        for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
    )
    cpu, mem = pod_requests(spec)
    affinity = spec.get("affinity") or {}
    node_aff = affinity.get("nodeAffinity") or {}
    anti = affinity.get("podAntiAffinity") or {}
    ns = md.get("namespace") or "default"
    os_version = platform.get("osVersion")
    kernel = platform.get("minKernelVersion")
    strategy = spec.get("schedulingStrategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise RequirementError(f"spec.schedulingStrategy: {strategy!r} is not one of {', '.join(STRATEGIES)}")
    required = (node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or ()
    preferred = node_aff.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    return PodRequirements(
        key=key,
        os=pods.pod_os(pod),
        isolation=pods.isolation(pod) or "auto",
        os_version=WindowsVersion.parse(os_version) if os_version else None,
        min_kernel=parse_kernel_version(str(kernel)) if kernel else None,
        containers=containers,
        overrides=tuple(_override(o) for o in platform.get("imageOverrides") or ()),
        cpu_millis=cpu,
        memory_bytes=mem,
        node_selector=selectors.from_map(spec["nodeSelector"]) if spec.get("nodeSelector") else None,
        required_terms=tuple(selectors.from_node_term(t) for t in required),
        preferred_terms=tuple((int(p.get("weight", 1)), selectors.from_node_term(p.get("preference") or {})) for p in preferred),
        tolerations=tolerations(pod),
        anti_required=tuple(_pod_term(t, ns) for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or ()),
        anti_preferred=tuple(
            _pod_term(p.get("podAffinityTerm") or {}, ns, weight=int(p.get("weight", 1)))
            for p in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        ),
        strategy=strategy,
        namespace=ns,
        claims=claims.pod_claims(pod),
    )


def pod_requests(spec: Mapping[str, Any]) -> tuple[int, int]:
    """Sum of container requests, or the largest init container's when that is more (they
    run one at a time, before the others: Kubernetes' effective request); a limit without
    a request counts as the request (Kubernetes defaults requests to limits)."""
    cpu = mem = 0
    for c in spec.get("containers") or ():
        c_cpu, c_mem = _requests(c)
        cpu, mem = cpu + c_cpu, mem + c_mem
    for c in spec.get("initContainers") or ():
        c_cpu, c_mem = _requests(c)
        cpu, mem = max(cpu, c_cpu), max(mem, c_mem)
    return cpu, mem


def _requests(c: Mapping[str, Any]) -> tuple[int, int]:
    res = c.get("resources") or {}
    req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    return (
        cpu_millis(req["cpu"]) if "cpu" in req else 0,
        memory_bytes(req["memory"]) if "memory" in req else 0,
    )


def _override(raw: Mapping[str, Any]) -> ImageOverride:
    if not raw.get("osVersion") or not raw.get("image"):
        raise RequirementError("spec.platform.imageOverrides[]: osVersion and image are required")
    return ImageOverride(WindowsVersion.parse(raw["osVersion"]), raw["image"], raw.get("container"))


def _pod_term(raw: Mapping[str, Any], ns: str, *, weight: int = 0) -> PodTerm:
    topo = raw.get("topologyKey")
    if topo != HOSTNAME:
        raise RequirementError(f"podAntiAffinity topologyKey {topo!r} is not supported (only {HOSTNAME})")
    namespaces = frozenset(raw.get("namespaces") or (ns,))
    return PodTerm(selectors.from_dict(raw.get("labelSelector")), namespaces, weight)
