"""``mixctl describe`` text for pods, nodes, deployments/replicasets and anything else.

Each describer takes the object and what was fetched alongside it (its Events, a node's
pods) and returns text: no I/O here, so the output is easy to test.
"""

from __future__ import annotations

import base64

from datetime import datetime
from typing import Sequence

from mixfleet.api import quantity
from mixfleet.api.kinds import by_kind
from mixfleet.api.types import Obj
from mixfleet.mixctl.printers import columns, output
from mixfleet.mixctl.printers.age import age
from mixfleet.mixctl.printers.podstatus import pod_status
from mixfleet.mixctl.printers.text import NONE, Doc, key_values

_EVENT = by_kind("Event")


def _meta_fields(o: Obj, *, namespaced: bool) -> list[tuple[str, object]]:
    meta = o.get("metadata") or {}
    out: list[tuple[str, object]] = [("Name", meta.get("name"))]
    if namespaced:
        out.append(("Namespace", meta.get("namespace")))
    out += [
        ("Labels", key_values(meta.get("labels"))),
        ("Annotations", key_values(meta.get("annotations"))),
        ("CreationTimestamp", meta.get("creationTimestamp")),
    ]
    return out


def events_section(doc: Doc, events: Sequence[Obj], *, now: datetime) -> None:
    if not events:
        doc.line("Events:  No events.")
        return
    doc.line("Events:")
    rows = []
    for e in sorted(events, key=lambda e: columns.sort_key(_EVENT, e)):
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        rows.append([
            e.get("type") or "Normal",
            e.get("reason") or "",
            _event_age(e, now=now),
            source,
            (e.get("message") or "").replace("\n", " "),
        ])
    doc.table(["Type", "Reason", "Age", "From", "Message"], rows, rule=True)


def _event_age(e: Obj, *, now: datetime) -> str:
    """kubectl's: ``10s``, or ``10s (x3 over 2m)`` for an event seen more than once."""
    last = age(columns.event_last_seen(e), now=now)
    count = e.get("count") or (e.get("series") or {}).get("count") or 1
    if int(count) <= 1:
        return last
    first = e.get("firstTimestamp") or e.get("eventTime") or columns.event_last_seen(e)
    return f"{last} (x{int(count)} over {age(first, now=now)})"


def _conditions(doc: Doc, conds: Sequence[Obj], *, extra: Sequence[str] = ()) -> None:
    if not conds:
        doc.fields([("Conditions", NONE)])
        return
    doc.line("Conditions:")
    rows = [
        [c.get("type", ""), c.get("status", ""), *[str(c.get(k) or "") for k in extra],
         c.get("reason") or "", c.get("message") or ""]
        for c in conds
    ]
    doc.table(["Type", "Status", *[e[0].upper() + e[1:] for e in extra], "Reason", "Message"], rows)


# ---------- Pods ----------
def _container_state(state: Obj) -> list[tuple[str, object]]:
    if "running" in state:
        return [("State", "Running"), ("  Started", (state["running"] or {}).get("startedAt"))]
    if "terminated" in state:
        t = state["terminated"] or {}
        return [("State", "Terminated"), ("  Reason", t.get("reason")), ("  Exit Code", t.get("exitCode")),
                ("  Started", t.get("startedAt")), ("  Finished", t.get("finishedAt"))]
    if "waiting" in state:
        w = state["waiting"] or {}
        out: list[tuple[str, object]] = [("State", "Waiting"), ("  Reason", w.get("reason"))]
        return out + ([("  Message", w["message"])] if w.get("message") else [])
    return [("State", "Waiting")]


def _resources(doc: Doc, resources: Obj) -> None:
    for title in ("limits", "requests"):
        values = resources.get(title) or {}
        if values:
            doc.line(f"{title.capitalize()}:", indent=4)
            doc.fields([(k, v) for k, v in sorted(values.items())], indent=6)


def _containers(doc: Doc, pod: Obj) -> None:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    by_name = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
    images = dict(zip([c.get("name") for c in spec.get("containers") or []], columns.pod_images(pod)))
    doc.line("Containers:")
    for c in spec.get("containers") or []:
        cs = by_name.get(c.get("name"), {})
        doc.line(f"{c.get('name')}:", indent=2)
        pairs: list[tuple[str, object]] = [("Container ID", cs.get("containerID")), ("Image", images.get(c.get("name")))]
        if c.get("command"):
            pairs.append(("Command", " ".join(map(str, c["command"]))))
        pairs += _container_state(cs.get("state") or {})
        last = cs.get("lastState") or {}
        if last:
            pairs += [("Last " + k.strip(), v) if k == "State" else (k, v) for k, v in _container_state(last)]
        pairs += [("Ready", cs.get("ready", False)), ("Restart Count", cs.get("restartCount", 0))]
        doc.fields(pairs, indent=4)
        _resources(doc, c.get("resources") or {})


