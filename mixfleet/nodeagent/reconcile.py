"""The node agent's pure reconcile step: desired pods and actual containers in, actions out.

Level-triggered: ``plan`` looks only at what should run (the pods bound to this node) and
what does run (the engine's containers), so a missed event is repaired by the next pass and
an agent restart is harmless. Rules:
- a missing container is created (after a pull when the image is absent);
- a running container of an existing pod is adopted, never restarted, even by a new agent;
- an exited container is replaced per restartPolicy (Always | OnFailure | Never) after the
  back-off in ``nodeagent.backoff``;
- a changed container spec (hash label) recreates the container;
- a deleted pod (gone, or with metadata.deletionTimestamp) is stopped gracefully, removed,
  then finalized; managed containers of unknown pods (orphans) are stopped and removed;
- containers without the ``mixfleet.io/managed=true`` label are never touched.

Actions for one pod are ordered: the executor runs them in order and skips the rest of that
pod's actions when one fails.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Union

from mixfleet.api import images as image_ref
from mixfleet.nodeagent.backoff import BackoffState, should_restart
from mixfleet.nodeagent.engines.base import (
    ContainerSpec,
    ContainerState,
    RunState,
)
from mixfleet.nodeagent.podspec import (
    DEFAULT_GRACE_SECONDS,
    LABEL_CONTAINER,
    LABEL_GRACE,
    LABEL_MANAGED,
    LABEL_POD_UID,
    LABEL_SPEC_HASH,
    attempt_of,
    container_spec,
    pod_grace_seconds,
    pod_uid,
    spec_hash,
)
from mixfleet.nodeagent.probes import Unhealthy
from mixfleet.nodeagent.status import pod_status  # noqa: F401  (re-exported: plan and status go together)
from mixfleet.nodeagent import sandbox as pod_sandbox
from mixfleet.nodeagent.sandbox import SandboxConfig


@dataclass(frozen=True, slots=True)
class Pull:
    pod_uid: str
    container: str
    image: str


@dataclass(frozen=True, slots=True)
class Create:
    pod_uid: str
    container: str
    spec: ContainerSpec
    pod_ip: str = ""  # the sandbox's address the container joins (its status.podIP env)


@dataclass(frozen=True, slots=True)
class Start:
    pod_uid: str
    container: str
    container_id: str


@dataclass(frozen=True, slots=True)
class Stop:
    pod_uid: str
    container_id: str
    grace_seconds: int
    reason: str


@dataclass(frozen=True, slots=True)
class Remove:
    pod_uid: str
    container_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Back-off in progress: the executor should run a pass again at ``until``."""

    pod_uid: str
    container: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Finalize:
    """Every container of a deleting pod is gone: the pod object may be removed."""

    pod_uid: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class ReportStatus:
    pod_uid: str
    namespace: str
    name: str


Action = Union[Pull, Create, Start, Stop, Remove, Wait, Finalize, ReportStatus]


def is_managed(c: ContainerState) -> bool:
    return c.labels.get(LABEL_MANAGED) == "true" and bool(c.labels.get(LABEL_POD_UID))


