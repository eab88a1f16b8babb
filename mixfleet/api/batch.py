"""Jobs and CronJobs (batch/v1): their rules and facts, read the same way by the API's
validation, the controllers and mixctl.

- A Job's pods run to completion: ``restartPolicy`` Never or OnFailure (Always is refused,
  as the Kubernetes API server does). ``completions`` pods must succeed, at most
  ``parallelism`` run at once; ``backoffLimit`` failures fail the Job (BackoffLimitExceeded),
  and so does running past ``activeDeadlineSeconds`` (DeadlineExceeded).
- A CronJob's ``schedule`` is a cron expression read by ``croniter`` (five fields, or
  ``@hourly``-style macros), in ``timeZone`` (an IANA name) or UTC.
"""

from __future__ import annotations

import copy
import zoneinfo
from datetime import datetime, timedelta, timezone
from typing import Any

from croniter import CroniterBadDateError, croniter

from mixfleet.api import objects, times
from mixfleet.api.errors import FieldError
from mixfleet.api.schema import show
from mixfleet.api.types import ObjView

JOB_NAME_LABEL = "job-name"
CONTROLLER_UID_LABEL = "controller-uid"
# Kubernetes' names for the same two labels since 1.27; both are set, as Kubernetes does.
BATCH_JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
BATCH_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
# On a CronJob's Jobs: the time the Job was scheduled for (Kubernetes' annotation).
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
# On a Job made by hand from a CronJob (`mixctl create job --from=cronjob/NAME`, kubectl's).
MANUAL = "cronjob.kubernetes.io/instantiate"
JOB_RESTART_POLICIES = ("Never", "OnFailure")
JOB_DEFAULTS = {"parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed"}
CRONJOB_DEFAULTS = {
    "concurrencyPolicy": "Allow",
    "successfulJobsHistoryLimit": 3,
    "failedJobsHistoryLimit": 1,
}
# A Job name is the CronJob's name and an 11-character suffix (-<minutes since epoch>).
CRONJOB_NAME_MAX = 52
# Kubernetes' back-off between a Job's retries: 10 s, doubled per failure, at most 6 minutes.
RETRY_BASE_SECONDS = 10.0
RETRY_MAX_SECONDS = 360.0

COMPLETE = "Complete"
FAILED = "Failed"
BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
DEADLINE_EXCEEDED = "DeadlineExceeded"


class ScheduleError(ValueError):
    """A CronJob schedule or time zone no one can act on; the message says why."""


def completions(job: ObjView) -> int:
    """Pods that must succeed: ``completions``, else as many as ``parallelism`` (Kubernetes:
    unset completions with parallelism N means "done when any pod succeeds"; Mixfleet reads
    it as one success, which is what such a work-queue Job's first finisher means)."""
    spec = job.get("spec") or {}
    value = spec.get("completions")
    return 1 if value is None else int(value)


def parallelism(job: ObjView) -> int:
    return int((job.get("spec") or {}).get("parallelism", 1))


def backoff_limit(job: ObjView) -> int:
    return int((job.get("spec") or {}).get("backoffLimit", 6))


