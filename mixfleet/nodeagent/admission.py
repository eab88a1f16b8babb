"""Admitting the pods bound to this node before starting them (the kubelet's pod admission).

Every pod bound here, by the scheduler or by a user's ``spec.nodeName``, is checked once
against this node and the pods already admitted, oldest first (``scheduler.admission``:
the scheduler's own filters, not a copy of them). A refused pod is marked ``Failed`` with
the reason and message in its status (``OutOfcpu``, ``NodeAffinity``, ``WindowsBuild``,
...), which ``mixctl get pods`` and ``describe pod`` show, plus a Warning event; nothing is
started for it. An admitted pod without a scheduler's binding (``spec.binding``) runs with
the isolation and images admission chose, exactly as the scheduler would have chosen here.

A pod that already has containers here (an agent restarted) is admitted as it runs: the
kubelet never refuses what it already runs. Decisions live in memory for the pods this
agent sees; the refusals are in the store, so a restarted agent leaves Failed pods alone.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Awaitable, Callable, Collection, Mapping

from mixfleet.api import times
from mixfleet.api.pods import phase
from mixfleet.client import AlreadyExistsError, APIError, Client, ConflictError, NotFoundError
from mixfleet.nodeagent.podspec import pod_uid
from mixfleet.scheduler.admission import Admitted, Rejected, admit
from mixfleet.util import log

_log = log.get("nodeagent.admission")

_DONE = ("Succeeded", "Failed")


def _deleting(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _created(pod: Mapping[str, Any]) -> tuple[str, str]:
    m = pod.get("metadata") or {}
    return str(m.get("creationTimestamp") or ""), str(m.get("name") or "")


class PodAdmission:
    def __init__(
        self, client: Client, node_name: str,
        *, local_node: Callable[[], Awaitable[dict[str, Any]]],
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.local_node = local_node  # this node's Node object built from its own facts
        self.admitted: dict[str, Admitted] = {}  # uid -> what it runs with
        self._images_seen: dict[str, tuple[tuple[str, str], ...]] = {}  # uid -> images decided on
        self.refused: dict[str, Rejected] = {}  # uid -> why (kept: the watch may lag our write)
        self._unwritten: set[str] = set()  # refusals whose status write must be retried

    def runnable(self, pod: Mapping[str, Any], *, has_containers: bool) -> bool:
        """Whether reconcile should plan for ``pod`` at all: admitted, or being deleted
        (its containers go and it is finalized), or already running here."""
        uid = pod_uid(pod)
        if _deleting(pod) or has_containers:
            return True
        if uid in self.refused or phase(pod) in _DONE:
            return False  # a terminal pod with nothing here is never started (again)
        return uid in self.admitted

    def bound(self, pod: dict[str, Any]) -> dict[str, Any]:
        """``pod`` as reconcile should run it: a scheduler's binding wins; otherwise the
        isolation and images admission chose are added to a copy as its binding."""
        spec = pod.get("spec") or {}
        choice = self.admitted.get(pod_uid(pod))
        if spec.get("binding") or choice is None:
            return pod
        out = copy.copy(pod)
        binding: dict[str, Any] = {"images": dict(choice.images)}
        if choice.isolation:
            binding["isolation"] = choice.isolation
        out["spec"] = {**spec, "binding": binding}
        return out

    async def admit_new(self, pods: Mapping[str, dict[str, Any]], running: Collection[str]) -> None:
        """Decide every pod of ``pods`` (uid -> pod) not decided yet; ``running``: uids
        with containers here. Writes the status of refused pods."""
        for uid, seen in list(self._images_seen.items()):
            if uid in pods and _images(pods[uid]) != seen:
                # A user changed a container's image: the choice made for the old one (its
                # Windows build, hence isolation) no longer holds. Decide again.
                self.admitted.pop(uid, None)
        for gone in [u for u in (*self.admitted, *self.refused, *self._images_seen) if u not in pods]:
            self.admitted.pop(gone, None)
            self._images_seen.pop(gone, None)
            self.refused.pop(gone, None)
            self._unwritten.discard(gone)
        new = [
            p for uid, p in pods.items()
            if uid not in self.admitted and uid not in self.refused
            and not _deleting(p) and (uid in running or phase(p) not in _DONE)
        ]
        if new:
            await self._decide(new, pods, running)
        for uid in list(self._unwritten):
            await self._write_refusal(pods[uid], self.refused[uid])

    async def _decide(
        self, new: list[dict[str, Any]], pods: Mapping[str, dict[str, Any]], running: Collection[str]
    ) -> None:
        node: Mapping[str, Any] | None
        try:
            # The Node as the API has it: labels and taints admins added are part of it.
            node = await self.client.get("Node", self.node_name)
        except APIError as e:
            _log.warning("admission.node_unavailable", node=self.node_name, error=str(e))
            node = None  # new pods wait for the next pass; nothing new starts meanwhile
        # What runs already is admitted first and never refused; then the rest, oldest first.
        for pod in sorted(new, key=lambda p: (pod_uid(p) not in running, _created(p))):
            uid = pod_uid(pod)
            if uid in running:
                # Decided now, even from this node's own facts, or its containers would be
                # planned without the isolation and images they were started with.
                decision = await self._admit(pod, node if node is not None else await self.local_node(), [])
                self.admitted[uid] = decision if isinstance(decision, Admitted) else Admitted(None)
                self._images_seen[uid] = _images(pod)
                continue
            if node is None:
                break
            others = [self.bound(pods[u]) for u in self.admitted if u in pods]
            decision = await self._admit(pod, node, others)
            if decision is None:
                continue  # a bug, logged: decided again next pass, not started meanwhile
            if isinstance(decision, Admitted):
                self.admitted[uid] = decision
                self._images_seen[uid] = _images(pod)
                continue
            self.refused[uid] = decision
            self._unwritten.add(uid)
            _log.warning("pod.rejected", node=self.node_name, pod=_ref(pod),
                         reason=decision.reason, message=decision.message)

    async def _admit(
        self, pod: Mapping[str, Any], node: Mapping[str, Any], others: list[dict[str, Any]]
    ) -> Admitted | Rejected | None:
        try:
            return admit(pod, node, others)
        except Exception:
            # Never let one odd pod stop the reconcile loop, and every other pod with it.
            _log.exception("admission.crashed", node=self.node_name, pod=_ref(pod))
            return None

    async def _write_refusal(self, pod: dict[str, Any], why: Rejected) -> None:
        uid = pod_uid(pod)
        new = copy.deepcopy(pod)
        new["status"] = {
            **(pod.get("status") or {}),
            "phase": "Failed",
            "reason": why.reason,
            "message": why.message,
            "startTime": (pod.get("status") or {}).get("startTime") or times.now(),
        }
        try:
            await self.client.update_status(new)
        except NotFoundError:
            self._unwritten.discard(uid)
            return
        except ConflictError:
            return  # the watch brings the new version; written on the next pass
        except APIError as e:
            _log.warning("pod.status_failed", pod=_ref(pod), error=str(e))
            return
        self._unwritten.discard(uid)
        await self._event(pod, why)

    async def _event(self, pod: Mapping[str, Any], why: Rejected) -> None:
        """Best effort, as the control plane's events: a lost event is logged, not raised."""
        m = pod.get("metadata") or {}
        digest = hashlib.sha256(f"{why.reason}\0{why.message}".encode()).hexdigest()[:10]
        now = times.now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{m.get('name')}.{digest}", "namespace": m.get("namespace") or "default"},
            "involvedObject": {"kind": "Pod", "name": m.get("name"),
                               "namespace": m.get("namespace") or "default", "uid": m.get("uid", "")},
            "reason": why.reason,
            "message": why.message,
            "type": "Warning",
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": "mixfleet-agent", "host": self.node_name},
        }
        try:
            await self.client.create(event)
        except AlreadyExistsError:
            pass
        except APIError as e:
            _log.warning("event.write_failed", reason=why.reason, error=str(e))


def _images(pod: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(c.get("name")), str(c.get("image")))
        for c in (
            *((pod.get("spec") or {}).get("initContainers") or ()),
            *((pod.get("spec") or {}).get("containers") or ()),
        )
    )


def _ref(pod: Mapping[str, Any]) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace') or 'default'}/{m.get('name')}"
