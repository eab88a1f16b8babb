"""The CronJob controller: makes a CronJob's Jobs on its schedule (Kubernetes' cronjob
controller v2, pkg/controller/cronjob).

A sync reads the CronJob and the Jobs it controls (by owner uid) from the informers:
- ``status.active`` follows its Jobs: a finished one leaves it (``SawCompletedJob``), one
  that is gone too (``MissingJob``, checked against the store, not only the cache); the
  latest ``completionTime`` of a Complete one is ``lastSuccessfulTime``.
- finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` are
  deleted, oldest ``startTime`` first (their pods go with them: garbage collector).
- unless ``suspend``, the most recent scheduled time not yet run, after ``lastScheduleTime``
  (else the CronJob's creation) and within ``startingDeadlineSeconds`` of now, gets its Job
  ``<name>-<minutes since the epoch>``; more than 100 missed times: ``TooManyMissedTimes``
  and only the latest is started. ``Forbid`` skips a run while a Job is active
  (``JobAlreadyActive``; it starts when that Job ends, if still within the deadline, as in
  Kubernetes); ``Replace`` deletes the active Jobs first.
The Job, the Jobs it replaces or prunes and the CronJob's new status (``active``,
``lastScheduleTime``) are one registry transaction guarded by the CronJob's revision: a
restarted or second leader either sees the run recorded or makes it itself, never twice,
and the Job's name (from its scheduled minute) collides with any copy. All state is in the
store, so a control plane that was down when a run was due starts it when it is back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from croniter import CroniterBadDateError

from mixfleet.api import batch, objects, times
from mixfleet.api import pods as P
from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import OWNER, cache_key
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import ObjectNotFoundError, Registry, Write
from mixfleet.util import log

_log = log.get("controllers.cronjob")

Clock = Callable[[], datetime]
PRUNE_BURST = 30  # Job deletions per transaction (two store operations each)
WAKE_SLACK = 0.05  # seconds after a scheduled time to look, so it has surely passed


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def job_from_template(cronjob: ObjView, scheduled: datetime, uid: str) -> Obj:
    """The Job of ``cronjob``'s run at ``scheduled``, stamped with that time."""
    job = batch.job_from_cronjob(cronjob, batch.job_name_for(cronjob, scheduled),
                                 annotations={batch.SCHEDULED_AT: batch.scheduled_stamp(cronjob, scheduled)})
    job["metadata"]["uid"] = uid
    return job


def job_ref(job: ObjView) -> Obj:
    m = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": m["name"],
            "namespace": m.get("namespace") or "default", "uid": m.get("uid", "")}


def _start_order(job: ObjView) -> tuple[int, datetime, str]:
    """Kubernetes' byJobStartTime: by status.startTime, Jobs without one last, then name."""
    start = times.try_parse_time((job.get("status") or {}).get("startTime"))
    never = datetime.max.replace(tzinfo=timezone.utc)
    return (start is None, start or never, str(job["metadata"]["name"]))


@dataclass
class _Step:
    """What one sync decided: the new status, the writes and the events after them."""

    status: Obj
    ops: list[Write] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # type, reason, message
    created: str = ""
    # Events about a state that lasts (a run skipped, a Job not ours): recorded once per
    # distinct message, not on every sync while it lasts.
    notes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def note(self, type_: str, reason: str, message: str) -> None:
        self.notes[f"{reason}/{message}"] = (type_, reason)


