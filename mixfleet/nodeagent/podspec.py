"""From a Pod dict to the containers the engine runs: names, labels tying each container to
its pod, limits in engine units, and a hash of the container spec so a changed spec
recreates the container."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from mixfleet.api import quantity
from mixfleet.api.pods import key as pod_uid
from mixfleet.nodeagent import security
from mixfleet.nodeagent.engines.base import ContainerSpec, ContainerState, PortMapping

PREFIX = "mixfleet.io/"
LABEL_MANAGED = PREFIX + "managed"
LABEL_POD_UID = PREFIX + "pod-uid"
LABEL_POD_NAMESPACE = PREFIX + "pod-namespace"
LABEL_POD_NAME = PREFIX + "pod-name"
LABEL_CONTAINER = PREFIX + "container-name"
LABEL_SPEC_HASH = PREFIX + "spec-hash"
LABEL_RESTART_COUNT = PREFIX + "restart-count"  # we restart by recreating: 0, 1, 2, ...
LABEL_GRACE = PREFIX + "grace-seconds"  # for orphans, whose pod (and its grace) is gone
LABEL_ISOLATION = PREFIX + "isolation"
# Several agents may share one engine (mixfleet dev): each owns only its node's containers.
LABEL_NODE = PREFIX + "node"
MANAGED = {LABEL_MANAGED: "true"}
DEFAULT_GRACE_SECONDS = 30


def pod_grace_seconds(pod: Mapping[str, Any]) -> int:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    for v in (meta.get("deletionGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")):
        if v is not None:
            return int(v)
    return DEFAULT_GRACE_SECONDS


def attempt_of(c: ContainerState) -> int:
    try:
        return int(c.labels.get(LABEL_RESTART_COUNT, "0"))
    except ValueError:
        return 0


def container_image(pod: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    """The scheduler's per-container choice (spec.binding.images) wins over the spec's."""
    images = ((pod.get("spec") or {}).get("binding") or {}).get("images") or {}
    return str(images.get(container["name"]) or container.get("image") or "")


def pod_isolation(pod: Mapping[str, Any], *, host_os: str) -> str | None:
    """What the scheduler resolved (spec.binding.isolation); Windows only."""
    if host_os != "windows":
        return None
    iso = ((pod.get("spec") or {}).get("binding") or {}).get("isolation")
    return iso if iso in ("process", "hyperv") else None


def spec_hash(pod: Mapping[str, Any], container: Mapping[str, Any], *, host_os: str) -> str:
    """Changes when anything the engine was told changes (not on status or metadata edits)."""
    doc = {
        "c": container,
        "image": container_image(pod, container),
        "iso": pod_isolation(pod, host_os=host_os),
    }
    pod_sc = (pod.get("spec") or {}).get("securityContext")
    if pod_sc:  # only when set: containers of pods without one keep the hash they had
        doc["sc"] = pod_sc
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _limits(container: Mapping[str, Any]) -> tuple[int | None, int | None]:
    limits = (container.get("resources") or {}).get("limits") or {}
    cpu = quantity.cpu_millis(limits["cpu"]) * 10**6 if "cpu" in limits else None
    mem = quantity.memory_bytes(limits["memory"]) if "memory" in limits else None
    return cpu, mem


def pod_labels(
    pod: Mapping[str, Any],
    container: str,
    hash_: str,
    *,
    attempt: int,
    isolation: str | None,
    node_name: str,
) -> dict[str, str]:
    """The labels tying a container to its pod (and node): how a restarted agent adopts it."""
    meta = pod.get("metadata") or {}
    labels = {
        **MANAGED,
        LABEL_POD_UID: pod_uid(pod),
        LABEL_POD_NAMESPACE: str(meta.get("namespace") or "default"),
        LABEL_POD_NAME: str(meta.get("name")),
        LABEL_CONTAINER: container,
        LABEL_SPEC_HASH: hash_,
        LABEL_RESTART_COUNT: str(attempt),
        LABEL_GRACE: str(pod_grace_seconds(pod)),
    }
    if isolation:
        labels[LABEL_ISOLATION] = isolation
    if node_name:
        labels[LABEL_NODE] = node_name
    return labels


def container_spec(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    attempt: int,
    host_os: str,
    node_name: str = "",
) -> ContainerSpec:
    meta = pod.get("metadata") or {}
    ns, name, uid = str(meta.get("namespace") or "default"), str(meta.get("name")), pod_uid(pod)
    cname = str(container["name"])
    isolation = pod_isolation(pod, host_os=host_os)
    labels = pod_labels(
        pod, cname, spec_hash(pod, container, host_os=host_os),
        attempt=attempt, isolation=isolation, node_name=node_name,
    )
    nano_cpus, memory = _limits(container)
    command, args = container.get("command"), container.get("args")
    return ContainerSpec(
        name=f"mx_{ns}_{name}_{cname}_{uid[:8]}_{attempt}",
        image=container_image(pod, container),
        command=tuple(command) if command is not None else None,
        args=tuple(args) if args is not None else None,
        env={e["name"]: str(e.get("value", "")) for e in container.get("env") or () if "name" in e},
        ports=tuple(
            PortMapping(
                int(p["containerPort"]), p.get("hostPort"), str(p.get("protocol") or "TCP").lower()
            )
            for p in container.get("ports") or ()
        ),
        nano_cpus=nano_cpus,
        memory_bytes=memory,
        labels=labels,
        isolation=isolation,
        working_dir=container.get("workingDir"),
        **security.engine_fields(pod, container, host_os=host_os),
    )
