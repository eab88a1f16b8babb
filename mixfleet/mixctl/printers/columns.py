"""The columns ``mixctl get`` prints for each kind, normal and ``-o wide``.

Each kind has one small row function; ``rows()`` adds the NAMESPACE column for ``-A`` and
``kind/name`` names when several kinds are printed together (as kubectl does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from mixfleet.api import objects
from mixfleet.api.kinds import Kind
from mixfleet.api.times import try_parse_time
from mixfleet.api.types import Obj
from mixfleet.mixctl import names
from mixfleet.mixctl.printers.age import age
from mixfleet.mixctl.printers.batch import cronjob_row, daemonset_row, job_row
from mixfleet.mixctl.printers.podstatus import pod_ready, pod_restarts, pod_status

RowFn = Callable[[Obj, datetime], list[str]]
NONE = "<none>"


@dataclass(frozen=True, slots=True)
class Columns:
    headers: tuple[str, ...]  # after NAME
    row: RowFn
    wide_headers: tuple[str, ...] = ()
    wide_row: RowFn | None = None
    has_name: bool = True  # Events are listed by what they are about, not by name


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _created(o: Obj, now: datetime) -> str:
    return age(_meta(o).get("creationTimestamp"), now=now)


def _or_none(value: object) -> str:
    return str(value) if value not in (None, "", [], {}) else NONE


# ---- Pods ----
def _pod(o: Obj, now: datetime) -> list[str]:
    return [pod_ready(o), pod_status(o), pod_restarts(o, now=now), _created(o, now)]


def _pod_wide(o: Obj, now: datetime) -> list[str]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    isolation = status.get("isolation") or (spec.get("binding") or {}).get("isolation")
    return [
        _or_none(status.get("podIP")),
        _or_none(spec.get("nodeName")),
        _or_none(isolation),
        _or_none(",".join(pod_images(o))),
    ]


def pod_images(o: Obj) -> list[str]:
    """The image each container runs: the scheduler's choice when it made one."""
    spec = o.get("spec") or {}
    chosen = (spec.get("binding") or {}).get("images") or {}
    return [chosen.get(c.get("name"), c.get("image", "")) for c in spec.get("containers") or []]


# ---- Deployments and ReplicaSets ----
def _deploy(o: Obj, now: datetime) -> list[str]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        str(status.get("updatedReplicas", 0)),
        str(status.get("availableReplicas", 0)),
        _created(o, now),
    ]


def _rs(o: Obj, now: datetime) -> list[str]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [
        str(spec.get("replicas", 1)),
        str(status.get("replicas", 0)),
        str(status.get("readyReplicas", 0)),
        _created(o, now),
    ]


def _workload_wide(o: Obj, now: datetime) -> list[str]:
    spec = o.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return [
        _or_none(",".join(c.get("name", "") for c in containers)),
        _or_none(",".join(c.get("image", "") for c in containers)),
        _or_none(",".join(f"{k}={v}" for k, v in selector.items())),
    ]


# ---- Nodes ----
def node_status(o: Obj) -> str:
    word = "Ready" if objects.condition_true(o, "Ready") else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        word += ",SchedulingDisabled"
    return word


def node_roles(o: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in _meta(o).get("labels") or {} if k.startswith(prefix))
    return ",".join(roles) or NONE


def _node(o: Obj, now: datetime) -> list[str]:
    info = (o.get("status") or {}).get("nodeInfo") or {}
    version = info.get("kubeletVersion") or info.get("agentVersion") or info.get(
        "containerRuntimeVersion"
    )
    return [node_status(o), node_roles(o), _created(o, now), _or_none(version)]


def node_os_build(o: Obj) -> str:
    status = o.get("status") or {}
    os_name = (status.get("nodeInfo") or {}).get("operatingSystem") or _meta(o).get(
        "labels", {}
    ).get("kubernetes.io/os", "")
    build = (status.get("platform") or {}).get("osBuild")
    return f"{os_name}/{build}" if build else _or_none(os_name)


def _node_wide(o: Obj, now: datetime) -> list[str]:
    status = o.get("status") or {}
    info, platform = status.get("nodeInfo") or {}, status.get("platform") or {}
    alloc = status.get("allocatable") or {}
    return [
        _or_none(info.get("osImage")),
        _or_none(info.get("kernelVersion") or platform.get("kernelVersion")),
        node_os_build(o),
        _or_none(",".join(platform.get("isolationModes") or [])),
        _or_none(alloc.get("cpu")),
        _or_none(alloc.get("memory")),
    ]


# ---- Namespaces, Events, Leases ----
def _namespace(o: Obj, now: datetime) -> list[str]:
    return [(o.get("status") or {}).get("phase") or "Active", _created(o, now)]


def event_last_seen(o: Obj) -> object:
    return o.get("lastTimestamp") or o.get("eventTime") or _meta(o).get("creationTimestamp")


def event_object(o: Obj) -> str:
    inv = o.get("involvedObject") or o.get("regarding") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


def _event(o: Obj, now: datetime) -> list[str]:
    return [
        age(event_last_seen(o), now=now),
        o.get("type") or "Normal",
        o.get("reason") or "",
        event_object(o),
        (o.get("message") or o.get("note") or "").replace("\n", " "),
    ]


def _lease(o: Obj, now: datetime) -> list[str]:
    return [_or_none((o.get("spec") or {}).get("holderIdentity")), _created(o, now)]


def _configmap(o: Obj, now: datetime) -> list[str]:
    return [str(len(o.get("data") or {}) + len(o.get("binaryData") or {})), _created(o, now)]