def plan(
    desired: Iterable[Mapping[str, Any]],
    actual: Iterable[ContainerState],
    *,
    now: datetime,
    backoff_state: BackoffState = BackoffState(),
    host_os: str = "linux",
    present_images: frozenset[str] | None = None,
    node_name: str = "",
    unhealthy: Mapping[str, Unhealthy] | None = None,
    sandbox: SandboxConfig | None = None,
) -> list[Action]:
    """Actions that move ``actual`` towards ``desired``. ``present_images`` (names as the
    engine reports them, in any form Docker accepts) enables Pull actions; None means the
    executor ensures images itself.
    ``node_name`` is stamped on new containers (label ``mixfleet.io/node``).
    ``unhealthy``: containers a liveness or startup probe failed: stopped while they run,
    then restarted unless restartPolicy is Never, whatever their exit code.
    ``sandbox``: how this node makes pod sandboxes (``nodeagent.sandbox``); None runs every
    container on the engine's network of its own, as pods that cannot share one do."""
    if present_images is not None:
        present_images = frozenset(map(image_ref.normalize, present_images))
    by_pod: dict[str, list[ContainerState]] = defaultdict(list)
    for c in actual:
        if is_managed(c):
            by_pod[c.labels[LABEL_POD_UID]].append(c)
    actions: list[Action] = []
    seen: set[str] = set()
    for pod in desired:
        uid = pod_uid(pod)
        seen.add(uid)
        mine = by_pod.get(uid, [])
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            actions += _teardown(uid, mine, grace=pod_grace_seconds(pod), reason="pod deleted")
            meta = pod["metadata"]
            actions.append(
                Finalize(uid, str(meta.get("namespace") or "default"), str(meta["name"]))
            )
            continue
        ctx = _PodContext(
            pod, uid, now, backoff_state, host_os, present_images, node_name, unhealthy or {}, sandbox
        )
        actions += ctx.plan(mine)
    for uid, orphans in sorted(by_pod.items()):
        if uid not in seen:
            grace = int(orphans[0].labels.get(LABEL_GRACE, DEFAULT_GRACE_SECONDS))
            actions += _teardown(uid, orphans, grace=grace, reason="orphan")
    return actions


def _teardown(
    uid: str, containers: list[ContainerState], *, grace: int, reason: str
) -> list[Action]:
    out: list[Action] = []
    # The sandbox goes last: the others live in its network namespace.
    for c in sorted(containers, key=lambda c: (pod_sandbox.is_sandbox(c), attempt_of(c))):
        if c.state is RunState.RUNNING:
            out.append(Stop(uid, c.id, grace, reason))
        out.append(Remove(uid, c.id, reason))
    return out


