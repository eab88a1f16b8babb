"""``mixctl rollout status|history|undo deployment/NAME`` (``status`` also ``daemonset/NAME``).

- ``status`` follows the Deployment (or DaemonSet) with a watch and prints each new stage of
  the rollout (Kubernetes' wording) until it completes, or fails after ``--timeout``;
- ``history`` lists the revisions: one ReplicaSet per pod template, numbered by the
  ``deployment.kubernetes.io/revision`` annotation, with ``kubernetes.io/change-cause``;
- ``undo`` copies the template of an earlier revision (default: the previous one) back into
  the Deployment with a compare-and-swap; the controller then rolls to it as a new revision.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
from typing import Callable

from mixfleet.api import daemonsets
from mixfleet.api.kinds import Kind, by_kind
from mixfleet.api.types import Obj
from mixfleet.api.workloads import (
    CHANGE_CAUSE,
    TEMPLATE_HASH,
    revision,
    rollout_complete,
)
from mixfleet.client import Client, GoneError, UnavailableError
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import get_or_explain, mutate, parse_refs
from mixfleet.mixctl.session import Invocation
from mixfleet.util.aio import within

DEPLOYMENT = by_kind("Deployment")
DAEMONSET = by_kind("DaemonSet")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("rollout", parents=[common], help="manage the rollout of a deployment")
    verbs = p.add_subparsers(dest="rollout_verb", metavar="VERB", required=True)
    st = verbs.add_parser("status", parents=[common], help="watch a rollout until it completes")
    st.add_argument("resources", nargs="+", metavar="deployment/NAME | daemonset/NAME")
    st.add_argument("--timeout", type=float, default=0, help="seconds; 0 waits forever")
    st.add_argument("-w", "--watch", default="true", choices=("true", "false"),
                    help="follow until done (false: print the current stage once)")
    st.set_defaults(handler=run_status)
    hi = verbs.add_parser("history", parents=[common], help="list a deployment's revisions")
    hi.add_argument("resources", nargs="+", metavar="deployment/NAME")
    hi.set_defaults(handler=run_history)
    un = verbs.add_parser("undo", parents=[common], help="roll back to an earlier revision")
    un.add_argument("resources", nargs="+", metavar="deployment/NAME")
    un.add_argument("--to-revision", type=int, default=0, help="default: the previous one")
    un.set_defaults(handler=run_undo)


def _name(resources: list[str]) -> str:
    _, refs = parse_refs(resources)
    if len(refs) != 1 or refs[0][0].kind != "Deployment":
        raise CLIError("error: rollout needs exactly one deployment (deployment/NAME)")
    return refs[0][1]


def _target(resources: list[str]) -> tuple[Kind, str]:
    """What ``rollout status`` follows: a Deployment or a DaemonSet."""
    _, refs = parse_refs(resources)
    if len(refs) != 1 or refs[0][0].kind not in ("Deployment", "DaemonSet"):
        raise CLIError("error: rollout status needs exactly one deployment or daemonset "
                       "(deployment/NAME, daemonset/NAME)")
    return refs[0]


def _complete(obj: Obj) -> bool:
    return daemonsets.rollout_complete(obj) if obj.get("kind") == "DaemonSet" else rollout_complete(obj)


def daemonset_stage(ds: Obj) -> str:
    """kubectl's DaemonSetStatusViewer."""
    name, st = ds["metadata"]["name"], ds.get("status") or {}
    if int(st.get("observedGeneration", 0)) < int(ds["metadata"].get("generation", 1)):
        return "Waiting for daemon set spec update to be observed..."
    desired = int(st.get("desiredNumberScheduled", 0))
    updated, available = int(st.get("updatedNumberScheduled", 0)), int(st.get("numberAvailable", 0))
    wait = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return f"{wait}{updated} out of {desired} new pods have been updated..."
    if available < desired:
        return f"{wait}{available} of {desired} updated pods are available..."
    return f'daemon set "{name}" successfully rolled out'


def stage(d: Obj) -> str:
    """Where a rollout is, in kubectl's words."""
    if d.get("kind") == "DaemonSet":
        return daemonset_stage(d)
    name = d["metadata"]["name"]
    spec, st = d.get("spec") or {}, d.get("status") or {}
    want = int(spec.get("replicas", 1))
    updated, total = int(st.get("updatedReplicas", 0)), int(st.get("replicas", 0))
    available = int(st.get("availableReplicas", 0))
    wait = f'Waiting for deployment "{name}" rollout to finish: '
    if int(st.get("observedGeneration", 0)) < int(d["metadata"].get("generation", 1)):
        return "Waiting for deployment spec update to be observed..."
    if updated < want:
        return f"{wait}{updated} out of {want} new replicas have been updated..."
    if total > updated:
        return f"{wait}{total - updated} old replicas are pending termination..."
    if available < updated:
        return f"{wait}{available} of {updated} updated replicas are available..."
    return f'deployment "{name}" successfully rolled out'