def describe_pod(pod: Obj, events: Sequence[Obj], *, now: datetime) -> str:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    binding = spec.get("binding") or {}
    node = spec.get("nodeName")
    doc = Doc()
    fields = _meta_fields(pod, namespaced=True)
    fields[2:2] = [
        ("Node", f"{node}/{status['hostIP']}" if node and status.get("hostIP") else node),
        ("Start Time", status.get("startTime")),
    ]
    fields += [
        ("Status", pod_status(pod)),
        ("IP", status.get("podIP")),
        ("Isolation", status.get("isolation") or binding.get("isolation")),
        ("Platform", _platform(spec.get("platform") or {})),
    ]
    fields += [(k.capitalize(), status[k]) for k in ("reason", "message") if status.get(k)]
    doc.fields(fields)
    _containers(doc, pod)
    _conditions(doc, status.get("conditions") or [])
    doc.fields([
        ("Node-Selectors", key_values(spec.get("nodeSelector"))),
        ("Tolerations", "\n".join(_toleration(t) for t in spec.get("tolerations") or []) or NONE),
    ])
    events_section(doc, events, now=now)
    return doc.text()


def _platform(p: Obj) -> str:
    keys = ("os", "isolation", "osVersion", "minKernelVersion")
    return ", ".join(f"{k}={p[k]}" for k in keys if p.get(k)) or NONE


def _toleration(t: Obj) -> str:
    text = t.get("key") or ""
    if t.get("operator") == "Exists":
        text += " op=Exists"
    elif t.get("value"):
        text += f"={t['value']}"
    return text + (f":{t['effect']}" if t.get("effect") else "")


# ---------- Nodes ----------
def _taint(t: Obj) -> str:
    value = f"={t['value']}" if t.get("value") else ""
    return f"{t.get('key')}{value}:{t.get('effect')}"


def _sum_requests(pods: Sequence[Obj], key: str) -> int:
    measure = quantity.cpu_millis if key == "cpu" else quantity.memory_bytes
    total = 0
    for p in pods:
        for c in (p.get("spec") or {}).get("containers") or []:
            value = ((c.get("resources") or {}).get("requests") or {}).get(key)
            if value is not None:
                total += measure(value)
    return total


def describe_node(node: Obj, pods: Sequence[Obj], events: Sequence[Obj], *, now: datetime) -> str:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    plat = status.get("platform") or {}
    info = status.get("nodeInfo") or {}
    doc = Doc()
    fields = _meta_fields(node, namespaced=False)
    fields[1:1] = [("Roles", columns.node_roles(node))]
    fields += [
        ("Taints", "\n".join(_taint(t) for t in spec.get("taints") or []) or NONE),
        ("Unschedulable", bool(spec.get("unschedulable"))),
        ("Status", columns.node_status(node)),
        ("Daemon Endpoint", status.get("daemonEndpoint")),
    ]
    doc.fields(fields)
    doc.line("Platform:")
    doc.fields([
        ("OS/Build", columns.node_os_build(node)),
        ("OS Version", plat.get("osVersion")),
        ("Windows Edition", plat.get("windowsEdition")),
        ("Kernel Version", plat.get("kernelVersion") or info.get("kernelVersion")),
        ("Isolation Modes", ", ".join(plat.get("isolationModes") or [])),
        ("Default Isolation", plat.get("defaultIsolation")),
        ("LCOW", bool(plat.get("lcow"))),
        ("Hyper-V Overhead", ", ".join(f"{k}={v}" for k, v in (plat.get("hypervOverhead") or {}).items())),
        ("Simulated", bool(plat.get("simulated"))),
    ], indent=2)
    _conditions(doc, status.get("conditions") or [], extra=("lastHeartbeatTime",))
    for title, values in (("Capacity", status.get("capacity")), ("Allocatable", status.get("allocatable")),
                          ("System Info", info)):
        if not values:
            doc.fields([(title, NONE)])
            continue
        doc.line(f"{title}:")
        # Resource names stay as written (cpu, memory); nodeInfo keys read better capitalised.
        label = (lambda k: k[0].upper() + k[1:]) if title == "System Info" else str
        doc.fields([(label(k), v) for k, v in sorted(values.items())], indent=2)
    _node_pods(doc, node, pods, now=now)
    events_section(doc, events, now=now)
    return doc.text()


