"""Carries out reconcile actions against the engine and the control plane.

Actions are grouped by pod; each pod's group runs in its own task (like kubelet's pod
workers), so a 30-second graceful stop of one pod does not hold up the others. Within a
group actions run in order, and the first failure skips the rest of that pod's group: the
next pass plans again from what is actually there. Start and pull failures are recorded in
the back-off state, which both delays the retry and explains the failure in pod status.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from datetime import datetime
from typing import Any, Awaitable, Callable, Container, Iterable, Mapping

from mixfleet.client import APIError, Client, ConflictError, NotFoundError
from mixfleet.nodeagent.backoff import BackoffState
from mixfleet.nodeagent import hooks, podevents
from mixfleet.nodeagent.engines.base import (
    ContainerSpec,
    ContainerState,
    Engine,
    EngineError,
    ImageNotFound,
    PullError,
    StartError,
)
from mixfleet.nodeagent.podspec import (
    LABEL_CONTAINER,
    LABEL_POD_UID,
    LABEL_SPEC_HASH,
    MANAGED,
    pod_grace_seconds,
)
from mixfleet.nodeagent import sandbox as pod_sandbox
from mixfleet.nodeagent.reconcile import (
    Action,
    Create,
    Finalize,
    Pull,
    Remove,
    ReportStatus,
    Start,
    Stop,
    Wait,
)
from mixfleet.nodeagent.status import pod_status
from mixfleet.nodeagent.volumes.errors import ContainerConfigError
from mixfleet.util import log

_log = log.get("nodeagent.executor")


class Executor:
    def __init__(
        self,
        *,
        client: Client,
        engine: Engine,
        clock: Callable[[], datetime],
        backoff: BackoffState,
        host_ip: str = "",
        on_done: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.clock = clock
        self.backoff = backoff
        self.host_ip = host_ip
        self.on_done = on_done  # called when a pod's group finishes: triggers a new pass
        self.pods: dict[str, dict[str, Any]] = {}  # uid -> latest pod (shared with the agent)
        self.images_stale = False
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._skipped: set[str] = set()  # pods a pass could not hand to their busy worker
        self._names: dict[str, dict[str, str]] = {}  # pod uid -> container id -> name (its group)
        self.container_labels: dict[str, str] = dict(MANAGED)
        self.ready_ids: Container[str] = frozenset()  # probed containers that pass (live)
        self.started_ids: Container[str] = frozenset()  # startup probes that passed (live)
        self.events = podevents.PodEvents(None, lambda uid: self.pods.get(uid))
        # Fills in what the pod's spec only refers to (volumes, env from ConfigMaps and
        # Secrets) just before a create (nodeagent/containerconfig.py); None: as planned.
        self.configure: Callable[
            [Mapping[str, Any], Mapping[str, Any], ContainerSpec], Awaitable[ContainerSpec]
        ] | None = None

    def busy(self, uid: str) -> bool:
        task = self._workers.get(uid)
        return task is not None and not task.done()

    def dispatch(self, actions: Iterable[Action], actual: list[ContainerState]) -> None:
        """Start one worker per pod whose previous worker finished; others wait a pass."""
        groups: dict[str, list[Action]] = defaultdict(list)
        for a in actions:
            if not isinstance(a, Wait):
                groups[a.pod_uid].append(a)
        for uid, group in groups.items():
            if self.busy(uid):
                self._skipped.add(uid)  # e.g. a readiness change: pass again when it is done
                continue
            snapshot = [c for c in actual if c.labels.get(LABEL_POD_UID) == uid]
            self._workers[uid] = asyncio.create_task(
                self._run(uid, group, snapshot), name=f"pod-{uid}"
            )

    async def close(self) -> None:
        tasks = [t for t in self._workers.values() if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, uid: str, group: list[Action], snapshot: list[ContainerState]) -> None:
        changed = False
        self.events.begin_group(uid, snapshot)
        self._names[uid] = {c.id: c.labels.get(LABEL_CONTAINER, "") for c in snapshot}
        try:
            for action in group:
                if isinstance(action, ReportStatus):
                    containers = await self._containers(uid) if changed else snapshot
                    await self.report(action, containers)
                else:
                    self.events.before(action)
                    await self._apply(action)
                    self.events.after(action)
                    changed = True
        except (EngineError, APIError, ContainerConfigError) as e:
            _log.warning(
                "pod.action_failed", pod_uid=uid, action=type(action).__name__, error=str(e)
            )
        except Exception:
            _log.exception("pod.worker_crashed", pod_uid=uid)
        finally:
            if changed or uid in self._skipped:
                self._skipped.discard(uid)
                self.on_done()

    async def _containers(self, uid: str) -> list[ContainerState]:
        return await self.engine.list_containers({**self.container_labels, LABEL_POD_UID: uid})

    async def _apply(self, action: Action) -> None:
        _log.info("pod.action", pod_uid=action.pod_uid, action=type(action).__name__)
        if isinstance(action, Pull):
            await self._guard(
                action.pod_uid, action.container, "ErrImagePull", self.engine.pull(action.image)
            )
            self.images_stale = True
        elif isinstance(action, Create):
            sandbox = pod_sandbox.is_sandbox(action.spec)
            cid = await self._guard(
                action.pod_uid,
                action.container,
                pod_sandbox.FAILED_SANDBOX if sandbox else "RunContainerError",
                self._create(action),
            )
            await self._post_start(action.pod_uid, action.container, cid)
        elif isinstance(action, Start):
            await self._guard(
                action.pod_uid,
                action.container,
                "RunContainerError",
                self.engine.start(action.container_id),
            )
            await self._post_start(action.pod_uid, action.container, action.container_id)
        elif isinstance(action, Stop):
            await self._stop(action)
        elif isinstance(action, Remove):
            await self.engine.remove(action.container_id)
        elif isinstance(action, Finalize):
            await self._finalize(action)

    async def _post_start(self, uid: str, name: str, cid: str | None) -> None:
        """Run the container's postStart hook; kill the container when it fails."""
        pod = self.pods.get(uid) or {}
        hook = hooks.hook_of(hooks.container_of(pod, name), "postStart")
        if hook is None or not cid:
            return
        error = await hooks.run_hook(self.engine, cid, hook, pod=pod, container=name,
                                     timeout=pod_grace_seconds(pod))
        if error is None:
            return
        _log.warning("hook.failed", pod_uid=uid, container=name, hook="postStart", error=error)
        self.events.emit(uid, type="Warning", reason="FailedPostStartHook", message=error,
                         container=name)
        self.events.emit(uid, type="Normal", reason="Killing", container=name,
                         message=podevents.killing_message(name, "FailedPostStartHook"))
        await self.engine.stop(cid, pod_grace_seconds(pod))

    async def _stop(self, action: Stop) -> None:
        """Stop a container, its preStop hook first, inside the grace period."""
        uid, grace = action.pod_uid, float(action.grace_seconds)
        pod = self.pods.get(uid) or {}
        name = self._names.get(uid, {}).get(action.container_id, "")
        hook = hooks.hook_of(hooks.container_of(pod, name), "preStop") if name else None
        if hook is not None:
            began = asyncio.get_running_loop().time()
            error = await hooks.run_hook(self.engine, action.container_id, hook, pod=pod,
                                         container=name, timeout=grace)
            if error is not None:
                _log.warning("hook.failed", pod_uid=uid, container=name, hook="preStop", error=error)
                self.events.emit(uid, type="Warning", reason="FailedPreStopHook", message=error,
                                 container=name)
            grace = hooks.grace_after(grace, asyncio.get_running_loop().time() - began)
        await self.engine.stop(action.container_id, grace)

    async def _create(self, action: Create) -> str | None:
        """Create and start, idempotently: a pass that listed the pod's containers just before
        the previous pass's create landed asks for the same container again (its name holds
        the pod uid and the attempt), and the engine refuses the name. That container is the
        one asked for: the create has happened, and is not a failure to show in the status."""
        if pod_sandbox.is_sandbox(action.spec):
            await pod_sandbox.ensure_image(self.engine, action.spec.image)
        spec = await self._configured(action)
        try:
            return await self.engine.create_and_start(spec)
        except StartError:
            same = [
                c for c in await self._containers(action.pod_uid)
                if c.name.lstrip("/") == action.spec.name
                and c.labels.get(LABEL_SPEC_HASH) == action.spec.labels.get(LABEL_SPEC_HASH)
            ]
            if not same:
                raise
            _log.info("container.already_created", pod_uid=action.pod_uid, container=action.container)
            return None

    async def _configured(self, action: Create) -> ContainerSpec:
        pod = self.pods.get(action.pod_uid)
        if self.configure is None or pod is None:
            return action.spec
        spec = pod.get("spec") or {}
        container = next((c for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
                          if c.get("name") == action.container), None)
        if container is None:
            return action.spec
        if action.pod_ip:  # the kubelet's podIP is its sandbox's, known before the pod's status
            pod = {**pod, "status": {**(pod.get("status") or {}), "podIP": action.pod_ip}}
        return await self.configure(pod, container, action.spec)

    async def _guard(self, uid: str, container: str, reason: str, op: Any) -> Any:
        """Run a pull/create/start; record a failure (for back-off and status) or clear it."""
        key = (uid, container)
        try:
            result = await op
        except ImageNotFound as e:
            self.images_stale = True
            self._fail(
                key, "ErrImageNeverPull" if self._never_pull(uid, container) else "ErrImagePull", e
            )
            raise
        except PullError as e:
            self._fail(key, "ErrImagePull", e)
            raise
        except StartError as e:
            self._fail(key, reason, e)
            raise
        except ContainerConfigError as e:
            # Retried at the first back-off step, never longer: it waits on an object
            # (a ConfigMap, a Secret) that may appear at any moment.
            self._fail(key, e.reason, e, escalate=False)
            raise
        if reason != "ErrImagePull":
            self.backoff = self.backoff.clear(key)
        return result

    def _fail(self, key: tuple[str, str], reason: str, e: EngineError | ContainerConfigError,
              *, escalate: bool = True) -> None:
        self.backoff = self.backoff.record(key, reason=reason, message=e.message, now=self.clock(),
                                           escalate=escalate)
        self.events.failed(key[0], key[1], reason, e.message)
        _log.warning(
            "container.failed", pod_uid=key[0], container=key[1], reason=reason, error=e.message
        )

    def _never_pull(self, uid: str, container: str) -> bool:
        pod = self.pods.get(uid) or {}
        spec: dict[str, Any] = next(
            (
                c
                for c in (
                    *((pod.get("spec") or {}).get("initContainers") or ()),
                    *((pod.get("spec") or {}).get("containers") or ()),
                )
                if c.get("name") == container
            ),
            {},
        )
        return spec.get("imagePullPolicy") == "Never"

    async def _finalize(self, action: Finalize) -> None:
        try:
            await self.client.delete("Pod", action.name, action.namespace, grace_period_seconds=0)
        except NotFoundError:
            pass
        _log.info("pod.finalized", pod=f"{action.namespace}/{action.name}")

    async def report(self, action: ReportStatus, containers: list[ContainerState]) -> None:
        """Write the pod's status if it changed; on a conflict re-read the pod once."""
        pod = self.pods.get(action.pod_uid)
        for _ in range(2):
            if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
                return
            status = pod_status(
                pod,
                containers,
                now=self.clock(),
                backoff_state=self.backoff,
                host_ip=self.host_ip,
                ready_ids=self.ready_ids,
                started_ids=self.started_ids,
            )
            if status == pod.get("status"):
                return
            new = copy.deepcopy(pod)
            new["status"] = status
            try:
                stored = await self.client.update_status(new)
            except ConflictError:
                pod = await self._reread(action)
                continue
            except NotFoundError:
                return
            self._remember(action.pod_uid, stored)
            _log.info(
                "pod.status_written", pod=f"{action.namespace}/{action.name}", phase=status["phase"]
            )
            return

    async def _reread(self, action: ReportStatus) -> dict[str, Any] | None:
        try:
            pod = await self.client.get("Pod", action.name, action.namespace)
        except NotFoundError:
            return None
        self._remember(action.pod_uid, pod)
        return pod

    def _remember(self, uid: str, pod: Mapping[str, Any]) -> None:
        """Keep the newer of what we wrote and what the watch delivered."""
        if (pod.get("metadata") or {}).get("uid", uid) != uid or uid not in self.pods:
            return
        cur = self.pods[uid]
        if _rv(pod) >= _rv(cur):
            self.pods[uid] = dict(pod)


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0