class CronJobController(Controller):
    name = "cronjob-controller"
    primary_kind = "CronJob"

    def __init__(
        self, registry: Registry, informers: SharedInformers, *,
        clock: Clock | None = None, resync_seconds: float | None = None,
    ) -> None:
        super().__init__(registry, informers)
        self.clock = clock or utc_now
        self._noted: dict[str, set[str]] = {}  # per key: the lasting states already told
        if resync_seconds:
            self.resync_seconds = resync_seconds
        informers.on("CronJob", lambda t, cj: self.queue.add(cache_key(cj)))
        self.jobs = informers.on("Job", self._on_job)

    def _on_job(self, type_: str, job: ObjView) -> None:
        ref = objects.controller_of(job)
        if ref and ref.get("kind") == "CronJob":
            self.queue.add(f"{objects.namespace(job) or 'default'}/{ref['name']}")

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        cj = self.primary.get(key)
        if cj is None:
            self.expectations.forget(key)
            self._noted.pop(key, None)
            return None
        now = self.clock()
        jobs = [j for j in self.jobs.by_index(OWNER, objects.uid(cj))
                if (objects.controller_of(j) or {}).get("uid") == objects.uid(cj)]
        step = _Step(status=thaw(cj.get("status") or {}))
        await self._follow_jobs(cj, jobs, step)
        wake: float | None = None
        if not P.deleting(cj):
            self._prune(cj, jobs, step)
            wake = self._schedule(cj, jobs, now, step)
        await self._commit(key, cj, step)
        return wake

    async def _follow_jobs(self, cj: ObjView, jobs: list[ObjView], step: _Step) -> None:
        st = step.status
        active = [dict(r) for r in st.get("active") or []]
        listed = {r.get("uid") for r in active}
        by_uid = {objects.uid(j): j for j in jobs}
        for j in jobs:
            name, ended = j["metadata"]["name"], batch.finished(j)
            if ended is None:
                if objects.uid(j) not in listed and batch.MANUAL not in (j["metadata"].get("annotations") or {}):
                    step.note(WARNING, "UnexpectedJob", f"Saw a job that the controller did not create or forgot: {name}")
                continue
            if objects.uid(j) in listed:
                active = [r for r in active if r.get("uid") != objects.uid(j)]
                step.event(NORMAL, "SawCompletedJob", f"Saw completed job: {name}, condition: {ended}")
            done = times.try_parse_time((j.get("status") or {}).get("completionTime"))
            last = times.try_parse_time(st.get("lastSuccessfulTime"))
            if ended == batch.COMPLETE and done and (last is None or done > last):
                st["lastSuccessfulTime"] = times.format_time(done)
        for r in list(active):
            if r.get("uid") in by_uid:
                continue
            try:  # the cache may lag behind a Job made by someone else: ask the store
                await self.registry.get("Job", str(r.get("name")), str(r.get("namespace") or ""))
            except ObjectNotFoundError:
                active.remove(r)
                step.event(NORMAL, "MissingJob", f"Active job went missing: {r.get('name')}")
        if active:
            st["active"] = active
        else:
            st.pop("active", None)

    def _prune(self, cj: ObjView, jobs: list[ObjView], step: _Step) -> None:
        spec = cj["spec"]
        for ended, limit_field in ((batch.COMPLETE, "successfulJobsHistoryLimit"),
                                   (batch.FAILED, "failedJobsHistoryLimit")):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            kept = sorted((j for j in jobs if batch.finished(j) == ended and not P.deleting(j)), key=_start_order)
            for j in kept[: max(len(kept) - int(limit), 0)][:PRUNE_BURST]:
                step.ops.append(writes.delete(j))
                step.event(NORMAL, "SuccessfulDelete", f"Deleted job {j['metadata']['name']}")

    def _schedule(self, cj: ObjView, jobs: list[ObjView], now: datetime, step: _Step) -> float | None:
        """Start the run that is due, if any; seconds until the next scheduled time."""
        spec, st = cj["spec"], step.status
        if spec.get("suspend"):
            return None
        try:
            batch.zone(cj)
        except batch.ScheduleError as e:
            step.note(WARNING, "UnknownTimeZone", f"invalid timeZone: {e}")
            return None
        last = times.try_parse_time(st.get("lastScheduleTime"))
        earliest = last or times.parse_time(cj["metadata"]["creationTimestamp"])
        deadline = batch.starting_deadline(cj)
        if deadline is not None and now - deadline > earliest:
            earliest = now - deadline
        try:
            scheduled, missed = batch.unmet(cj, earliest, now) if earliest <= now else (None, 0)
            wake = (batch.next_after(cj, now) - now).total_seconds() + WAKE_SLACK
        except CroniterBadDateError as e:
            step.note(WARNING, "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}")
            return None
        if missed > batch.MAX_MISSED:
            step.note(WARNING, "TooManyMissedTimes",
                       f"too many missed start times: {missed}. Set or decrease "
                       ".spec.startingDeadlineSeconds or check clock skew")
            _log.info("cronjob.too_many_missed", cronjob=cache_key(cj), missed=missed)
        if scheduled is None:
            return wake
        if deadline is not None and scheduled + deadline < now:
            step.note(WARNING, "MissSchedule", "Missed scheduled time to start a job: "
                       f"{scheduled.strftime('%a, %d %b %Y %H:%M:%S +0000')}")
            return wake
        name = batch.job_name_for(cj, scheduled)
        active = st.get("active") or []
        if any(r.get("name") == name for r in active) or last == scheduled:
            return wake  # this run is already made
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            step.note(NORMAL, "JobAlreadyActive",
                      "Not starting job because prior execution is running and concurrency policy is Forbid"
                      f" (scheduled {times.format_time(scheduled)})")
            return wake
        if policy == "Replace":
            self._replace(jobs, step)
        existing = self.jobs.get(f"{objects.namespace(cj) or 'default'}/{name}")
        if existing is not None:
            if (objects.controller_of(existing) or {}).get("uid") != objects.uid(cj):
                _log.info("cronjob.job_taken", cronjob=cache_key(cj), job=name)  # someone else's
                return wake
            ref = job_ref(existing)
        else:
            job = job_from_template(cj, scheduled, str(uuid.uuid4()))
            step.ops.append(writes.create(job, uid=job["metadata"]["uid"]))
            step.created = name
            ref = job_ref(job)
        if not any(r.get("uid") == ref["uid"] for r in st.get("active") or []):
            st["active"] = [*(st.get("active") or []), ref]
        st["lastScheduleTime"] = times.format_time(scheduled)
        return wake

    def _replace(self, jobs: list[ObjView], step: _Step) -> None:
        """Concurrency policy Replace: the active Jobs are deleted with the new one's making."""
        active = step.status.get("active") or []
        uids = {r.get("uid") for r in active}
        for j in jobs:
            if objects.uid(j) in uids:
                step.ops.append(writes.delete(j))
                step.event(NORMAL, "SuccessfulDelete", f"Deleted job {j['metadata']['name']}")
        step.status.pop("active", None)

    async def _commit(self, key: str, cj: ObjView, step: _Step) -> None:
        old = cj.get("status") or {}
        if step.status != old or step.ops:
            try:
                await self.commit(key, [writes.update(cj, writes.with_status(cj, step.status)), *step.ops])
            except InvalidObjectError as e:
                if step.created:
                    await self.events.record(cj, type=WARNING, reason="FailedCreate",
                                             message=f"Error creating job: {e}")
                raise
        if step.created:
            _log.info("cronjob.job_created", cronjob=key, job=step.created,
                      scheduled=step.status.get("lastScheduleTime"))
            step.event(NORMAL, "SuccessfulCreate", f"Created job {step.created}")
        for type_, reason, message in step.events:
            await self.events.record(cj, type=type_, reason=reason, message=message)
        noted = self._noted.setdefault(key, set())
        for what, (type_, reason) in step.notes.items():
            if what not in noted:
                await self.events.record(cj, type=type_, reason=reason, message=what.split("/", 1)[1])
        self._noted[key] = set(step.notes)
