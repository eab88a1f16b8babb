"""The known fields of every kind, as data, and the structural check that walks an object
against them (types, unknown fields, required fields, enums, ranges, quantities, versions).

Kubernetes' own fields come from the Kubernetes python client's models (``openapi_types``
and ``attribute_map`` give every field's camelCase name and type), so an existing Kubernetes
manifest is known field for field. ``OVERRIDES`` tightens some of them (enums, ranges,
quantities) and adds Mixfleet's fields (``spec.platform``, ``spec.binding``, node facts).

A spec is one of: a scalar (``STRING``...), ``Enum``, ``Pattern``, ``Int``, ``QUANTITY``,
``ListOf``, ``MapOf``, ``Struct`` (fixed fields) or ``Model`` (a Kubernetes model by name,
resolved lazily because models refer to each other). ``None`` counts as absent everywhere,
as in Kubernetes.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from kubernetes import client as k8s

from mixfleet.api import quantity
from mixfleet.api.errors import FieldError

Errors = list[FieldError]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@functools.lru_cache(maxsize=8192)  # the same few hundred paths recur on every write
def child(path: str, key: str) -> str:
    """``spec`` + ``containers`` -> ``spec.containers``; odd keys go in brackets:
    ``metadata.labels[kubernetes.io/os]``."""
    if not _IDENT.match(key):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def sub(path: str, *keys: str) -> str:
    """``child`` for several keys: ``sub("spec", "strategy", "type")``."""
    for key in keys:
        path = child(path, key)
    return path


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def show(value: Any) -> str:
    """A value as it appears in a message: strings quoted, long values cut."""
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong_type(path: str, want: str, value: Any) -> FieldError:
    got = type_name(value)
    if isinstance(value, (str, int, float)):
        got = f"{got} {show(value)}"
    return FieldError(path, f"must be {want}, got {got}")


@dataclass(frozen=True, slots=True)
class Scalar:
    want: str  # "a string", "an integer", ...
    types: tuple[type, ...]

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if isinstance(value, bool) and bool not in self.types:
            errs.append(_wrong_type(path, self.want, value))
        elif not isinstance(value, self.types):
            errs.append(_wrong_type(path, self.want, value))


@dataclass(frozen=True, slots=True)
class Any_:
    def check(self, value: Any, path: str, errs: Errors) -> None:
        return None


STRING = Scalar("a string", (str,))
INTEGER = Scalar("an integer", (int,))
BOOLEAN = Scalar("a boolean", (bool,))
NUMBER = Scalar("a number", (int, float))
ANY = Any_()


@dataclass(frozen=True, slots=True)
class Int:
    min: int | None = None
    max: int | None = None

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            errs.append(_wrong_type(path, "an integer", value))
        elif self.min is not None and value < self.min:
            errs.append(FieldError(path, f"invalid value {value}: must be greater than or equal to {self.min}"))
        elif self.max is not None and value > self.max:
            errs.append(FieldError(path, f"invalid value {value}: must be less than or equal to {self.max}"))


@dataclass(frozen=True, slots=True)
class Enum:
    values: tuple[str, ...]

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if not isinstance(value, str):
            errs.append(_wrong_type(path, "a string", value))
        elif value not in self.values:
            supported = ", ".join(f'"{v}"' for v in self.values)
            errs.append(FieldError(path, f"unsupported value {show(value)}: supported values: {supported}"))


@dataclass(frozen=True, slots=True)
class Pattern:
    regex: str
    what: str  # "a Windows version like 10.0.20348 or 10.0.20348.2655"
    noun: str = "value"

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if not isinstance(value, str):
            errs.append(_wrong_type(path, f"a string ({self.what})", value))
        elif not re.fullmatch(self.regex, value):
            errs.append(FieldError(path, f"invalid {self.noun} {show(value)}: must be {self.what}"))


@dataclass(frozen=True, slots=True)
class IntOrPercent:
    def check(self, value: Any, path: str, errs: Errors) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            Int(min=0).check(value, path, errs)
        elif not isinstance(value, str) or not re.fullmatch(r"\d+%", value):
            errs.append(FieldError(path, f'must be an integer or a percentage like "25%", got {show(value)}'))


@dataclass(frozen=True, slots=True)
class Quantity:
    def check(self, value: Any, path: str, errs: Errors) -> None:
        try:
            quantity.parse(value)
        except ValueError as e:
            errs.append(FieldError(path, str(e)))


QUANTITY = Quantity()
INT_OR_PERCENT = IntOrPercent()


def _each(spec: Any, pairs: Iterable[tuple[str, Any]], errs: Errors) -> None:
    for path, value in pairs:
        if value is not None:
            spec.check(value, path, errs)


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Any

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if not isinstance(value, list):
            errs.append(_wrong_type(path, "a list", value))
            return
        _each(self.item, ((item(path, i), v) for i, v in enumerate(value)), errs)


@dataclass(frozen=True, slots=True)
class MapOf:
    value: Any

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if not isinstance(value, dict):
            errs.append(_wrong_type(path, "a map", value))
            return
        _each(self.value, ((child(path, str(k)), v) for k, v in value.items()), errs)


def _missing(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class _Fields:
    """Shared by Struct and Model: unknown fields, required fields, then each field's spec."""

    def fields(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def required(self) -> tuple[str, ...]:
        raise NotImplementedError

    def check(self, value: Any, path: str, errs: Errors) -> None:
        if not isinstance(value, dict):
            errs.append(_wrong_type(path, "a map", value))
            return
        known = self.fields()
        for key in value:
            if key not in known:
                errs.append(_unknown(path, str(key), known))
        for name in self.required():
            if _missing(value.get(name)):
                errs.append(FieldError(child(path, name), "required value"))
        for key, v in value.items():
            if key in known and v is not None:
                known[key].check(v, child(path, key), errs)


def _unknown(path: str, key: str, known: Mapping[str, Any]) -> FieldError:
    full = f"{path}.{key}" if path else key
    hint = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    suffix = f' (did you mean "{hint[0]}"?)' if hint else ""
    return FieldError(path, f'unknown field "{full}"{suffix}')


@dataclass(frozen=True)
class Struct(_Fields):
    spec: Mapping[str, Any]
    must: tuple[str, ...] = field(default=())

    def fields(self) -> Mapping[str, Any]:
        return self.spec

    def required(self) -> tuple[str, ...]:
        return self.must


@dataclass(frozen=True)
class Model(_Fields):
    name: str  # a kubernetes.client model, e.g. "V1PodSpec"

    def fields(self) -> Mapping[str, Any]:
        return _model_fields(self.name)

    def required(self) -> tuple[str, ...]:
        return REQUIRED.get(self.name, ())


_SCALARS = {"str": STRING, "int": INTEGER, "bool": BOOLEAN, "float": NUMBER,
            "datetime": STRING, "date": STRING, "object": ANY}


def _from_openapi(t: str) -> Any:
    if t.startswith("List[") and t.endswith("]"):
        return ListOf(_from_openapi(t[5:-1]))
    if t.startswith("Dict[str, ") and t.endswith("]"):
        return MapOf(_from_openapi(t[10:-1]))
    return _SCALARS.get(t) or Model(t)


@functools.cache
def _model_fields(name: str) -> Mapping[str, Any]:
    model = getattr(k8s, name)
    fields = {model.attribute_map[attr]: _from_openapi(t) for attr, t in model.openapi_types.items()}
    fields.update(OVERRIDES.get(name, {}))
    return fields


# Mixfleet's own shapes (docs/MANIFESTS.md).
WINDOWS_VERSION = Pattern(r"\d+\.\d+\.\d+(\.\d+)?", "a Windows version like 10.0.20348 or 10.0.20348.2655", "version")
KERNEL_VERSION = Pattern(r"\d+\.\d+(\.\d+)?", 'a kernel version like "5.10" or "5.10.0"', "version")
OS = Enum(("linux", "windows"))
RESOLVED_ISOLATION = Enum(("process", "hyperv"))

PLATFORM = Struct({
    "os": OS,
    "isolation": Enum(("process", "hyperv", "auto")),
    "osVersion": WINDOWS_VERSION,
    "minKernelVersion": KERNEL_VERSION,
    "imageOverrides": ListOf(Struct(
        {"osVersion": WINDOWS_VERSION, "image": STRING, "container": STRING},
        must=("osVersion", "image"),
    )),
})
BINDING = Struct({"isolation": RESOLVED_ISOLATION, "images": MapOf(STRING)})
NODE_PLATFORM = Struct({
    "osVersion": WINDOWS_VERSION,
    "osBuild": Int(min=0),
    "windowsEdition": Enum(("server", "client")),
    "kernelVersion": STRING,
    "isolationModes": ListOf(RESOLVED_ISOLATION),
    "defaultIsolation": RESOLVED_ISOLATION,
    "lcow": BOOLEAN,
    "hypervOverhead": MapOf(QUANTITY),
    "simulated": BOOLEAN,
})
TAINT_EFFECT = Enum(("NoSchedule", "PreferNoSchedule", "NoExecute"))

OVERRIDES: dict[str, dict[str, Any]] = {
    "V1PodSpec": {
        "restartPolicy": Enum(("Always", "OnFailure", "Never")),
        "terminationGracePeriodSeconds": Int(min=0),
        "overhead": MapOf(QUANTITY),
        "platform": PLATFORM,
        "schedulingStrategy": Enum(("binpack", "spread")),
        "binding": BINDING,
    },
    "V1PodStatus": {
        "isolation": RESOLVED_ISOLATION,
        "phase": Enum(("Pending", "Running", "Succeeded", "Failed", "Unknown")),
    },
    "V1PodOS": {"name": OS},
    "V1Container": {"imagePullPolicy": Enum(("Always", "IfNotPresent", "Never"))},
    "V1ResourceRequirements": {"requests": MapOf(QUANTITY), "limits": MapOf(QUANTITY)},
    "V1ContainerPort": {
        "containerPort": Int(min=1, max=65535),
        "hostPort": Int(min=1, max=65535),
        "protocol": Enum(("TCP", "UDP", "SCTP")),
    },
    "V1Probe": {f: Int(min=0) for f in ("initialDelaySeconds", "periodSeconds", "failureThreshold",
                                         "successThreshold", "timeoutSeconds")},
    "V1Toleration": {"operator": Enum(("Exists", "Equal")), "effect": TAINT_EFFECT},
    "V1Taint": {"effect": TAINT_EFFECT},
    "V1NodeSelectorRequirement": {"operator": Enum(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))},
    "V1LabelSelectorRequirement": {"operator": Enum(("In", "NotIn", "Exists", "DoesNotExist"))},
    "V1PreferredSchedulingTerm": {"weight": Int(min=1, max=100)},
    "V1WeightedPodAffinityTerm": {"weight": Int(min=1, max=100)},
    "V1DeploymentSpec": {
        "replicas": Int(min=0),
        "revisionHistoryLimit": Int(min=0),
        "minReadySeconds": Int(min=0),
        "progressDeadlineSeconds": Int(min=1),
    },
    "V1DeploymentStrategy": {"type": Enum(("RollingUpdate", "Recreate"))},
    # The client's models type these "bytes"; in JSON they are base64 strings (api/configdata.py).
    "V1Secret": {"data": MapOf(STRING)},
    "V1ConfigMap": {"binaryData": MapOf(STRING)},
    "V1RollingUpdateDeployment": {"maxSurge": INT_OR_PERCENT, "maxUnavailable": INT_OR_PERCENT},
    "V1ReplicaSetSpec": {"replicas": Int(min=0), "minReadySeconds": Int(min=0)},
    "V1NodeStatus": {
        "capacity": MapOf(QUANTITY),
        "allocatable": MapOf(QUANTITY),
        "platform": NODE_PLATFORM,
        "daemonEndpoint": STRING,
    },
    # Engine-reported image facts: any string, so an unusual image never fails a node update.
    "V1ContainerImage": {"os": STRING, "architecture": STRING, "osVersion": STRING,
                         "sizeBytes": Int(min=0)},
    "V1LeaseSpec": {"leaseDurationSeconds": Int(min=1)},
    "V1VolumeResourceRequirements": {"requests": MapOf(QUANTITY), "limits": MapOf(QUANTITY)},
    "V1PersistentVolumeClaimStatus": {"phase": Enum(("Pending", "Bound", "Lost")), "capacity": MapOf(QUANTITY)},
    # DaemonSet, Job, CronJob (controlplane/controllers/daemonset.py, job.py, cronjob.py).
    "V1DaemonSetSpec": {"revisionHistoryLimit": Int(min=0), "minReadySeconds": Int(min=0)},
    "V1DaemonSetUpdateStrategy": {"type": Enum(("RollingUpdate", "OnDelete"))},
    "V1RollingUpdateDaemonSet": {"maxSurge": INT_OR_PERCENT, "maxUnavailable": INT_OR_PERCENT},
    "V1JobSpec": {
        "completions": Int(min=0),
        "parallelism": Int(min=0),
        "backoffLimit": Int(min=0),
        "activeDeadlineSeconds": Int(min=1),
        "ttlSecondsAfterFinished": Int(min=0),
        "completionMode": Enum(("NonIndexed", "Indexed")),
    },
    "V1CronJobSpec": {
        "concurrencyPolicy": Enum(("Allow", "Forbid", "Replace")),
        "startingDeadlineSeconds": Int(min=0),
        "successfulJobsHistoryLimit": Int(min=0),
        "failedJobsHistoryLimit": Int(min=0),
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "V1PodSpec": ("containers",),
    "V1Container": ("name", "image"),
    "V1EnvVar": ("name",),
    "V1ContainerPort": ("containerPort",),
    "V1Taint": ("key", "effect"),
    "V1NodeSelector": ("nodeSelectorTerms",),
    "V1NodeSelectorRequirement": ("key", "operator"),
    "V1LabelSelectorRequirement": ("key", "operator"),
    "V1PreferredSchedulingTerm": ("weight", "preference"),
    "V1WeightedPodAffinityTerm": ("weight", "podAffinityTerm"),
    "V1PodAffinityTerm": ("topologyKey",),
    "V1DeploymentSpec": ("selector", "template"),
    "V1ReplicaSetSpec": ("selector",),
    "V1DaemonSetSpec": ("selector", "template"),
    "V1JobSpec": ("template",),
    "V1CronJobSpec": ("schedule", "jobTemplate"),
    "V1OwnerReference": ("apiVersion", "kind", "name", "uid"),
    "V1PersistentVolumeClaimVolumeSource": ("claimName",),
}

_ROOTS = {
    ("Namespace", "v1"): "V1Namespace",
    ("Node", "v1"): "V1Node",
    ("Pod", "v1"): "V1Pod",
    ("Deployment", "apps/v1"): "V1Deployment",
    ("ReplicaSet", "apps/v1"): "V1ReplicaSet",
    ("Event", "v1"): "CoreV1Event",
    ("Event", "events.k8s.io/v1"): "EventsV1Event",
    ("Lease", "coordination.k8s.io/v1"): "V1Lease",
    ("ConfigMap", "v1"): "V1ConfigMap",
    ("Secret", "v1"): "V1Secret",
    ("PersistentVolumeClaim", "v1"): "V1PersistentVolumeClaim",
    ("RoleBinding", "rbac.authorization.k8s.io/v1"): "V1RoleBinding",
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"): "V1ClusterRoleBinding",
    ("DaemonSet", "apps/v1"): "V1DaemonSet",
    ("Job", "batch/v1"): "V1Job",
    ("CronJob", "batch/v1"): "V1CronJob",
}


# Kinds that are custom resources in Kubernetes, so without a model in its client.
_STRUCT_ROOTS: dict[tuple[str, str], Struct] = {
    # windows-gmsa's CRD: the credential spec document itself, as an object.
    ("GMSACredentialSpec", "windows.k8s.io/v1"): Struct(
        {"apiVersion": STRING, "kind": STRING, "metadata": Model("V1ObjectMeta"), "credspec": MapOf(ANY)},
        must=("credspec",),
    ),
}


def root(kind: str, api_version: str) -> _Fields:
    """The schema of a whole object; KeyError for a kind/apiVersion pair not served."""
    if (kind, api_version) in _STRUCT_ROOTS:
        return _STRUCT_ROOTS[(kind, api_version)]
    return Model(_ROOTS[(kind, api_version)])
