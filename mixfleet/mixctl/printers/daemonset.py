"""``mixctl describe daemonset``: kubectl's fields, the pods by phase, the nodes left out
and why (the ``NodesSkipped`` condition), and the events."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Sequence

from mixfleet.api.types import Obj
from mixfleet.mixctl.printers.describe import _conditions, _meta_fields, events_section
from mixfleet.mixctl.printers.text import Doc, key_values


def describe_daemonset(ds: Obj, pods: Sequence[Obj], events: Sequence[Obj], *, now: datetime) -> str:
    spec, st = ds.get("spec") or {}, ds.get("status") or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    phases = Counter((p.get("status") or {}).get("phase") or "Pending" for p in pods)
    doc = Doc()
    fields = _meta_fields(ds, namespaced=True)
    fields[2:2] = [  # after Name and Namespace, as kubectl has them
        ("Selector", key_values((spec.get("selector") or {}).get("matchLabels")).replace("\n", ",")),
        ("Node-Selector", key_values(pod_spec.get("nodeSelector")).replace("\n", ",")),
    ]
    fields += [
        ("Update Strategy", strategy.get("type", "RollingUpdate")),
        ("Desired Number of Nodes Scheduled", st.get("desiredNumberScheduled", 0)),
        ("Current Number of Nodes Scheduled", st.get("currentNumberScheduled", 0)),
        ("Number of Nodes Scheduled with Up-to-date Pods", st.get("updatedNumberScheduled", 0)),
        ("Number of Nodes Scheduled with Available Pods", st.get("numberAvailable", 0)),
        ("Number of Nodes Misscheduled", st.get("numberMisscheduled", 0)),
        ("Pods Status", f"{phases['Running']} Running / {phases['Pending']} Waiting / "
                        f"{phases['Succeeded']} Succeeded / {phases['Failed']} Failed"),
    ]
    doc.fields(fields)
    doc.line("Pod Template:")
    doc.fields([("Labels", key_values((template.get("metadata") or {}).get("labels")))], indent=2)
    doc.line("Containers:", indent=2)
    for c in pod_spec.get("containers") or []:
        doc.line(f"{c.get('name')}:", indent=3)
        doc.fields([("Image", c.get("image"))], indent=5)
    _conditions(doc, st.get("conditions") or [])
    events_section(doc, events, now=now)
    return doc.text()
