"""``mixctl cordon NODE...`` and ``uncordon NODE...``: flip ``spec.unschedulable`` with a
compare-and-swap, so a node agent writing the Node at the same moment is never overwritten.
(``drain`` belongs here too.)"""

from __future__ import annotations

import argparse
from typing import Any

from mixfleet.api.kinds import by_kind, lookup
from mixfleet.client import Client
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import mutate
from mixfleet.mixctl.session import Invocation

NODE = by_kind("Node")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    for verb, flag, help_text in (
        ("cordon", True, "mark nodes unschedulable (running pods stay)"),
        ("uncordon", False, "mark nodes schedulable again"),
    ):
        p = sub.add_parser(verb, parents=[common], help=help_text)
        p.add_argument("nodes", nargs="+", metavar="NODE")
        p.set_defaults(handler=_handler(verb, flag), extra_positionals="nodes")


def node_name(arg: str) -> str:
    """``NAME`` or ``node/NAME`` (what ``get no -o name`` prints)."""
    kind, sep, name = arg.partition("/")
    if not sep:
        return arg
    if lookup(kind) is not NODE:
        raise CLIError(f"error: {kind} is not a node")
    return name


def set_unschedulable(obj: dict[str, Any], value: bool) -> bool:
    """Change the node in place; False when it already was so."""
    spec = obj.setdefault("spec", {})
    if bool(spec.get("unschedulable")) == value:
        return False
    spec["unschedulable"] = value
    return True


def _handler(verb: str, value: bool):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace, inv: Invocation) -> int:
        async def go(client: Client) -> None:
            for arg in args.nodes:
                name = node_name(arg)
                _, changed = await mutate(client, NODE, name, "", lambda o: set_unschedulable(o, value))
                print(f"node/{name} {verb}ed" if changed else f"node/{name} already {verb}ed", flush=True)

        inv.session.run(go)
        return 0

    return run
