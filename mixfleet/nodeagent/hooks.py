"""Container lifecycle hooks, as the kubelet runs them (pkg/kubelet/lifecycle/handlers.go,
kuberuntime_container.go):

- ``postStart`` runs right after the container started, before the pod's work goes on; if
  it fails the container is killed (a ``FailedPostStartHook`` Warning event, then
  ``Killing``) and the restart policy and back-off decide the rest;
- ``preStop`` runs before a container is stopped (pod deletion, a failed liveness probe, a
  changed spec), inside the termination grace period: the stop signal gets what is left of
  the grace afterwards, at least 2 seconds, like the kubelet; a failed preStop is a
  ``FailedPreStopHook`` Warning event and the container is stopped anyway.

Handlers: ``exec`` (in the container), ``httpGet`` (any HTTP answer counts, as for the
kubelet; only a failed connection fails the hook) and ``sleep``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Mapping

from mixfleet.nodeagent.engines.base import Engine, EngineError
from mixfleet.nodeagent.engines.netprobe import (
    STATUS_FAILED,
    ExecAction,
    HookAction,
    HTTPGetAction,
    SleepAction,
)
from mixfleet.nodeagent.probes import PortNotFound, action_of

MIN_GRACE_AFTER_PRESTOP = 2  # seconds: the kubelet's minimumGracePeriodInSeconds


@dataclass(frozen=True, slots=True)
class Hook:
    which: str  # postStart | preStop
    action: HookAction


def hook_of(container: Mapping[str, Any], which: str) -> Hook | None:
    handler = (container.get("lifecycle") or {}).get(which) or {}
    sleep = handler.get("sleep")
    if sleep is not None:
        return Hook(which, SleepAction(float(sleep.get("seconds") or 0)))
    try:
        action = action_of(handler, container)
    except PortNotFound:
        return None  # refused at apply (api/probes.py)
    if isinstance(action, (ExecAction, HTTPGetAction)):
        return Hook(which, action)
    return None


def container_of(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for c in (pod.get("spec") or {}).get("containers") or ():
        if c.get("name") == name:
            return c
    return {}


async def run_hook(
    engine: Engine,
    container_id: str,
    hook: Hook,
    *,
    pod: Mapping[str, Any],
    container: str,
    timeout: float,
) -> str | None:
    """Run the hook; None when it succeeded, else the kubelet's message for the event."""
    a = hook.action
    if isinstance(a, SleepAction):
        await asyncio.sleep(min(a.seconds, timeout))
        return None
    try:
        result = await asyncio.wait_for(
            engine.probe(container_id, a, timeout=timeout), timeout + 1
        )
        ok, detail = result.ok or result.message.startswith(STATUS_FAILED), result.message
    except (EngineError, TimeoutError) as e:
        ok, detail = False, getattr(e, "message", "") or f"timed out after {timeout:g}s"
    if ok:
        return None
    m = pod.get("metadata") or {}
    where = f"{m.get('name')}_{m.get('namespace') or 'default'}({m.get('uid')})"
    what = f"Exec lifecycle hook ([{' '.join(a.command)}])" if isinstance(a, ExecAction) else (
        f"HTTP lifecycle hook ({a.path})")
    return f'{what} for Container "{container}" in Pod "{where}" failed - error: {detail}'


def grace_after(grace: float, spent: float) -> float:
    """What is left of the grace period for the stop signal after a preStop hook."""
    return max(MIN_GRACE_AFTER_PRESTOP, grace - spent)