async def follow_rollout(client: Client, name: str, namespace: str, *,
                         emit: Callable[[str], None], kind: Kind = DEPLOYMENT) -> Obj:
    """Emit each new stage until the rollout completes; returns the final object.
    Re-lists when the watch breaks or its revision was compacted."""
    last = ""
    while True:
        d = await get_or_explain(client, kind, name, namespace)
        rev = int(d["metadata"]["resourceVersion"])
        try:
            while True:
                msg = stage(d)
                if msg != last:
                    emit(msg)
                    last = msg
                if _complete(d):
                    return d
                if _deadline_exceeded(d):
                    raise CLIError(f'error: deployment "{name}" exceeded its progress deadline')
                d = await _next_version(client, name, namespace, rev, kind=kind)
                rev = int(d["metadata"]["resourceVersion"])
        except (GoneError, UnavailableError):
            await asyncio.sleep(0.5)


def _deadline_exceeded(d: Obj) -> bool:
    return any(c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
               for c in (d.get("status") or {}).get("conditions") or [])


async def _next_version(client: Client, name: str, namespace: str, rev: int, *,
                        kind: Kind = DEPLOYMENT) -> Obj:
    async for ev in client.watch(kind.kind, namespace=namespace, from_revision=rev + 1,
                                 field_selector=f"metadata.name={name}"):
        if ev.type == "DELETED":
            raise CLIError(f'error: {kind.singular} "{name}" was deleted')
        if ev.object["metadata"]["name"] == name:
            return ev.object
    raise UnavailableError("watch ended")


def run_status(args: argparse.Namespace, inv: Invocation) -> int:
    (kind, name), session = _target(args.resources), inv.session

    async def go(client: Client) -> None:
        if kind is DAEMONSET:
            ds = await get_or_explain(client, kind, name, session.namespace)
            if daemonsets.strategy(ds) != "RollingUpdate":  # kubectl's words
                raise CLIError("error: rollout status is only available for RollingUpdate strategy type")
        if args.watch == "false":
            print(stage(await get_or_explain(client, kind, name, session.namespace)))
            return
        task = follow_rollout(client, name, session.namespace, emit=lambda m: print(m, flush=True), kind=kind)
        try:
            await within(task, args.timeout or None)
        except asyncio.TimeoutError:
            raise CLIError(f"error: timed out waiting for the rollout of {kind.singular}/{name}") from None

    session.run(go)
    return 0


async def revisions(client: Client, name: str, namespace: str) -> list[Obj]:
    """The Deployment's ReplicaSets, oldest revision first."""
    d = await get_or_explain(client, DEPLOYMENT, name, namespace)
    uid = d["metadata"]["uid"]
    sets, _ = await client.list("ReplicaSet", namespace=namespace)
    mine = [rs for rs in sets
            if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])]
    return sorted(mine, key=revision)


def run_history(args: argparse.Namespace, inv: Invocation) -> int:
    name, session = _name(args.resources), inv.session
    sets = session.run(lambda c: revisions(c, name, session.namespace))
    print(f"deployment.apps/{name}")
    print(f"{'REVISION':<10}CHANGE-CAUSE")
    for rs in sets:
        cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"
        print(f"{revision(rs):<10}{cause}")
    return 0


def _template_of(rs: Obj) -> Obj:
    t = copy.deepcopy(rs["spec"]["template"])
    labels = (t.get("metadata") or {}).get("labels") or {}
    labels.pop(TEMPLATE_HASH, None)
    return t


async def undo(client: Client, name: str, namespace: str, *, to_revision: int = 0) -> tuple[int, bool]:
    """Roll back; returns (revision rolled back to, whether the template changed)."""
    sets = await revisions(client, name, namespace)
    if to_revision:
        target = next((rs for rs in sets if revision(rs) == to_revision), None)
        if target is None:
            raise CLIError(f"error: unable to find specified revision {to_revision} in history")
    elif len(sets) < 2:
        raise CLIError(f'error: no rollout history found for deployment "{name}"')
    else:
        target = sets[-2]
    template = _template_of(target)

    def change(d: Obj) -> bool:
        if d["spec"].get("template") == template:
            return False
        d["spec"]["template"] = copy.deepcopy(template)
        return True

    _, changed = await mutate(client, DEPLOYMENT, name, namespace, change)
    return revision(target), changed


def run_undo(args: argparse.Namespace, inv: Invocation) -> int:
    name, session = _name(args.resources), inv.session
    rev, changed = session.run(
        lambda c: undo(c, name, session.namespace, to_revision=args.to_revision)
    )
    if changed:
        print(f"deployment.apps/{name} rolled back")
    else:
        print(f"deployment.apps/{name} skipped rollback (current template already matches revision {rev})")
    return 0