@dataclass(frozen=True, slots=True)
class _PodContext:
    pod: Mapping[str, Any]
    uid: str
    now: datetime
    backoff: BackoffState
    host_os: str
    present_images: frozenset[str] | None
    node_name: str
    unhealthy: Mapping[str, Unhealthy]
    sandbox_config: SandboxConfig | None = None

    def plan(self, mine: list[ContainerState]) -> list[Action]:
        spec = self.pod.get("spec") or {}
        meta = self.pod.get("metadata") or {}
        boxes, mine = pod_sandbox.split(mine)
        by_name: dict[str, list[ContainerState]] = defaultdict(list)
        for c in mine:
            by_name[c.labels.get(LABEL_CONTAINER, "")].append(c)
        actions, box, ready = self._sandbox(boxes, by_name)
        inits = list(spec.get("initContainers") or ())
        wanted = {str(c["name"]) for c in (*inits, *(spec.get("containers") or ()))}
        for name, stale in sorted(by_name.items()):
            if name not in wanted:
                actions += _teardown(
                    self.uid,
                    stale,
                    grace=pod_grace_seconds(self.pod),
                    reason="container not in spec",
                )
        if ready:
            init_actions, initialized = self._init_containers(inits, by_name, box)
            actions += init_actions
            for container in spec.get("containers") or () if initialized else ():
                history = sorted(by_name.get(str(container["name"]), []), key=attempt_of)
                actions += self._container(container, history, box)
        actions.append(
            ReportStatus(self.uid, str(meta.get("namespace") or "default"), str(meta.get("name")))
        )
        return actions

    def _sandbox(
        self, boxes: list[ContainerState], by_name: Mapping[str, list[ContainerState]]
    ) -> tuple[list[Action], ContainerState | None, bool]:
        """(actions, the running sandbox to join, whether the pod's containers may be
        planned now). A pod gets a sandbox first; when it is gone, exited or made with other
        ports or image, the pod's containers stop and a new one is made (kubelet's
        podSandboxChanged) unless the pod is done; a finished pod's sandbox stops."""
        cfg = self.sandbox_config
        grace = pod_grace_seconds(self.pod)
        if cfg is None or not cfg.shares_network(self.pod):
            return _teardown(self.uid, boxes, grace=0, reason="no sandbox here"), None, True
        current = boxes[-1] if boxes else None
        actions: list[Action] = []
        for old in boxes[:-1]:
            actions += _teardown(self.uid, [old], grace=0, reason="old sandbox")
        fresh = current is not None and current.labels.get(LABEL_SPEC_HASH) == (
            pod_sandbox.sandbox_hash(self.pod, cfg)
        )
        if current is not None and fresh and current.state is RunState.RUNNING:
            if self._finished(by_name, current):
                return actions + [Stop(self.uid, current.id, grace, "pod finished")], None, False
            return actions, current, True
        if current is not None and fresh and current.state is RunState.CREATED:
            return actions + [Start(self.uid, pod_sandbox.SANDBOX_NAME, current.id)], None, False
        for cs in by_name.values():  # they live in the old sandbox's network namespace
            actions += [Stop(self.uid, c.id, grace, "sandbox changed") for c in cs
                        if c.state is RunState.RUNNING]
        if current is not None:
            if current.state is RunState.RUNNING:
                actions.append(Stop(self.uid, current.id, grace, "sandbox changed"))
            if self._finished(by_name, current) or self._ran(by_name) and self._policy() == "Never":
                return actions, None, False  # the kubelet makes no sandbox for a done pod
        name = pod_sandbox.SANDBOX_NAME
        failure = self.backoff.failures.get((self.uid, name))
        if failure is not None and self.now < self.backoff.retry_at(failure):
            return actions + [Wait(self.uid, name, self.backoff.retry_at(failure))], None, False
        attempt = attempt_of(current) + 1 if current is not None else 0
        spec = pod_sandbox.sandbox_spec(self.pod, cfg, attempt=attempt, node_name=self.node_name)
        return actions + [Create(self.uid, name, spec)], None, False

    def _policy(self) -> str:
        return str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")

    def _ran(self, by_name: Mapping[str, list[ContainerState]]) -> bool:
        return any(c.state is RunState.EXITED for cs in by_name.values() for c in cs)

    def _finished(
        self, by_name: Mapping[str, list[ContainerState]], box: ContainerState | None
    ) -> bool:
        """Nothing of the pod will run again: an init container failed under Never, or every
        app container ended for good (Never: ended; OnFailure: ended with 0)."""
        spec, policy = self.pod.get("spec") or {}, self._policy()
        if policy == "Always":
            return False
        latest = {n: max(cs, key=attempt_of) for n, cs in by_name.items() if cs}
        for ic in spec.get("initContainers") or ():
            c = latest.get(str(ic["name"]))
            if policy == "Never" and c is not None and c.state is RunState.EXITED and c.exit_code:
                return True
        apps = [latest.get(str(c["name"])) for c in spec.get("containers") or ()]
        return bool(apps) and all(
            c is not None and c.state is RunState.EXITED and pod_sandbox.in_sandbox(c, box)
            and not self._restarts(c)
            for c in apps
        )

    def _restarts(self, c: ContainerState) -> bool:
        """Whether an ended app container is run again: by the restart policy on its exit
        code, or whatever the code under OnFailure when a failed liveness or startup probe
        killed it (it may well exit 0 on the stop signal), as the kubelet does."""
        policy = self._policy()
        killed = c.id in self.unhealthy and policy != "Never"
        return killed or should_restart(policy, c.exit_code)

    def _init_containers(
        self,
        inits: list[Mapping[str, Any]],
        by_name: Mapping[str, list[ContainerState]],
        box: ContainerState | None,
    ) -> tuple[list[Action], bool]:
        """(actions, initialized): init containers run one at a time, in order, each to a
        successful end, in the current sandbox (a new sandbox runs them again); a failed
        one is run again after the back-off unless restartPolicy is Never (the pod fails).
        Once an app container has started in this sandbox, the pod stays initialized."""
        apps = (self.pod.get("spec") or {}).get("containers") or ()
        if not inits or any(
            pod_sandbox.in_sandbox(c, box) for a in apps for c in by_name.get(str(a["name"]), ())
        ):
            return [], True
        actions: list[Action] = []
        for ic in inits:
            name = str(ic["name"])
            history = sorted(by_name.get(name, []), key=attempt_of)
            actions += [Remove(self.uid, c.id, "old attempt") for c in history[:-2]]
            current = history[-1] if history else None
            if current is None or not pod_sandbox.in_sandbox(current, box):
                if current is not None and current.state is not RunState.EXITED:
                    actions += _teardown(self.uid, [current], grace=0, reason="sandbox changed")
                attempt = attempt_of(current) + 1 if current is not None else 0
                return actions + self._create(ic, attempt=attempt, box=box, init=True), False
            if current.state is RunState.RUNNING:
                return actions, False
            if current.state is RunState.CREATED:
                return actions + [Start(self.uid, name, current.id)], False
            if current.exit_code == 0:
                continue
            if self._policy() == "Never":
                return actions, False  # the pod has failed (status says so)
            until = self.backoff.restart_at(current, attempt=attempt_of(current))
            if self.now < until:
                return actions + [Wait(self.uid, name, until)], False
            return actions + self._create(
                ic, attempt=attempt_of(current) + 1, box=box, init=True
            ), False
        return actions, True

    def _container(
        self,
        container: Mapping[str, Any],
        history: list[ContainerState],
        box: ContainerState | None = None,
    ) -> list[Action]:
        name = str(container["name"])
        # Keep the current container and the one before it (the pod's lastState).
        actions: list[Action] = [Remove(self.uid, c.id, "old attempt") for c in history[:-2]]
        current = history[-1] if history else None
        if current is None:
            return actions + self._create(container, attempt=0, box=box)
        attempt = attempt_of(current)
        stale = not pod_sandbox.in_sandbox(current, box) and current.state is not RunState.EXITED
        if stale or current.labels.get(LABEL_SPEC_HASH) != spec_hash(
            self.pod, container, host_os=self.host_os
        ):
            actions += _teardown(
                self.uid, [current], grace=pod_grace_seconds(self.pod), reason="spec changed"
            )
            return actions + self._create(container, attempt=attempt + 1, box=box)
        if current.state is RunState.RUNNING:
            sick = self.unhealthy.get(current.id)
            if sick is not None:  # the kubelet kills it; the restart policy decides the rest
                grace = sick.grace if sick.grace is not None else pod_grace_seconds(self.pod)
                return actions + [Stop(self.uid, current.id, grace, sick.reason)]
            return actions  # adopted as it is
        if current.state is RunState.CREATED:
            return actions + [Start(self.uid, name, current.id)]
        if not self._restarts(current):
            return actions
        until = self.backoff.restart_at(current, attempt=attempt)
        if self.now < until:
            return actions + [Wait(self.uid, name, until)]
        return actions + self._create(container, attempt=attempt + 1, box=box)

    def _create(
        self,
        container: Mapping[str, Any],
        *,
        attempt: int,
        box: ContainerState | None = None,
        init: bool = False,
    ) -> list[Action]:
        name = str(container["name"])
        failure = self.backoff.failures.get((self.uid, name))
        if failure is not None and self.now < self.backoff.retry_at(failure):
            return [Wait(self.uid, name, self.backoff.retry_at(failure))]
        spec = pod_sandbox.join(
            container_spec(
                self.pod, container, attempt=attempt, host_os=self.host_os,
                node_name=self.node_name,
            ),
            box,
            init=init,
        )
        out: list[Action] = []
        policy = str(container.get("imagePullPolicy") or "IfNotPresent")
        if self.present_images is not None and policy != "Never":
            if policy == "Always" or image_ref.normalize(spec.image) not in self.present_images:
                out.append(Pull(self.uid, name, spec.image))
        return out + [Create(self.uid, name, spec, box.ip if box is not None else "")]


def next_wake(actions: Iterable[Action]) -> datetime | None:
    """The earliest back-off expiry among the actions: when to run a pass again."""
    return min((a.until for a in actions if isinstance(a, Wait)), default=None)
