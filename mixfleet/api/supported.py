"""The fields Mixfleet honours, as data, and the check that refuses every other one.

The schema (api/schema.py) knows every Kubernetes field, so an existing manifest is read
field for field; but knowing a field is not honouring it. A field that nothing in Mixfleet
acts on (the agent, the engines, the scheduler, the controllers) is refused at apply, naming
it — never accepted and silently dropped (an ``httpGet`` probe that counted as ready, a
``secretKeyRef`` that gave the container an empty variable). docs/MANIFESTS.md lists this
set for users; tests/api/test_supported_fields.py walks every Pod spec field against it.

A field set to its zero value (None, false, 0, "", {} or []) asks for nothing and passes:
``kubectl get -o yaml`` output carries many such.

A spec here is one of:
- ``ALL``: the field and everything under it is honoured;
- a mapping of field name to spec: a map whose other fields are refused;
- ``Each(spec)``: a list whose items follow ``spec``;
- ``Keys(names)``: a map whose keys must be among ``names`` (resource names);
- ``Refused(reason)``: a field known not to work here, refused with the reason why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item

NOT_SUPPORTED = "not supported by Mixfleet"


class _All:
    def __repr__(self) -> str:
        return "ALL"


ALL = _All()


@dataclass(frozen=True)
class Each:
    spec: "Spec"


@dataclass(frozen=True)
class Keys:
    names: frozenset[str]


@dataclass(frozen=True)
class Refused:
    reason: str


Spec = Union[_All, Mapping[str, "Spec"], Each, Keys, Refused]

# Requests and limits the scheduler counts and the engines enforce.
RESOURCE_NAMES = Keys(frozenset({"cpu", "memory"}))

# What the agent's prober runs (nodeagent/probes.py, engines/netprobe.py): every handler.
_HTTP_GET: Mapping[str, Spec] = {
    "path": ALL, "port": ALL, "host": ALL, "scheme": ALL,
    "httpHeaders": Each({"name": ALL, "value": ALL}),
}
_PROBE_TIMING: Mapping[str, Spec] = {
    "initialDelaySeconds": ALL,
    "periodSeconds": ALL,
    "timeoutSeconds": ALL,
    "successThreshold": ALL,
    "failureThreshold": ALL,
}
READINESS_PROBE: Mapping[str, Spec] = {
    "exec": {"command": ALL},
    "httpGet": _HTTP_GET,
    "tcpSocket": {"port": ALL, "host": ALL},
    "grpc": {"port": ALL, "service": ALL},
    **_PROBE_TIMING,
}
# Liveness and startup kill the container: the kill's grace may be their own.
PROBE: Mapping[str, Spec] = {**READINESS_PROBE, "terminationGracePeriodSeconds": ALL}
# Lifecycle hooks (nodeagent/hooks.py): exec, httpGet and sleep (tcpSocket is deprecated
# in Kubernetes and never ran there).
_HOOK: Mapping[str, Spec] = {"exec": {"command": ALL}, "httpGet": _HTTP_GET, "sleep": {"seconds": ALL}}
LIFECYCLE: Mapping[str, Spec] = {"postStart": _HOOK, "preStop": _HOOK}

_KEY_REF: Mapping[str, Spec] = {"name": ALL, "key": ALL, "optional": ALL}
_OBJECT_REF: Mapping[str, Spec] = {"name": ALL, "optional": ALL}
_ITEMS = Each({"key": ALL, "path": ALL, "mode": ALL})
# The security context (nodeagent/security.py passes it to the engine; api/securitycontext.py
# holds the rules, which fields each OS takes). HostProcess containers need containerd.
_HOST_PROCESS = Refused(
    "Mixfleet's nodes run Docker Engine, which cannot run Windows HostProcess containers "
    "(containerd 1.7+ can)"
)
_WINDOWS_OPTIONS: Mapping[str, Spec] = {
    "runAsUserName": ALL, "gmsaCredentialSpecName": ALL, "gmsaCredentialSpec": ALL,
    "hostProcess": _HOST_PROCESS,
}
_SECCOMP: Mapping[str, Spec] = {"type": ALL}  # Localhost is refused by api/securitycontext.py
CONTAINER_SECURITY_CONTEXT: Mapping[str, Spec] = {
    "runAsUser": ALL, "runAsGroup": ALL, "runAsNonRoot": ALL, "readOnlyRootFilesystem": ALL,
    "capabilities": {"add": ALL, "drop": ALL}, "allowPrivilegeEscalation": ALL, "privileged": ALL,
    "seccompProfile": _SECCOMP, "windowsOptions": _WINDOWS_OPTIONS,
}
POD_SECURITY_CONTEXT: Mapping[str, Spec] = {
    "runAsUser": ALL, "runAsGroup": ALL, "runAsNonRoot": ALL, "supplementalGroups": ALL,
    "fsGroup": ALL, "fsGroupChangePolicy": ALL,  # nodeagent/volumes/ownership.py
    "seccompProfile": _SECCOMP, "windowsOptions": _WINDOWS_OPTIONS,
}

CONTAINER: Mapping[str, Spec] = {
    "name": ALL,
    "image": ALL,
    "imagePullPolicy": ALL,
    "command": ALL,
    "args": ALL,
    "workingDir": ALL,
    # valueFrom and envFrom are resolved by the node agent (nodeagent/env.py).
    "env": Each({"name": ALL, "value": ALL, "valueFrom": {
        "configMapKeyRef": _KEY_REF,
        "secretKeyRef": _KEY_REF,
        "fieldRef": {"fieldPath": ALL, "apiVersion": ALL},
        "resourceFieldRef": {"containerName": ALL, "resource": ALL, "divisor": ALL},
    }}),
    "envFrom": Each({"prefix": ALL, "configMapRef": _OBJECT_REF, "secretRef": _OBJECT_REF}),
    "ports": Each({"name": ALL, "containerPort": ALL, "hostPort": ALL, "protocol": ALL}),
    "resources": {"requests": RESOURCE_NAMES, "limits": RESOURCE_NAMES},
    "readinessProbe": READINESS_PROBE,
    "livenessProbe": PROBE,
    "startupProbe": PROBE,
    "lifecycle": LIFECYCLE,
    # The node's volume manager (nodeagent/volumes/) mounts these.
    "volumeMounts": Each({"name": ALL, "mountPath": ALL, "readOnly": ALL, "subPath": ALL}),
    "securityContext": CONTAINER_SECURITY_CONTEXT,
}

# Init containers (nodeagent/reconcile.py runs them in order before the app containers):
# what app containers honour, except what Kubernetes forbids on them (probes, hooks).
_NOT_ON_INIT = frozenset({"readinessProbe", "livenessProbe", "startupProbe", "lifecycle"})
INIT_CONTAINER: Mapping[str, Spec] = {k: v for k, v in CONTAINER.items() if k not in _NOT_ON_INIT}

# Volume source types the node's volume manager sets up (nodeagent/volumes/, one module
# each); api/volumes.py holds their rules.
VOLUME: dict[str, Spec] = {
    "name": ALL,
    "emptyDir": {"medium": ALL, "sizeLimit": ALL},
    "hostPath": {"path": ALL, "type": ALL},
    "persistentVolumeClaim": {"claimName": ALL, "readOnly": ALL},  # volumes/claim.py, api/claims.py
    "configMap": {"name": ALL, "items": _ITEMS, "defaultMode": ALL, "optional": ALL},
    "secret": {"secretName": ALL, "items": _ITEMS, "defaultMode": ALL, "optional": ALL},
}

_POD_TERM: Mapping[str, Spec] = {"labelSelector": ALL, "topologyKey": ALL, "namespaces": ALL}

POD_SPEC: Mapping[str, Spec] = {
    "containers": Each(CONTAINER),
    "initContainers": Each(INIT_CONTAINER),
    "volumes": Each(VOLUME),
    "nodeName": ALL,
    "nodeSelector": ALL,
    "affinity": {
        "nodeAffinity": ALL,
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": Each(_POD_TERM),
            "preferredDuringSchedulingIgnoredDuringExecution": Each(
                {"weight": ALL, "podAffinityTerm": _POD_TERM}
            ),
        },
    },
    "tolerations": ALL,
    "os": ALL,
    "runtimeClassName": ALL,  # Windows isolation (api/pods.py)
    "schedulerName": ALL,
    "schedulingStrategy": ALL,  # binpack | spread, per pod
    "restartPolicy": ALL,
    "terminationGracePeriodSeconds": ALL,
    "securityContext": POD_SECURITY_CONTEXT,
    # Mixfleet's own fields.
    "platform": ALL,
    "binding": ALL,
}

_TEMPLATE: Mapping[str, Spec] = {"metadata": ALL, "spec": POD_SPEC}
_STRATEGY: Mapping[str, Spec] = {"type": ALL, "rollingUpdate": ALL}

DEPLOYMENT_SPEC: Mapping[str, Spec] = {
    "replicas": ALL,
    "selector": ALL,
    "template": _TEMPLATE,
    "strategy": _STRATEGY,
    "revisionHistoryLimit": ALL,
    "progressDeadlineSeconds": ALL,
}

REPLICASET_SPEC: Mapping[str, Spec] = {"replicas": ALL, "selector": ALL, "template": _TEMPLATE}

# Node-local claims (api/claims.py checks the values: ReadWriteOnce, class "local", Filesystem).
PERSISTENT_VOLUME_CLAIM_SPEC: Mapping[str, Spec] = {
    "accessModes": ALL,
    "resources": {"requests": Keys(frozenset({"storage"}))},
    "storageClassName": ALL,
    "volumeMode": ALL,
}

# DaemonSet (controlplane/controllers/daemonset.py): no revision history is kept, so
# revisionHistoryLimit is refused; minReadySeconds too.
DAEMONSET_SPEC: Mapping[str, Spec] = {
    "selector": ALL,
    "template": _TEMPLATE,
    "updateStrategy": {"type": ALL, "rollingUpdate": {"maxUnavailable": ALL, "maxSurge": ALL}},
}

# Job (controlplane/controllers/job.py): NonIndexed completions only.
JOB_SPEC: Mapping[str, Spec] = {
    "template": _TEMPLATE,
    "completions": ALL,
    "parallelism": ALL,
    "backoffLimit": ALL,
    "activeDeadlineSeconds": ALL,
    "ttlSecondsAfterFinished": ALL,
    "completionMode": ALL,  # NonIndexed; Indexed is refused by api/batch.py
}

# CronJob (controlplane/controllers/cronjob.py).
CRONJOB_SPEC: Mapping[str, Spec] = {
    "schedule": ALL,
    "timeZone": ALL,
    "concurrencyPolicy": ALL,
    "suspend": ALL,
    "startingDeadlineSeconds": ALL,
    "successfulJobsHistoryLimit": ALL,
    "failedJobsHistoryLimit": ALL,
    "jobTemplate": {"metadata": ALL, "spec": JOB_SPEC},
}

# The spec of each kind that has one to check; kinds not here are honoured as the schema has them.
BY_KIND: Mapping[str, Mapping[str, Spec]] = {
    "Pod": POD_SPEC,
    "Deployment": DEPLOYMENT_SPEC,
    "ReplicaSet": REPLICASET_SPEC,
    "PersistentVolumeClaim": PERSISTENT_VOLUME_CLAIM_SPEC,
    "DaemonSet": DAEMONSET_SPEC,
    "Job": JOB_SPEC,
    "CronJob": CRONJOB_SPEC,
}


def _zero(value: Any) -> bool:
    return value is None or value is False or value == 0 or value in ("", {}, [])


def unsupported(obj: Mapping[str, Any]) -> list[FieldError]:
    """A FieldError for every field of ``obj``'s spec that Mixfleet does not honour."""
    spec = BY_KIND.get(str(obj.get("kind")))
    if spec is None:
        return []
    errs: list[FieldError] = []
    _walk(obj.get("spec"), spec, "spec", errs)
    return errs


def _walk(value: Any, spec: Spec, path: str, errs: list[FieldError]) -> None:
    if isinstance(spec, _All) or _zero(value):
        return
    if isinstance(spec, Refused):
        errs.append(FieldError(path, f"{NOT_SUPPORTED}: {spec.reason}"))
        return
    if isinstance(spec, Each):
        if isinstance(value, list):
            for i, v in enumerate(value):
                _walk(v, spec.spec, item(path, i), errs)
        return
    if not isinstance(value, dict):
        return  # a wrong type is the schema's to report
    if isinstance(spec, Keys):
        for key, v in value.items():
            if key not in spec.names and not _zero(v):
                errs.append(FieldError(child(path, key), f"{NOT_SUPPORTED} (supported: {_names(spec.names)})"))
        return
    for key, v in value.items():
        sub = spec.get(key)
        if sub is None:
            if not _zero(v):
                errs.append(FieldError(child(path, key), f"{NOT_SUPPORTED} (supported here: {_names(spec)})"))
            continue
        _walk(v, sub, child(path, key), errs)


def _names(names: Any) -> str:
    return ", ".join(sorted(names))
