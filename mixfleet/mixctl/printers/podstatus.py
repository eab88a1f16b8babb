"""The STATUS, READY and RESTARTS columns of ``get pods``, derived like kubectl does.

STATUS is the most specific thing known: a container's waiting reason (``CrashLoopBackOff``,
``ErrImagePull``) or terminated reason beats the pod phase, and a pod being deleted shows
``Terminating`` whatever its phase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mixfleet.api import objects
from mixfleet.api.times import try_parse_time
from mixfleet.mixctl.printers.age import format_age


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def pod_status(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    phase = status.get("phase") or "Pending"
    reason = status.get("reason") or _phase_word(phase, spec, status)
    has_running = False
    init = _init_word(pod)
    # kubectl walks containers last to first so the first container's state wins.
    for cs in reversed(_statuses(pod) if init is None else []):
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated is not None:
            reason = terminated.get("reason") or _exit_word(terminated)
        elif "running" in state and cs.get("ready"):
            has_running = True
    if init is not None:
        reason = init
    if reason == "Completed" and has_running:
        reason = "Running" if objects.condition_true(pod, "Ready") else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _init_word(pod: dict[str, Any]) -> str | None:
    """While init containers have not all completed, kubectl's ``Init:`` word: the failing
    one's reason (``Init:Error``, ``Init:CrashLoopBackOff``) or how many are done
    (``Init:1/2``); None once the pod is initialized."""
    inits = (pod.get("status") or {}).get("initContainerStatuses") or []
    total = len((pod.get("spec") or {}).get("initContainers") or [])
    for i, cs in enumerate(inits):
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if terminated is not None:
            if terminated.get("reason"):
                return "Init:" + str(terminated["reason"])
            if terminated.get("signal"):
                return f"Init:Signal:{terminated['signal']}"
            return f"Init:ExitCode:{terminated.get('exitCode')}"
        if waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return "Init:" + str(waiting["reason"])
        return f"Init:{i}/{total}"
    return None


def _phase_word(phase: str, spec: dict[str, Any], status: dict[str, Any]) -> str:
    if phase == "Succeeded":
        return "Completed"
    if phase == "Failed":
        return "Error"
    # Bound to a node but no container reported yet: the agent is pulling and creating.
    if phase == "Pending" and spec.get("nodeName") and not status.get("containerStatuses"):
        return "ContainerCreating"
    return phase


def _exit_word(terminated: dict[str, Any]) -> str:
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return "Completed" if terminated.get("exitCode", 0) == 0 else "Error"


def pod_ready(pod: dict[str, Any]) -> str:
    """``1/2``: ready containers over containers in the spec."""
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for cs in _statuses(pod) if cs.get("ready"))
    return f"{ready}/{total}"


def pod_restarts(pod: dict[str, Any], *, now: datetime) -> str:
    """``3`` or, when the last restart time is known, ``3 (2m ago)`` like kubectl."""
    restarts = 0
    last: datetime | None = None
    inits = (pod.get("status") or {}).get("initContainerStatuses") or []
    for cs in [*inits, *_statuses(pod)]:
        restarts += int(cs.get("restartCount") or 0)
        finished = try_parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last is None or finished > last):
            last = finished
    if restarts and last:
        return f"{restarts} ({format_age((now - last).total_seconds())} ago)"
    return str(restarts)
