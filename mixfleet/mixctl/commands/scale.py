"""``mixctl scale deployment NAME --replicas N`` (also ``deployment/NAME``, replicasets)."""

from __future__ import annotations

import argparse
from typing import Any

from mixfleet.client import Client
from mixfleet.mixctl import names
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import mutate, parse_refs
from mixfleet.mixctl.session import Invocation

SCALABLE = ("Deployment", "ReplicaSet")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("scale", parents=[common], help="set the replica count of a deployment")
    p.add_argument("resources", nargs="+", metavar="KIND NAME | KIND/NAME")
    p.add_argument("--replicas", type=int, required=True, metavar="N")
    p.set_defaults(handler=run, extra_positionals="resources")


def set_replicas(obj: dict[str, Any], replicas: int) -> bool:
    spec = obj.setdefault("spec", {})
    if spec.get("replicas") == replicas:
        return False
    spec["replicas"] = replicas
    return True


def run(args: argparse.Namespace, inv: Invocation) -> int:
    if args.replicas < 0:
        raise CLIError("error: --replicas must not be negative")
    _, refs = parse_refs(args.resources)
    if not refs:
        raise CLIError("error: scale needs a NAME (mixctl scale deployment NAME --replicas N)")
    for kind, _ in refs:
        if kind.kind not in SCALABLE:
            raise CLIError(f"error: cannot scale {kind.plural}: only deployments and replicasets")
    session = inv.session

    async def go(client: Client) -> None:
        for kind, name in refs:
            # Changed or not, kubectl says "scaled": the count is what the user asked for.
            await mutate(client, kind, name, session.namespace, lambda o: set_replicas(o, args.replicas))
            print(f"{names.singular(kind)}/{name} scaled", flush=True)

    session.run(go)
    return 0