def _secret(o: Obj, now: datetime) -> list[str]:
    return [str(o.get("type") or "Opaque"), str(len(o.get("data") or {})), _created(o, now)]


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def claim_status(o: Obj) -> str:
    """kubectl's STATUS of a claim: Terminating while being deleted, else its phase."""
    return "Terminating" if _meta(o).get("deletionTimestamp") else str((o.get("status") or {}).get("phase") or "Pending")


def claim_access_modes(o: Obj) -> str:
    modes = (o.get("status") or {}).get("accessModes") or (o.get("spec") or {}).get("accessModes") or ()
    return ",".join(_ACCESS_MODES.get(m, str(m)) for m in modes)


def _claim(o: Obj, now: datetime) -> list[str]:
    node = (_meta(o).get("annotations") or {}).get("volume.kubernetes.io/selected-node")
    capacity = ((o.get("status") or {}).get("capacity") or {}).get("storage")
    return [claim_status(o), _or_none(node), str(capacity or ""), claim_access_modes(o),
            str((o.get("spec") or {}).get("storageClassName") or ""), _created(o, now)]


def _generic(o: Obj, now: datetime) -> list[str]:
    return [_created(o, now)]


def _binding(o: Obj, now: datetime) -> list[str]:
    ref = o.get("roleRef") or {}
    return [f"{ref.get('kind', '')}/{ref.get('name', '')}", _created(o, now)]


def _binding_wide(o: Obj, now: datetime) -> list[str]:
    """kubectl's USERS and GROUPS columns."""
    subjects = o.get("subjects") or []
    return [",".join(s.get("name", "") for s in subjects if s.get("kind") == kind) for kind in ("User", "Group")]


_WORKLOAD_WIDE = ("CONTAINERS", "IMAGES", "SELECTOR")
_COLUMNS: dict[str, Columns] = {
    "Pod": Columns(
        ("READY", "STATUS", "RESTARTS", "AGE"),
        _pod,
        ("IP", "NODE", "ISOLATION", "IMAGE"),
        _pod_wide,
    ),
    "Deployment": Columns(
        ("READY", "UP-TO-DATE", "AVAILABLE", "AGE"), _deploy, _WORKLOAD_WIDE, _workload_wide
    ),
    "ReplicaSet": Columns(
        ("DESIRED", "CURRENT", "READY", "AGE"), _rs, _WORKLOAD_WIDE, _workload_wide
    ),
    "Node": Columns(
        ("STATUS", "ROLES", "AGE", "VERSION"),
        _node,
        ("OS-IMAGE", "KERNEL-VERSION", "OS/BUILD", "ISOLATION", "CPU", "MEMORY"),
        _node_wide,
    ),
    "Namespace": Columns(("STATUS", "AGE"), _namespace),
    "Event": Columns(("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), _event, has_name=False),
    "Lease": Columns(("HOLDER", "AGE"), _lease),
    "ConfigMap": Columns(("DATA", "AGE"), _configmap),
    "Secret": Columns(("TYPE", "DATA", "AGE"), _secret),
    "RoleBinding": Columns(("ROLE", "AGE"), _binding, ("USERS", "GROUPS"), _binding_wide),
    "ClusterRoleBinding": Columns(("ROLE", "AGE"), _binding, ("USERS", "GROUPS"), _binding_wide),
    "PersistentVolumeClaim": Columns(("STATUS", "NODE", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"), _claim),
    "DaemonSet": Columns(
        ("DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"),
        daemonset_row, _WORKLOAD_WIDE, _workload_wide,
    ),
    "Job": Columns(("STATUS", "COMPLETIONS", "DURATION", "AGE"), job_row, _WORKLOAD_WIDE, _workload_wide),
    "CronJob": Columns(("SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"), cronjob_row),
}


def columns_for(kind: Kind) -> Columns:
    return _COLUMNS.get(kind.kind, Columns(("AGE",), _generic))


@dataclass(frozen=True, slots=True)
class TableOptions:
    wide: bool = False
    all_namespaces: bool = False
    kind_prefix: bool = False  # name cells as ``pod/web-0`` (several kinds in one call)


def headers(kind: Kind, opts: TableOptions) -> list[str]:
    cols = columns_for(kind)
    out = ["NAMESPACE"] if opts.all_namespaces and kind.namespaced else []
    out += ["NAME"] if cols.has_name else []
    out += cols.headers
    return out + list(cols.wide_headers) if opts.wide and cols.wide_row else out


def row(kind: Kind, o: Obj, opts: TableOptions, *, now: datetime) -> list[str]:
    cols = columns_for(kind)
    meta = _meta(o)
    out = [meta.get("namespace", "")] if opts.all_namespaces and kind.namespaced else []
    if cols.has_name:
        name = meta.get("name", "")
        out.append(f"{names.singular(kind)}/{name}" if opts.kind_prefix else name)
    out += cols.row(o, now)
    if opts.wide and cols.wide_row:
        out += cols.wide_row(o, now)
    return out


def sort_key(kind: Kind, o: Obj) -> tuple[Any, ...]:
    """Events in time order (what happened last is printed last); others by name."""
    meta = _meta(o)
    if kind.kind == "Event":
        ts = try_parse_time(event_last_seen(o))
        # Within one second, by when each was first seen to the microsecond (eventTime):
        # a node's Pulled, Created and Started often share a second.
        first = try_parse_time(o.get("eventTime"))
        return (ts.timestamp() if ts else 0.0, first.timestamp() if first else 0.0,
                meta.get("name", ""))
    return (meta.get("namespace", ""), meta.get("name", ""))


def rows(kind: Kind, objs: Sequence[Obj], opts: TableOptions, *, now: datetime) -> list[list[str]]:
    return [row(kind, o, opts, now=now) for o in sorted(objs, key=lambda o: sort_key(kind, o))]