def finished(job: ObjView) -> str | None:
    """``Complete`` or ``Failed`` once the Job has ended, else None."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True":
            return str(c["type"])
    return None


def finished_at(job: ObjView) -> datetime | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True":
            return times.try_parse_time(c.get("lastTransitionTime"))
    return None


def retry_delay(failures: int) -> float:
    """Seconds to wait before the pod that follows ``failures`` failed ones (0 for none)."""
    if failures <= 0:
        return 0.0
    return float(min(RETRY_BASE_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS))


def job_labels(job: ObjView) -> dict[str, str]:
    """The labels every pod of ``job`` carries (selectors and mixctl find them by these)."""
    name, uid = str(job["metadata"]["name"]), objects.uid(job)
    return {
        JOB_NAME_LABEL: name,
        BATCH_JOB_NAME_LABEL: name,
        CONTROLLER_UID_LABEL: uid,
        BATCH_CONTROLLER_UID_LABEL: uid,
    }


# ---- CronJob schedules ----------------------------------------------------------------


def zone(cronjob: ObjView) -> zoneinfo.ZoneInfo | timezone:
    name = (cronjob.get("spec") or {}).get("timeZone")
    if not name:
        return timezone.utc
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleError(f"unknown time zone {show(name)}") from e


def check_schedule(schedule: Any) -> str | None:
    """Why ``schedule`` cannot be used, or None. ``TZ=``/``CRON_TZ=`` prefixes are refused
    as Kubernetes does: ``spec.timeZone`` says it."""
    if not isinstance(schedule, str):
        return None  # the schema reports a wrong type
    if "TZ=" in schedule:
        return "the time zone goes in spec.timeZone, not in the schedule"
    fields = schedule.split()
    if schedule.startswith("@every"):  # robfig/cron's interval form, which croniter lacks
        return f"{show(schedule)}: @every is not supported by Mixfleet: write a cron expression (\"*/5 * * * *\")"
    if not croniter.is_valid(schedule) or (not schedule.startswith("@") and len(fields) != 5):
        return f"{show(schedule)} is not a valid cron schedule (5 fields: minute hour day-of-month month day-of-week)"
    try:
        croniter(schedule, datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except CroniterBadDateError:
        return f"{show(schedule)} never matches a date"
    return None


def next_after(cronjob: ObjView, after: datetime) -> datetime:
    """The first scheduled time strictly after ``after`` (aware, in UTC)."""
    tz = zone(cronjob)
    it = croniter(str(cronjob["spec"]["schedule"]), after.astimezone(tz))
    out: datetime = it.get_next(datetime)
    return out.astimezone(timezone.utc)


# Kubernetes' bound: past this many missed start times a CronJob gets a TooManyMissedTimes
# event and only the most recent one is started.
MAX_MISSED = 100


def latest_at_or_before(cronjob: ObjView, at: datetime) -> datetime:
    """The last scheduled time no later than ``at`` (aware, in UTC). croniter's get_prev is
    strictly before its start, and schedules are to the minute, so a second later does."""
    tz = zone(cronjob)
    it = croniter(str(cronjob["spec"]["schedule"]), (at + timedelta(seconds=1)).astimezone(tz))
    out: datetime = it.get_prev(datetime)
    return out.astimezone(timezone.utc)


def unmet(cronjob: ObjView, since: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The most recent scheduled time in (since, now] and how many there are. Past
    ``MAX_MISSED`` the count is estimated from the first interval, as Kubernetes does:
    counting on would cost a step per missed time (years of minutes, with a wrong clock)."""
    first = t = next_after(cronjob, since)
    if t > now:
        return None, 0
    count = 1
    while count <= MAX_MISSED:
        following = next_after(cronjob, t)
        if following > now:
            return t, count
        t, count = following, count + 1
    interval = (next_after(cronjob, first) - first).total_seconds()
    return latest_at_or_before(cronjob, now), int((now - first).total_seconds() // interval) + 1


def scheduled_stamp(cronjob: ObjView, scheduled: datetime) -> str:
    """The value of SCHEDULED_AT: RFC 3339 in the CronJob's time zone, as Kubernetes writes it."""
    local = scheduled.astimezone(zone(cronjob)).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_name_for(cronjob: ObjView, scheduled: datetime) -> str:
    """Kubernetes' name: the CronJob's and the scheduled time in minutes since the epoch, so
    a second controller (or a restarted one) making the same Job collides instead of
    running it twice."""
    minutes = int(scheduled.timestamp() // 60)
    return f"{cronjob['metadata']['name']}-{minutes}"


def job_from_cronjob(cronjob: ObjView, name: str, *, annotations: dict[str, str]) -> dict[str, Any]:
    """A Job of ``cronjob``: its jobTemplate's labels, annotations (and ``annotations``) and
    spec, the CronJob as controlling owner. The controller's runs and `mixctl create job
    --from=cronjob/NAME` alike."""
    tmpl = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = tmpl.get("metadata") or {}
    meta = {
        "name": name,
        "namespace": objects.namespace(cronjob) or "default",
        "labels": copy.deepcopy(tmeta.get("labels") or {}),
        "annotations": {**copy.deepcopy(tmeta.get("annotations") or {}), **annotations},
        "ownerReferences": [objects.owner_reference(cronjob)],
    }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": copy.deepcopy(tmpl.get("spec") or {})}


def starting_deadline(cronjob: ObjView) -> timedelta | None:
    value = (cronjob.get("spec") or {}).get("startingDeadlineSeconds")
    return None if value is None else timedelta(seconds=int(value))


# ---- validation (called from api/validation.py) ----------------------------------------


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def validate_job_spec(spec: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """What the schema cannot say about a Job spec at ``path``."""
    pod_spec = _map(_map(spec.get("template")).get("spec"))
    policy = pod_spec.get("restartPolicy")
    if policy not in JOB_RESTART_POLICIES:
        values = ", ".join(f'"{v}"' for v in JOB_RESTART_POLICIES)
        what = "required value" if policy is None else f"unsupported value {show(policy)}"
        errs.append(FieldError(f"{path}.template.spec.restartPolicy", f"{what}: supported values: {values}"))
    if spec.get("completionMode") == "Indexed":
        errs.append(FieldError(f"{path}.completionMode", '"Indexed": not supported by Mixfleet (supported: "NonIndexed")'))


def validate_cronjob(obj: dict[str, Any], errs: list[FieldError]) -> None:
    spec = _map(obj.get("spec"))
    why = check_schedule(spec.get("schedule"))
    if why:
        errs.append(FieldError("spec.schedule", why))
    if spec.get("timeZone") == "":
        errs.append(FieldError("spec.timeZone", "must be unset or an IANA time zone name, not empty"))
    elif isinstance(spec.get("timeZone"), str):
        try:
            zone(obj)
        except ScheduleError as e:
            errs.append(FieldError("spec.timeZone", str(e)))
    name = _map(obj.get("metadata")).get("name")
    if isinstance(name, str) and len(name) > CRONJOB_NAME_MAX:
        errs.append(FieldError("metadata.name", f"must be no more than {CRONJOB_NAME_MAX} characters"))
    validate_job_spec(_map(_map(spec.get("jobTemplate")).get("spec")), "spec.jobTemplate.spec", errs)
