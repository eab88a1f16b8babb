"""``mixctl get`` rows for DaemonSets, Jobs and CronJobs, with kubectl's columns."""

from __future__ import annotations

from datetime import datetime

from mixfleet.api import batch
from mixfleet.api.times import try_parse_time
from mixfleet.api.types import Obj
from mixfleet.mixctl.printers.age import age, format_age

NONE = "<none>"


def _created(o: Obj, now: datetime) -> str:
    return age((o.get("metadata") or {}).get("creationTimestamp"), now=now)


def daemonset_row(o: Obj, now: datetime) -> list[str]:
    st = o.get("status") or {}
    selector = ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    return [
        *(str(st.get(f, 0)) for f in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                      "updatedNumberScheduled", "numberAvailable")),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
        _created(o, now),
    ]


def job_status(o: Obj) -> str:
    """kubectl's STATUS: Complete, Failed, else Running."""
    return batch.finished(o) or "Running"


def job_duration(o: Obj, now: datetime) -> str:
    st = o.get("status") or {}
    start = try_parse_time(st.get("startTime"))
    if start is None:
        return ""
    end = try_parse_time(st.get("completionTime")) or batch.finished_at(o) or now
    return format_age((end - start).total_seconds())


def job_row(o: Obj, now: datetime) -> list[str]:
    st = o.get("status") or {}
    return [
        job_status(o),
        f"{st.get('succeeded', 0)}/{batch.completions(o)}",
        job_duration(o, now),
        _created(o, now),
    ]


def cronjob_row(o: Obj, now: datetime) -> list[str]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    last = st.get("lastScheduleTime")
    return [
        str(spec.get("schedule", "")),
        str(spec.get("timeZone") or NONE),
        "True" if spec.get("suspend") else "False",
        str(len(st.get("active") or [])),
        age(last, now=now) if last else NONE,
        _created(o, now),
    ]
