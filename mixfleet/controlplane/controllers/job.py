"""The Job controller: runs a Job's pods to completion (Kubernetes' job controller, NonIndexed).

A sync reads the Job and its pods (by owner uid) from the informers and decides:
- ``succeeded`` counts pods that ended Succeeded; ``failed`` those that ended Failed plus,
  for ``restartPolicy: OnFailure``, the restarts of its pods' containers (as Kubernetes
  counts them towards ``backoffLimit``). Both only grow: a finished pod removed by someone
  else (the pod GC after its Node went) is not forgotten.
- more than ``backoffLimit`` failures: condition Failed, reason BackoffLimitExceeded;
  running longer than ``activeDeadlineSeconds`` since ``startTime``: Failed,
  DeadlineExceeded; ``completions`` successes: Complete. Then every pod still running is
  deleted (stopped gracefully by its agent) and nothing more is made.
- otherwise it keeps ``min(parallelism, completions - succeeded)`` pods active, waiting
  before each retry after a failure as Kubernetes does (10 s doubled per failure, at most 6
  minutes; ``job_backoff_seconds`` sets the base).
- a finished Job with ``ttlSecondsAfterFinished`` is deleted that long after it finished;
  the garbage collector removes its pods.
Pod creations and deletions are committed with the Job's status in one transaction guarded
by the Job's revision, as the ReplicaSet controller does, so two leaders cannot both act.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from mixfleet.api import batch, objects, times
from mixfleet.api import pods as P
from mixfleet.api.errors import InvalidObjectError
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers import writes
from mixfleet.controlplane.controllers.base import Controller
from mixfleet.controlplane.controllers.informers import SharedInformers
from mixfleet.controlplane.controllers.podtemplate import pod_from
from mixfleet.controlplane.events import NORMAL, WARNING
from mixfleet.controlplane.informer import OWNER, cache_key
from mixfleet.controlplane.registry import Registry, Write
from mixfleet.util import log

_log = log.get("controllers.job")

BURST = 100  # pod creations per transaction, as the ReplicaSet controller's
DELETE_BURST = 60

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def pod_from_job(job: ObjView, taken: set[str]) -> Obj:
    return pod_from(job, job["spec"].get("template") or {}, taken, labels=batch.job_labels(job))


def _restarts(pod: ObjView) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _last_failure(failed: list[ObjView]) -> datetime | None:
    """When the latest failed pod ended (its containers' finish, else its creation)."""
    latest: datetime | None = None
    for p in failed:
        t = None
        for s in (p.get("status") or {}).get("containerStatuses") or []:
            fin = times.try_parse_time(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            t = max(t, fin) if t and fin else (fin or t)
        t = t or times.try_parse_time((p.get("metadata") or {}).get("creationTimestamp"))
        if t is not None and (latest is None or t > latest):
            latest = t
    return latest


def _condition(type_: str, reason: str, message: str, now: datetime) -> dict[str, str]:
    at = times.format_time(now)
    return {"type": type_, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": at, "lastTransitionTime": at}


class JobController(Controller):
    name = "job-controller"
    primary_kind = "Job"
    workers = 2

    def __init__(
        self, registry: Registry, informers: SharedInformers, *,
        backoff_seconds: float = batch.RETRY_BASE_SECONDS, clock: Clock = utc_now,
    ) -> None:
        super().__init__(registry, informers)
        self.backoff_seconds = backoff_seconds
        self.clock = clock
        informers.on("Job", lambda t, job: self.queue.add(cache_key(job)))
        self.pods = informers.on("Pod", self._on_pod)

    def _on_pod(self, type_: str, pod: ObjView) -> None:
        ref = objects.controller_of(pod)
        if ref and ref.get("kind") == "Job":
            self.queue.add(f"{objects.namespace(pod) or 'default'}/{ref['name']}")

    def retry_delay(self, failures: int) -> float:
        return min(batch.retry_delay(failures) * self.backoff_seconds / batch.RETRY_BASE_SECONDS,
                   batch.RETRY_MAX_SECONDS)

    async def sync(self, key: str) -> float | None:
        if self.waiting(key):
            return writes.EXPECTATION_RECHECK
        job = self.primary.get(key)
        if job is None:
            self.expectations.forget(key)
            return None
        if P.deleting(job):
            return None
        now = self.clock()
        pods = [p for p in self.pods.by_index(OWNER, objects.uid(job)) if objects.is_owned_by(p, job)]
        if batch.finished(job):
            return await self._after_finish(key, job, pods, now)
        return await self._run(key, job, pods, now)

    async def _run(self, key: str, job: ObjView, pods: list[ObjView], now: datetime) -> float | None:
        old = job.get("status") or {}
        spec = job["spec"]
        active = [p for p in pods if P.is_active(p)]
        done_ok = [p for p in pods if P.phase(p) == "Succeeded"]
        done_bad = [p for p in pods if P.phase(p) == "Failed"]
        on_failure = (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure"
        restarts = sum(_restarts(p) for p in pods) if on_failure else 0
        succeeded = max(int(old.get("succeeded") or 0), len(done_ok))
        failed = max(int(old.get("failed") or 0), len(done_bad) + restarts)
        started = times.try_parse_time(old.get("startTime")) or now
        status: Obj = {
            "startTime": times.format_time(started),
            "active": len(active),
            "succeeded": succeeded,
            "failed": failed,
            "ready": sum(1 for p in active if P.is_ready(p)),
            "conditions": [dict(c) for c in old.get("conditions") or []],
        }
        deadline = spec.get("activeDeadlineSeconds")
        ends: tuple[str, str, str] | None = None
        if failed > batch.backoff_limit(job):
            ends = (batch.FAILED, batch.BACKOFF_LIMIT_EXCEEDED, "Job has reached the specified backoff limit")
        elif deadline is not None and now >= started + timedelta(seconds=int(deadline)):
            ends = (batch.FAILED, batch.DEADLINE_EXCEEDED, "Job was active longer than specified deadline")
        elif succeeded >= batch.completions(job):
            ends = (batch.COMPLETE, "", "")
        ops: list[Write] = []
        new_pods: list[Obj] = []
        removed: list[ObjView] = []
        wake: float | None = None
        if ends is not None:
            type_, reason, message = ends
            removed = active[:DELETE_BURST]
            status["conditions"].append(_condition(type_, reason, message, now))
            status["active"] = len(active) - len(removed)
            if type_ == batch.COMPLETE:
                status["completionTime"] = times.format_time(now)
        else:
            want = min(batch.parallelism(job), batch.completions(job) - succeeded)
            diff = want - len(active)
            if diff > 0:
                last = _last_failure(done_bad) if failed else None
                ready_at = last + timedelta(seconds=self.retry_delay(failed)) if last else now
                if now < ready_at:
                    wake = (ready_at - now).total_seconds()
                else:
                    taken = {p["metadata"]["name"] for p in pods}
                    new_pods = [pod_from_job(job, taken) for _ in range(min(diff, BURST))]
                    ops.extend(writes.create(p) for p in new_pods)
            elif diff < 0:
                removed = sorted(active, key=P.deletion_rank)[: min(-diff, DELETE_BURST)]
            status["active"] = len(active) - len(removed) + len(new_pods)
            if deadline is not None:
                left = (started + timedelta(seconds=int(deadline)) - now).total_seconds()
                wake = min(wake, left) if wake is not None else left
        ops.extend(writes.delete(p) for p in removed)
        if not ops and status == old:
            return wake
        try:
            await self.commit(key, [writes.update(job, writes.with_status(job, status)), *ops])
        except InvalidObjectError as e:
            if new_pods:
                await self.events.record(job, type=WARNING, reason="FailedCreate", message=f"Error creating: {e}")
            raise
        for p in new_pods:
            await self.events.record(job, type=NORMAL, reason="SuccessfulCreate",
                                     message=f"Created pod: {p['metadata']['name']}")
        if ends is not None:
            await self._finished(job, key, ends, status)
        elif removed:
            _log.info("job.scaled_down", job=key, deleted=len(removed))
        return wake

    async def _finished(self, job: ObjView, key: str, ends: tuple[str, str, str], status: Obj) -> None:
        type_, reason, message = ends
        _log.info("job.finished", job=key, condition=type_, reason=reason,
                  succeeded=status["succeeded"], failed=status["failed"])
        if type_ == batch.COMPLETE:
            await self.events.record(job, type=NORMAL, reason="Completed", message="Job completed")
        else:
            await self.events.record(job, type=WARNING, reason=reason, message=message)

    async def _after_finish(self, key: str, job: ObjView, pods: list[ObjView], now: datetime) -> float | None:
        """A finished Job: stop what still runs, then its TTL."""
        active = [p for p in pods if P.is_active(p)]
        if active:
            await self.commit(key, [writes.guard(job), *(writes.delete(p) for p in active[:DELETE_BURST])])
            return writes.EXPECTATION_RECHECK
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        ended = batch.finished_at(job)
        if ttl is None or ended is None:
            return None
        left = (ended + timedelta(seconds=int(ttl)) - now).total_seconds()
        if left > 0:
            return left
        await self.commit(key, [writes.delete(job)])
        _log.info("job.ttl_deleted", job=key, ttl_seconds=int(ttl))
        return None
