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
) -> list[Action]:
    """Actions that move ``actual`` towards ``desired``. ``present_images`` (names as the
    engine reports them, in any form Docker accepts) enables Pull actions; None means the
    executor ensures images itself.
    ``node_name`` is stamped on new containers (label ``mixfleet.io/node``).
    ``unhealthy``: containers a liveness or startup probe failed: stopped while they run,
    then restarted unless restartPolicy is Never, whatever their exit code."""
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
            pod, uid, now, backoff_state, host_os, present_images, node_name, unhealthy or {}
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
    for c in sorted(containers, key=attempt_of):
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

    def plan(self, mine: list[ContainerState]) -> list[Action]:
        spec = self.pod.get("spec") or {}
        meta = self.pod.get("metadata") or {}
        by_name: dict[str, list[ContainerState]] = defaultdict(list)
        for c in mine:
            by_name[c.labels.get(LABEL_CONTAINER, "")].append(c)
        actions: list[Action] = []
        wanted = {str(c["name"]) for c in spec.get("containers") or ()}
        for name, stale in sorted(by_name.items()):
            if name not in wanted:
                actions += _teardown(
                    self.uid,
                    stale,
                    grace=pod_grace_seconds(self.pod),
                    reason="container not in spec",
                )
        for container in spec.get("containers") or ():
            history = sorted(by_name.get(str(container["name"]), []), key=attempt_of)
            actions += self._container(container, history)
        actions.append(
            ReportStatus(self.uid, str(meta.get("namespace") or "default"), str(meta.get("name")))
        )
        return actions

    def _container(
        self, container: Mapping[str, Any], history: list[ContainerState]
    ) -> list[Action]:
        name = str(container["name"])
        # Keep the current container and the one before it (the pod's lastState).
        actions: list[Action] = [Remove(self.uid, c.id, "old attempt") for c in history[:-2]]
        current = history[-1] if history else None
        if current is None:
            return actions + self._create(container, attempt=0)
        attempt = attempt_of(current)
        if current.labels.get(LABEL_SPEC_HASH) != spec_hash(
            self.pod, container, host_os=self.host_os
        ):
            actions += _teardown(
                self.uid, [current], grace=pod_grace_seconds(self.pod), reason="spec changed"
            )
            return actions + self._create(container, attempt=attempt + 1)
        if current.state is RunState.RUNNING:
            sick = self.unhealthy.get(current.id)
            if sick is not None:  # the kubelet kills it; the restart policy decides the rest
                grace = sick.grace if sick.grace is not None else pod_grace_seconds(self.pod)
                return actions + [Stop(self.uid, current.id, grace, sick.reason)]
            return actions  # adopted as it is
        if current.state is RunState.CREATED:
            return actions + [Start(self.uid, name, current.id)]
        policy = str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")
        killed = current.id in self.unhealthy and policy != "Never"  # by a failed probe
        if not (killed or should_restart(policy, current.exit_code)):
            return actions
        until = self.backoff.restart_at(current, attempt=attempt)
        if self.now < until:
            return actions + [Wait(self.uid, name, until)]
        return actions + self._create(container, attempt=attempt + 1)

    def _create(self, container: Mapping[str, Any], *, attempt: int) -> list[Action]:
        name = str(container["name"])
        failure = self.backoff.failures.get((self.uid, name))
        if failure is not None and self.now < self.backoff.retry_at(failure):
            return [Wait(self.uid, name, self.backoff.retry_at(failure))]
        spec = container_spec(
            self.pod, container, attempt=attempt, host_os=self.host_os, node_name=self.node_name
        )
        out: list[Action] = []
        policy = str(container.get("imagePullPolicy") or "IfNotPresent")
        if self.present_images is not None and policy != "Never":
            if policy == "Always" or image_ref.normalize(spec.image) not in self.present_images:
                out.append(Pull(self.uid, name, spec.image))
        return out + [Create(self.uid, name, spec)]


def next_wake(actions: Iterable[Action]) -> datetime | None:
    """The earliest back-off expiry among the actions: when to run a pass again."""
    return min((a.until for a in actions if isinstance(a, Wait)), default=None)
