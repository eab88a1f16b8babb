"""``mixctl describe cronjob``: kubectl's fields (schedule, policy, history limits, the Job
template, last schedule time, active Jobs) and the CronJob's Events."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from mixfleet.api.times import try_parse_time
from mixfleet.api.types import Obj
from mixfleet.mixctl.printers.describe import _meta_fields, events_section
from mixfleet.mixctl.printers.text import NONE, Doc, key_values

UNSET = "<unset>"


def _set(value: object) -> object:
    return UNSET if value is None else value


def _when(value: object) -> str:
    """kubectl's time format (RFC 1123 with the offset), or <unset>."""
    t = try_parse_time(value)
    return t.strftime("%a, %d %b %Y %H:%M:%S %z") if t else UNSET


def describe_cronjob(o: Obj, events: Sequence[Obj], *, now: datetime) -> str:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = job_spec.get("template") or {}
    doc = Doc()
    doc.fields([
        *_meta_fields(o, namespaced=True),
        ("Schedule", spec.get("schedule")),
        ("Time Zone", spec.get("timeZone") or UNSET),
        ("Concurrency Policy", spec.get("concurrencyPolicy")),
        ("Suspend", "True" if spec.get("suspend") else "False"),
        ("Successful Job History Limit", _set(spec.get("successfulJobsHistoryLimit"))),
        ("Failed Job History Limit", _set(spec.get("failedJobsHistoryLimit"))),
        ("Starting Deadline Seconds", f"{spec['startingDeadlineSeconds']}s"
         if spec.get("startingDeadlineSeconds") is not None else UNSET),
        ("Parallelism", _set(job_spec.get("parallelism"))),
        ("Completions", _set(job_spec.get("completions"))),
        ("Backoff Limit", _set(job_spec.get("backoffLimit"))),
    ])
    doc.line("Pod Template:")
    doc.fields([("Labels", key_values((template.get("metadata") or {}).get("labels")))], indent=2)
    doc.line("Containers:", indent=2)
    for c in (template.get("spec") or {}).get("containers") or []:
        doc.line(f"{c.get('name')}:", indent=3)
        pairs: list[tuple[str, object]] = [("Image", c.get("image"))]
        if c.get("command"):
            pairs.append(("Command", " ".join(map(str, c["command"]))))
        doc.fields(pairs, indent=5)
    active = ", ".join(str(r.get("name")) for r in status.get("active") or []) or NONE
    doc.fields([
        ("Last Schedule Time", _when(status.get("lastScheduleTime"))),
        ("Last Successful Time", _when(status.get("lastSuccessfulTime"))),
        ("Active Jobs", active),
    ])
    events_section(doc, events, now=now)
    return doc.text()
