"""``mixctl drain NODE [--force] [--timeout S]``: cordon the node, then evict its pods
without taking any Deployment below ``replicas - maxUnavailable`` available pods.

Evicting is a graceful delete; the ReplicaSet controller replaces the pod on another node
(the drained one is cordoned). A pod whose eviction would break its Deployment's budget
waits until replacements elsewhere are available, then the next round evicts it. Pods that
no controller would replace are only deleted with ``--force``. DaemonSet pods would only
come back on the node (they tolerate the cordon), so, as kubectl does, drain refuses while
there are some unless ``--ignore-daemonsets`` says to leave them running.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from typing import Callable

from mixfleet.api import objects
from mixfleet.api import pods as P
from mixfleet.api.kinds import by_kind
from mixfleet.api.types import Obj
from mixfleet.api.workloads import surge_and_unavailable
from mixfleet.client import Client, ConflictError, NotFoundError
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.commands.nodes import set_unschedulable
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import mutate
from mixfleet.mixctl.session import Invocation
from mixfleet.util.aio import within

NODE = by_kind("Node")
RETRY_SECONDS = 1.0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("drain", parents=[common], help="cordon a node and evict its pods")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--force", action="store_true",
                   help="also delete pods that no controller will replace")
    p.add_argument("--ignore-daemonsets", action="store_true",
                   help="leave DaemonSet-managed pods running (they would come back)")
    p.add_argument("--timeout", type=float, default=0, help="seconds; 0 waits forever")
    p.set_defaults(handler=run)


class _Budget:
    """Available pods per Deployment, and the minimum each must keep, for one round."""

    def __init__(self, pods: list[Obj], sets: list[Obj], deployments: list[Obj]) -> None:
        uid_of = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in deployments}
        self._deploy_of_rs: dict[str, Obj] = {}
        for rs in sets:
            ref = objects.controller_of(rs)
            d = uid_of.get((rs["metadata"]["namespace"], ref["name"])) if ref else None
            if d is not None and ref and ref.get("uid") == d["metadata"]["uid"]:
                self._deploy_of_rs[rs["metadata"]["uid"]] = d
        self.available: Counter[str] = Counter()
        for pod in pods:
            d = self.deployment_of(pod)
            if d is not None and P.is_available(pod):
                self.available[d["metadata"]["uid"]] += 1

    def deployment_of(self, pod: Obj) -> Obj | None:
        ref = objects.controller_of(pod)
        return self._deploy_of_rs.get(ref.get("uid", "")) if ref else None

    def take(self, pod: Obj) -> bool:
        """Whether evicting ``pod`` keeps its Deployment within budget (and count it)."""
        d = self.deployment_of(pod)
        if d is None or not P.is_available(pod):
            return True
        uid = d["metadata"]["uid"]
        _, max_unavailable = surge_and_unavailable(d)
        floor = int(d["spec"].get("replicas", 1)) - max_unavailable
        if self.available[uid] - 1 < floor:
            return False
        self.available[uid] -= 1
        return True


def _ref(pod: Obj) -> str:
    return f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"


def _daemon_pod(pod: Obj) -> bool:
    return (objects.controller_of(pod) or {}).get("kind") == "DaemonSet"


async def _round(client: Client, node: str, *, force: bool, emit: Callable[[str], None],
                 ignore_daemonsets: bool = False, first: bool = False) -> int:
    """Evict what the budget allows; returns how many pods are still on the node (those of
    DaemonSets left out)."""
    pods, _ = await client.list("Pod", all_namespaces=True)
    sets, _ = await client.list("ReplicaSet", all_namespaces=True)
    deployments, _ = await client.list("Deployment", all_namespaces=True)
    here = [p for p in pods if (p.get("spec") or {}).get("nodeName") == node]
    daemons = [p for p in here if _daemon_pod(p) and not P.deleting(p)]
    if daemons and not ignore_daemonsets:
        raise CLIError("error: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
                       + ", ".join(_ref(p) for p in daemons))
    if daemons and first:
        emit("Warning: ignoring DaemonSet-managed Pods: " + ", ".join(_ref(p) for p in daemons))
    here = [p for p in here if not _daemon_pod(p)]
    unmanaged = [p for p in here if not objects.controller_of(p) and not P.deleting(p)]
    if unmanaged and not force:
        raise CLIError(
            "error: cannot delete Pods not managed by a controller (use --force to override): "
            + ", ".join(_ref(p) for p in unmanaged)
        )
    budget = _Budget(pods, sets, deployments)
    for pod in sorted(here, key=P.deletion_rank):
        if P.deleting(pod):
            continue
        if not budget.take(pod):
            emit(f"error when evicting pods/\"{pod['metadata']['name']}\" -n "
                 f"\"{pod['metadata'].get('namespace', 'default')}\" (will retry after "
                 f"{RETRY_SECONDS:g}s): Cannot evict pod as it would violate the deployment's "
                 "disruption budget.")
            continue
        emit(f"evicting pod {_ref(pod)}")
        try:
            await client.delete("Pod", pod["metadata"]["name"], pod["metadata"]["namespace"],
                                precondition_resource_version=pod["metadata"]["resourceVersion"])
        except (NotFoundError, ConflictError):
            continue  # it changed; the next round looks again
    return len(here)


async def drain(client: Client, node: str, *, force: bool = False, ignore_daemonsets: bool = False,
                emit: Callable[[str], None] = print) -> None:
    """Cordon ``node`` and evict its pods round by round until none is left."""
    _, changed = await mutate(client, NODE, node, "", lambda o: set_unschedulable(o, True))
    emit(f"node/{node} cordoned" if changed else f"node/{node} already cordoned")
    first = True
    while await _round(client, node, force=force, emit=emit, ignore_daemonsets=ignore_daemonsets, first=first):
        first = False
        await asyncio.sleep(RETRY_SECONDS)
    emit(f"node/{node} drained")


def run(args: argparse.Namespace, inv: Invocation) -> int:
    session = inv.session

    async def go(client: Client) -> None:
        try:
            await within(
                drain(client, args.node, force=args.force, ignore_daemonsets=args.ignore_daemonsets,
                      emit=lambda m: print(m, flush=True)),
                args.timeout or None,
            )
        except asyncio.TimeoutError:
            raise CLIError(f"error: timed out waiting for node/{args.node} to drain") from None

    session.run(go)
    return 0
