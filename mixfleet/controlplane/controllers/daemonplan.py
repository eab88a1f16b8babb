"""The DaemonSet controller's decisions as pure functions (Kubernetes' pkg/controller/daemon:
``manage``, ``rollingUpdate`` and ``updateDaemonSetStatus``).

One step per sync, as Kubernetes does: first the pods every node must or must not have
(:func:`manage`); only when that has nothing to do, one step of the rolling update
(:func:`rolling_update`); the sync after sees the result and takes the next.

- A node that should run the daemon and has no pod gets one, unless a pod failed there a
  moment ago (the controller's back-off: ``hold``). A failed pod is deleted. Of two pods on
  one node the oldest stays (with maxSurge: the oldest of each template, and the old one
  goes once the new one is ready). A node that should not keep its pod loses it; a pod for
  a node that is gone and was never bound goes too (a bound one is the pod GC's).
- Rolling update without surge: old pods are deleted while fewer than ``maxUnavailable``
  nodes are without an available pod (an old pod that is not available goes at once, it
  costs nothing); ``manage`` then makes the new pod. With surge: a new pod is made next to
  the old one on up to ``maxSurge`` nodes at a time, and the old one is deleted once the
  new one is available.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mixfleet.api import daemonsets as D
from mixfleet.api import pods as P
from mixfleet.api import times
from mixfleet.api.types import ObjView
from mixfleet.scheduler.daemons import Verdict

SKIPPED = "NodesSkipped"  # the DaemonSet condition naming the nodes left out, and why
NAMES_PER_REASON = 3  # a skip message names this many nodes per reason, then counts the rest


@dataclass(slots=True)
class NodePods:
    """The daemon pods of one node: running (not finished, not being deleted; bound ones
    first, then oldest first), being deleted, and finished."""

    running: list[ObjView] = field(default_factory=list)
    deleting: list[ObjView] = field(default_factory=list)
    finished: list[ObjView] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.running or self.deleting)


@dataclass(slots=True)
class Step:
    create: list[str] = field(default_factory=list)  # node names
    delete: list[ObjView] = field(default_factory=list)
    failed_on: list[str] = field(default_factory=list)  # nodes whose failed pod is deleted now
    wake: float | None = None  # seconds until a held-back creation may be made

    def __bool__(self) -> bool:
        return bool(self.create or self.delete)


def _age(pod: ObjView) -> tuple[bool, float, str]:
    meta = pod.get("metadata") or {}
    return (not (pod.get("spec") or {}).get("nodeName"), times.epoch(meta.get("creationTimestamp")),
            str(meta.get("name")))


def group(pods: Sequence[ObjView]) -> tuple[dict[str, NodePods], list[ObjView]]:
    """The daemon pods by node they are for, and those pinned to no node at all."""
    by_node: dict[str, NodePods] = {}
    unpinned: list[ObjView] = []
    for pod in pods:
        node = D.pinned_node(pod)
        if node is None:
            if not P.deleting(pod):
                unpinned.append(pod)
            continue
        g = by_node.setdefault(node, NodePods())
        if P.phase(pod) in ("Succeeded", "Failed"):
            if not P.deleting(pod):
                g.finished.append(pod)
        elif P.deleting(pod):
            g.deleting.append(pod)
        else:
            g.running.append(pod)
    for g in by_node.values():
        g.running.sort(key=_age)
    return by_node, unpinned


def _hash(pod: ObjView) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(D.REVISION_HASH, ""))


def manage(
    verdicts: Mapping[str, Verdict], pods: Mapping[str, NodePods], unpinned: Sequence[ObjView], *,
    revision: str, surge: bool, hold: Mapping[str, float],
) -> Step:
    step = Step(delete=list(unpinned))
    for name in sorted(verdicts):
        verdict, g = verdicts[name], pods.get(name) or NodePods()
        if not verdict.should_continue:
            step.delete.extend(g.running)
            continue
        if g.finished:
            step.delete.extend(g.finished)
            if verdict.should_run:
                step.failed_on.append(name)
        if verdict.should_run and not g.running and not g.finished:
            left = hold.get(name, 0.0)
            if left > 0:
                step.wake = left if step.wake is None else min(step.wake, left)
            else:
                step.create.append(name)
        step.delete.extend(_extra(g.running, revision=revision, surge=surge))
    for name, g in pods.items():
        if name not in verdicts:
            step.delete.extend(p for p in g.running if not (p.get("spec") or {}).get("nodeName"))
    return step


def _extra(running: list[ObjView], *, revision: str, surge: bool) -> list[ObjView]:
    """The pods of one node beyond the one (or, with surge, two) it may have."""
    if len(running) <= 1:
        return []
    if not surge:
        return running[1:]
    new = [p for p in running if _hash(p) == revision]
    old = [p for p in running if _hash(p) != revision]
    out = new[1:] + old[1:]
    if new and old and (not P.is_ready(old[0]) or P.is_ready(new[0])):
        out.append(old[0])
    return out


def _on_node(g: NodePods, revision: str) -> tuple[ObjView | None, ObjView | None, bool]:
    """(new pod, old pod, whether the node holds at most one of each), as Kubernetes'
    findUpdatedPodsOnNode; pods being deleted are not counted."""
    new = [p for p in g.running if _hash(p) == revision]
    old = [p for p in g.running if _hash(p) != revision]
    if len(new) > 1 or len(old) > 1:
        return None, None, False
    return (new[0] if new else None), (old[0] if old else None), True


def rolling_update(
    verdicts: Mapping[str, Verdict], pods: Mapping[str, NodePods], *,
    revision: str, max_surge: int, max_unavailable: int, wake: float | None = None,
) -> Step:
    """One step of the update; ``wake`` (a held-back creation's, from :func:`manage`) is kept."""
    nodes = [n for n in sorted(verdicts) if verdicts[n].should_continue]
    if max_surge == 0:
        out = _replace(nodes, verdicts, pods, revision=revision, max_unavailable=max_unavailable)
    else:
        out = _surge(nodes, pods, revision=revision, max_surge=max_surge)
    out.wake = wake
    return out


def _replace(
    nodes: list[str], verdicts: Mapping[str, Verdict], pods: Mapping[str, NodePods], *,
    revision: str, max_unavailable: int,
) -> Step:
    unavailable = 0
    free: list[ObjView] = []  # old pods that are not available: replacing them costs nothing
    candidates: list[ObjView] = []
    for name in nodes:
        g = pods.get(name) or NodePods()
        new, old, ok = _on_node(g, revision)
        if not ok:
            unavailable += 1
        elif old is None and (new is None or not P.is_available(new)):
            # no pod yet, or only one being deleted, or a new one not available yet
            unavailable += int(new is not None or g.any or verdicts[name].should_run)
        elif old is not None and new is not None:
            unavailable += 1
        elif old is not None and not P.is_available(old):
            free.append(old)
        elif old is not None and unavailable < max_unavailable:
            candidates.append(old)
    room = max(0, min(max_unavailable - unavailable, len(candidates)))
    return Step(delete=free + candidates[:room])


def _surge(nodes: list[str], pods: Mapping[str, NodePods], *, revision: str, max_surge: int) -> Step:
    surging = 0
    free: list[str] = []  # nodes whose old pod is not available: a new one may go at once
    candidates: list[str] = []
    retire: list[ObjView] = []
    for name in nodes:
        new, old, ok = _on_node(pods.get(name) or NodePods(), revision)
        if not ok or old is None:
            continue
        if new is None:
            (candidates if P.is_available(old) else free).append(name)
        elif not P.is_available(new):
            surging += 1
        else:
            retire.append(old)
    room = max(0, min(max_surge - surging, len(candidates)))
    return Step(create=free + candidates[:room], delete=retire)


def status(
    ds: ObjView, verdicts: Mapping[str, Verdict], pods: Mapping[str, NodePods], *, revision: str,
) -> dict[str, object]:
    """The DaemonSet's status (Kubernetes' fields), from what one sync saw."""
    desired = current = ready = available = updated = misscheduled = 0
    for name, verdict in verdicts.items():
        g = pods.get(name) or NodePods()
        if not verdict.should_run:
            misscheduled += int(g.any)
            continue
        desired += 1
        if not g.any:
            continue
        current += 1
        new = [p for p in g.running if _hash(p) == revision]
        shown = (new or g.running or g.deleting)[0]
        ready += int(P.is_ready(shown) and not P.deleting(shown))
        available += int(P.is_available(shown))
        updated += int(bool(new))
    out: dict[str, object] = {
        "observedGeneration": int((ds.get("metadata") or {}).get("generation", 1)),
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
        "numberUnavailable": max(desired - available, 0),
    }
    condition = skipped_condition(ds, verdicts)
    if condition is not None:
        out["conditions"] = [condition]
    return out


def skipped_message(verdicts: Mapping[str, Verdict]) -> str:
    """``skipped 2 of 4 nodes: win-2019 (image ...: host build 17763 cannot run image
    build 20348 with process isolation); linux-1 (node OS is linux, pod needs windows)``;
    "" when no node is skipped. Grouped by reason, so a big fleet stays one line."""
    by_reason: dict[str, list[str]] = {}
    for name, verdict in verdicts.items():
        if verdict.skipped:
            by_reason.setdefault(verdict.reason, []).append(name)
    if not by_reason:
        return ""
    total = sum(len(v) for v in by_reason.values())
    parts = []
    for reason, names in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        names.sort()
        shown = ", ".join(names[:NAMES_PER_REASON])
        if len(names) > NAMES_PER_REASON:
            shown += f" and {len(names) - NAMES_PER_REASON} more"
        parts.append(f"{shown} ({reason})")
    noun = "node" if total == 1 else "nodes"
    return f"skipped {total} of {len(verdicts)} {noun}: " + "; ".join(parts)


def skipped_condition(ds: ObjView, verdicts: Mapping[str, Verdict]) -> dict[str, str] | None:
    message = skipped_message(verdicts)
    if not message:
        return None
    old = next((c for c in (ds.get("status") or {}).get("conditions") or [] if c.get("type") == SKIPPED), None)
    since = old.get("lastTransitionTime") if old and old.get("message") == message else None
    return {"type": SKIPPED, "status": "True", "reason": "NodesNotEligible", "message": message,
            "lastTransitionTime": since or times.now()}