def _node_pods(doc: Doc, node: Obj, pods: Sequence[Obj], *, now: datetime) -> None:
    doc.line(f"Non-terminated Pods:  ({len(pods)} in total)")
    rows = []
    for p in sorted(pods, key=lambda p: ((p["metadata"].get("namespace", "")), p["metadata"]["name"])):
        rows.append([p["metadata"].get("namespace", ""), p["metadata"]["name"],
                     quantity.format_cpu(_sum_requests([p], "cpu")),
                     quantity.format_memory(_sum_requests([p], "memory")),
                     age(p["metadata"].get("creationTimestamp"), now=now)])
    doc.table(["Namespace", "Name", "CPU Requests", "Memory Requests", "Age"], rows, rule=True)
    alloc = (node.get("status") or {}).get("allocatable") or {}
    doc.line("Allocated resources:")
    doc.table(["Resource", "Requests", "Allocatable"], [
        ["cpu", quantity.format_cpu(_sum_requests(pods, "cpu")), str(alloc.get("cpu", NONE))],
        ["memory", quantity.format_memory(_sum_requests(pods, "memory")), str(alloc.get("memory", NONE))],
    ], rule=True)


# ---------- Deployments, ReplicaSets, everything else ----------
def describe_workload(o: Obj, events: Sequence[Obj], *, now: datetime) -> str:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    doc = Doc()
    fields = _meta_fields(o, namespaced=True)
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    fields.append(("Selector", ",".join(f"{k}={v}" for k, v in sel.items())))
    want = spec.get("replicas", 1)
    fields.append(("Replicas", (
        f"{want} desired | {status.get('updatedReplicas', 0)} updated | {status.get('replicas', 0)} total | "
        f"{status.get('availableReplicas', 0)} available | {status.get('unavailableReplicas', 0)} unavailable"
    ) if o.get("kind") == "Deployment" else f"{status.get('replicas', 0)} current / {want} desired"))
    if spec.get("strategy"):
        fields.append(("StrategyType", (spec["strategy"] or {}).get("type")))
    doc.fields(fields)
    doc.line("Pod Template:")
    template = spec.get("template") or {}
    doc.fields([("Labels", key_values((template.get("metadata") or {}).get("labels")))], indent=2)
    doc.line("Containers:", indent=2)
    for c in (template.get("spec") or {}).get("containers") or []:
        doc.line(f"{c.get('name')}:", indent=3)
        doc.fields([("Image", c.get("image"))], indent=5)
    _conditions(doc, status.get("conditions") or [])
    events_section(doc, events, now=now)
    return doc.text()


def describe_secret(o: Obj, events: Sequence[Obj], *, now: datetime) -> str:
    """Like kubectl: each key with its size, never its value."""
    doc = Doc()
    fields = _meta_fields(o, namespaced=True)
    fields.append(("Type", o.get("type") or "Opaque"))
    doc.fields(fields)
    doc.line("Data")
    doc.line("====")
    for key, value in sorted((o.get("data") or {}).items()):
        size = len(base64.b64decode(value)) if isinstance(value, str) else 0
        doc.line(f"{key}:  {size} bytes")
    events_section(doc, events, now=now)
    return doc.text()


def describe_claim(o: Obj, used_by: Sequence[str], events: Sequence[Obj], *, now: datetime) -> str:
    """Like kubectl's, with the claim's node where kubectl shows its volume."""
    doc = Doc()
    meta, spec, status = o.get("metadata") or {}, o.get("spec") or {}, o.get("status") or {}
    fields = _meta_fields(o, namespaced=True)
    fields[2:2] = [("StorageClass", spec.get("storageClassName")), ("Status", columns.claim_status(o)),
                   ("Node", (meta.get("annotations") or {}).get("volume.kubernetes.io/selected-node") or NONE)]
    fields += [
        ("Finalizers", "[" + ", ".join(meta.get("finalizers") or ()) + "]"),
        ("Requested", ((spec.get("resources") or {}).get("requests") or {}).get("storage")),
        ("Capacity", (status.get("capacity") or {}).get("storage") or ""),
        ("Access Modes", columns.claim_access_modes(o)),
        ("VolumeMode", spec.get("volumeMode")),
        ("Used By", ", ".join(used_by) or NONE),
    ]
    doc.fields(fields)
    events_section(doc, events, now=now)
    return doc.text()


def describe_generic(o: Obj, events: Sequence[Obj], *, now: datetime) -> str:
    doc = Doc()
    doc.fields(_meta_fields(o, namespaced=bool((o.get("metadata") or {}).get("namespace"))))
    rest = {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}
    for line in output.dump_yaml(rest).rstrip("\n").split("\n") if rest else []:
        doc.line(line)
    events_section(doc, events, now=now)
    return doc.text()

