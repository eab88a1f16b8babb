"""Defaults Kubernetes would fill in, applied before validation on every write and by
``mixctl apply``. ``apply_defaults`` returns a new dict and never mutates its input (objects
may come from a shared cache). It tolerates malformed objects: a value of the wrong type is
left alone for validation to report."""

from __future__ import annotations

import copy
from typing import Any

from mixfleet.api import batch, claims, configdata, quantity
from mixfleet.api.kinds import KINDS

DEFAULT_NAMESPACE = "default"
_NAMESPACED = {k.kind for k in KINDS if k.namespaced}

POD_SPEC_DEFAULTS = {"restartPolicy": "Always", "terminationGracePeriodSeconds": 30}
CONTAINER_DEFAULTS = {"imagePullPolicy": "IfNotPresent"}
DEPLOYMENT_SPEC_DEFAULTS = {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
ROLLING_UPDATE_DEFAULTS = {"maxSurge": "25%", "maxUnavailable": "25%"}


def _fill(target: Any, defaults: dict[str, Any]) -> None:
    if isinstance(target, dict):
        for key, value in defaults.items():
            if target.get(key) is None:
                target[key] = value


def _sub(parent: Any, key: str) -> Any:
    """``parent[key]``, created as {} when absent; None when parent or the value is not a map."""
    if not isinstance(parent, dict):
        return None
    if parent.get(key) is None:
        parent[key] = {}
    return parent[key] if isinstance(parent[key], dict) else None


def apply_defaults(obj: dict[str, Any], *, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """A defaulted copy of ``obj``; ``namespace`` is used for namespaced kinds without one."""
    out = copy.deepcopy(obj)
    if not isinstance(out, dict):
        return out
    kind = out.get("kind")
    if not isinstance(kind, str):  # validation says so; nothing to default by
        return out
    meta = _sub(out, "metadata")
    if kind in _NAMESPACED and meta is not None and not meta.get("namespace"):
        meta["namespace"] = namespace
    if kind == "Pod":
        _pod_spec(out.get("spec"))
    elif kind in ("Deployment", "ReplicaSet"):
        _workload(out, kind)
    elif kind == "DaemonSet":
        _daemonset(out.get("spec"))
    elif kind == "Job":
        _job_spec(out.get("spec"))
    elif kind == "CronJob":
        _cronjob(out.get("spec"))
    elif kind == "Secret":
        configdata.merge_string_data(out)
        if out.get("type") is None:
            out["type"] = configdata.OPAQUE
    elif kind == claims.KIND:
        claims.apply_defaults(out)
    return out


def _workload(obj: dict[str, Any], kind: str) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if kind == "ReplicaSet":
        _fill(spec, {"replicas": 1})
    else:
        _fill(spec, DEPLOYMENT_SPEC_DEFAULTS)
        strategy = _sub(spec, "strategy")
        _fill(strategy, {"type": "RollingUpdate"})
        if strategy is not None and strategy.get("type") == "RollingUpdate":
            _fill(_sub(strategy, "rollingUpdate"), ROLLING_UPDATE_DEFAULTS)
    template = spec.get("template")
    if isinstance(template, dict):
        _pod_spec(template.get("spec"))


def _daemonset(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    strategy = _sub(spec, "updateStrategy")
    _fill(strategy, {"type": "RollingUpdate"})
    if strategy is not None and strategy.get("type") == "RollingUpdate":
        _fill(_sub(strategy, "rollingUpdate"), {"maxUnavailable": 1, "maxSurge": 0})
    template = spec.get("template")
    if isinstance(template, dict):
        _pod_spec(template.get("spec"))


def _job_spec(spec: Any) -> None:
    """Kubernetes' Job defaults; the template's restartPolicy is not defaulted (a Job must
    say Never or OnFailure, and Always, the pod default, is refused)."""
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _fill(spec, batch.JOB_DEFAULTS)
    template = spec.get("template")
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(pod_spec, dict):
        asked = pod_spec.get("restartPolicy")
        _pod_spec(pod_spec)
        if asked is None:
            pod_spec.pop("restartPolicy", None)


def _cronjob(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    _fill(spec, batch.CRONJOB_DEFAULTS)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        _job_spec(job_template.get("spec"))


def _pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    _fill(spec, POD_SPEC_DEFAULTS)
    for key in ("initContainers", "containers"):
        containers = spec.get(key)
        for c in containers if isinstance(containers, list) else ():
            _container(c)


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    _fill(c, CONTAINER_DEFAULTS)
    ports = c.get("ports")
    for port in ports if isinstance(ports, list) else ():
        _fill(port, {"protocol": "TCP"})
    resources = c.get("resources")
    limits = resources.get("limits") if isinstance(resources, dict) else None
    if isinstance(limits, dict) and limits:
        # As in Kubernetes: a limit without a request requests the limit, so the
        # scheduler counts what the container may use.
        requests = _sub(resources, "requests")
        if requests is not None:
            for resource, limit in limits.items():
                if _is_quantity(limit):  # an invalid limit is reported once, as a limit
                    requests.setdefault(resource, limit)


def _is_quantity(value: Any) -> bool:
    try:
        quantity.parse(value)
    except ValueError:
        return False
    return True
