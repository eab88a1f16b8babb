"""Pod status as the node agent reports it (docs/MANIFESTS.md, "Pod status"), computed from
the pod's containers and, for containers with a readiness probe, the ids of those whose probe
passes (``nodeagent.probes``); a running container without a probe is ready. Pure and stable: unchanged containers give an equal dict, so the agent
writes status only when something a user would see changed."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Container, Mapping, Sequence

from mixfleet.api.times import format_time
from mixfleet.nodeagent.backoff import BackoffState, should_restart
from mixfleet.nodeagent.engines.base import ContainerState, RunState
from mixfleet.nodeagent.podspec import (
    LABEL_CONTAINER,
    LABEL_ISOLATION,
    LABEL_POD_UID,
    attempt_of,
    container_image,
    pod_uid,
)
from mixfleet.nodeagent.probes import ProbeKind, ProbeSpec, gates_readiness
from mixfleet.nodeagent.sandbox import in_sandbox, pod_ip, split

_OUR_CONDITIONS = ("Initialized", "ContainersReady", "Ready")


def _t(t: datetime | None) -> str | None:
    return format_time(t) if t else None


def terminated(c: ContainerState, *, runtime: str = "docker") -> dict[str, Any]:
    code = c.exit_code if c.exit_code is not None else 0
    return {
        "terminated": {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": _t(c.started_at),
            "finishedAt": _t(c.finished_at),
            "containerID": f"{runtime}://{c.id}",
        }
    }


def _container_status(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    history: Sequence[ContainerState],
    *,
    now: datetime,
    backoff: BackoffState,
    runtime: str,
    ready_ids: Container[str],
    started_ids: Container[str],
    policy: str | None = None,
    waiting_reason: str = "ContainerCreating",
) -> dict[str, Any]:
    """``policy`` overrides the pod's restartPolicy (init containers: OnFailure for Always);
    ``waiting_reason`` is shown while nothing was created yet (PodInitializing)."""
    name, uid = str(container["name"]), pod_uid(pod)
    current = history[-1] if history else None
    previous = history[-2] if len(history) > 1 else None
    st: dict[str, Any] = {
        "name": name,
        "image": container_image(pod, container),
        "ready": False,
        "restartCount": attempt_of(current) if current else 0,
        "started": False,
        "state": {},
        "lastState": {},
    }
    if previous is not None and previous.state is RunState.EXITED:
        st["lastState"] = terminated(previous, runtime=runtime)
    if current is None or current.state is RunState.CREATED:
        failure = backoff.failures.get((uid, name))
        waiting = (
            {"reason": failure.reason, "message": failure.message}
            if failure
            else {"reason": waiting_reason}
        )
        st["state"] = {"waiting": waiting}
        return st
    st["containerID"] = f"{runtime}://{current.id}"
    if current.state is RunState.RUNNING:
        st["state"] = {"running": {"startedAt": _t(current.started_at)}}
        # A startup probe holds "started" (and readiness) until it passes; a readiness
        # probe holds readiness.
        st["started"] = (
            ProbeSpec.of(container, ProbeKind.STARTUP) is None or current.id in started_ids
        )
        st["ready"] = not gates_readiness(container) or current.id in ready_ids
        return st
    policy = policy or str((pod.get("spec") or {}).get("restartPolicy") or "Always")
    until = backoff.restart_at(current, attempt=attempt_of(current))
    if should_restart(policy, current.exit_code) and now < until:
        delay = int(backoff.delay(attempt_of(current)))
        meta = pod.get("metadata") or {}
        where = f"{meta.get('name')}_{meta.get('namespace') or 'default'}({uid})"
        msg = f"back-off {delay}s restarting failed container={name} pod={where}"
        st["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
        st["lastState"] = terminated(current, runtime=runtime)
    else:
        st["state"] = terminated(current, runtime=runtime)
    return st


def _phase(statuses: list[dict[str, Any]], policy: str) -> str:
    """Kubelet's rule: waiting for a first start is Pending; any running is Running; all
    stopped resolves by restartPolicy and exit codes."""
    waiting = running = stopped = succeeded = 0
    for s in statuses:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif s["lastState"].get("terminated"):
            stopped += 1  # waiting to restart: it has run before
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def _conditions(
    old: Sequence[Mapping[str, Any]], ready: bool, now: datetime, *, initialized: bool = True
) -> list[dict[str, Any]]:
    prev = {c.get("type"): c for c in old}
    ours = {"Initialized": initialized, "ContainersReady": ready, "Ready": ready}
    out = [dict(c) for c in old if c.get("type") not in _OUR_CONDITIONS]
    for type_, ok in ours.items():
        status = "True" if ok else "False"
        p = prev.get(type_)
        # Keep the transition time while the status holds: the dict stays equal.
        since = p.get("lastTransitionTime") if p and p.get("status") == status else format_time(now)
        cond = {"type": type_, "status": status, "lastTransitionTime": since}
        if not ok:
            cond["reason"] = "ContainersNotInitialized" if not initialized else "ContainersNotReady"
        out.append(cond)
    return out


def init_statuses(
    pod: Mapping[str, Any],
    history: Mapping[str, Sequence[ContainerState]],
    *,
    now: datetime,
    backoff: BackoffState,
    runtime: str,
) -> list[dict[str, Any]]:
    """``initContainerStatuses``: like app containers', restarted only on failure, and
    ready once completed (as the kubelet reports them)."""
    spec = pod.get("spec") or {}
    policy = "Never" if spec.get("restartPolicy") == "Never" else "OnFailure"
    out = []
    for ct in spec.get("initContainers") or ():
        st = _container_status(
            pod, ct, sorted(history.get(str(ct["name"]), ()), key=attempt_of), now=now,
            backoff=backoff, runtime=runtime, ready_ids=frozenset(), started_ids=frozenset(), policy=policy,
            waiting_reason="PodInitializing",
        )
        done = (st["state"].get("terminated") or {}).get("exitCode")
        st["ready"] = done == 0
        out.append(st)
    return out


def all_initialized(init: Sequence[Mapping[str, Any]]) -> bool:
    return all((s["state"].get("terminated") or {}).get("exitCode") == 0 for s in init)


def init_failed(init: Sequence[Mapping[str, Any]], policy: str) -> bool:
    """An init container failed and will not run again (restartPolicy Never)."""
    return policy == "Never" and any(
        (s["state"].get("terminated") or {}).get("exitCode", 0) != 0 for s in init
    )


def pod_status(
    pod: Mapping[str, Any],
    containers: Sequence[ContainerState],
    *,
    now: datetime,
    backoff_state: BackoffState = BackoffState(),
    host_ip: str = "",
    runtime: str = "docker",
    ready_ids: Container[str] = frozenset(),
    started_ids: Container[str] = frozenset(),
) -> dict[str, Any]:
    """The pod's ``status`` from its containers (others in ``containers`` are ignored).
    ``ready_ids``: containers whose readiness probe passes."""
    uid = pod_uid(pod)
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    history: dict[str, list[ContainerState]] = defaultdict(list)
    for c in containers:
        if c.labels.get(LABEL_POD_UID) == uid:
            history[c.labels.get(LABEL_CONTAINER, "")].append(c)
    policy = str(spec.get("restartPolicy") or "Always")
    init = init_statuses(pod, history, now=now, backoff=backoff_state, runtime=runtime)
    boxes, others = split([c for c in containers if c.labels.get(LABEL_POD_UID) == uid])
    box = boxes[-1] if boxes else None
    initialized = all_initialized(init) or any(
        in_sandbox(c, box) for a in spec.get("containers") or () for c in history[str(a["name"])]
    )
    statuses = [
        _container_status(
            pod,
            ct,
            sorted(history[str(ct["name"])], key=attempt_of),
            now=now,
            backoff=backoff_state,
            runtime=runtime,
            ready_ids=ready_ids,
            started_ids=started_ids,
            waiting_reason="ContainerCreating" if initialized else "PodInitializing",
        )
        for ct in spec.get("containers") or ()
    ]
    ready = initialized and bool(statuses) and all(s["ready"] for s in statuses)
    phase = "Failed" if init_failed(init, policy) else _phase(statuses, policy) if initialized else "Pending"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": _conditions(old.get("conditions") or [], ready, now, initialized=initialized),
        "startTime": old.get("startTime") or format_time(now),
        "containerStatuses": statuses,
    }
    if init:
        status["initContainerStatuses"] = init
    if host_ip:
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
    ip = pod_ip(boxes, others)
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    used = (c.isolation or c.labels.get(LABEL_ISOLATION, "") for cs in history.values() for c in cs)
    isolation = next((i for i in used if i in ("process", "hyperv")), "")
    if isolation:
        status["isolation"] = isolation
    failures = [backoff_state.failures[k] for k in sorted(backoff_state.failures) if k[0] == uid]
    if failures:
        status["reason"], status["message"] = failures[0].reason, failures[0].message
    return status
