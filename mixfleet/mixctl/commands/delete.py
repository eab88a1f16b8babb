"""``mixctl delete -f PATH`` | ``delete KIND NAME...`` | ``delete KIND -l SEL`` | ``--all``."""

from __future__ import annotations

import argparse
import sys

from mixfleet.api.kinds import Kind, by_kind
from mixfleet.client import Client, NotFoundError
from mixfleet.mixctl import names
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.commands.apply import add_file_flag, load_objects
from mixfleet.mixctl.errors import CLIError, not_found_message
from mixfleet.mixctl.objects import namespace_for, parse_refs
from mixfleet.mixctl.session import Invocation

CASCADE = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("delete", parents=[common], help="delete objects by file, name or selector")
    p.add_argument("resources", nargs="*", metavar="KIND NAME... | KIND/NAME...")
    add_file_flag(p, required=False)
    p.add_argument("-l", "--selector", default="", help="delete every object matching this label selector")
    p.add_argument("--all", action="store_true", help="delete every object of the kind in the namespace")
    p.add_argument("--cascade", choices=sorted(CASCADE), default="background",
                   help="what happens to dependents (pods of a replicaset...)")
    p.add_argument("--grace-period", type=int, default=-1, metavar="SECONDS",
                   help="seconds pods get to stop; -1 uses the pod's own")
    p.add_argument("--ignore-not-found", action="store_true", help="a missing object is not an error")
    p.set_defaults(handler=run, extra_positionals="resources")


def _targets_from_args(args: argparse.Namespace) -> tuple[list[tuple[Kind, str]], list[Kind]]:
    """Named objects, or kinds to list (with -l or --all)."""
    if args.filename:
        if args.resources:
            raise CLIError("error: give either -f or KIND NAME, not both")
        return [], []
    kinds, refs = parse_refs(args.resources)
    if refs and (args.selector or args.all):
        raise CLIError("error: names cannot be combined with --selector or --all")
    if not refs and not (args.selector or args.all):
        raise CLIError(
            "error: resource(s) were provided, but no name was specified (give NAME, -l or --all)"
        )
    return refs, [] if refs else kinds


def run(args: argparse.Namespace, inv: Invocation) -> int:
    session = inv.session
    ns = session.namespace
    refs, kinds = _targets_from_args(args)
    file_refs: list[tuple[Kind, str, str]] = []
    if args.filename:
        for obj in load_objects(args, inv, verb="delete"):
            meta = obj["metadata"]
            file_refs.append((by_kind(obj["kind"]), meta["name"], meta.get("namespace", "")))

    async def go(client: Client) -> list[str]:
        targets = file_refs + [(k, n, namespace_for(k, ns)) for k, n in refs]
        for kind in kinds:
            items, _ = await client.list(kind.kind, namespace=namespace_for(kind, ns), label_selector=args.selector)
            targets += [(kind, o["metadata"]["name"], namespace_for(kind, ns)) for o in items]
        if kinds and not targets:
            print("No resources found", file=sys.stderr)
        return [e for t in targets if (e := await _delete(client, *t, args=args))]

    errors = session.run(go)
    for line in errors:
        print(line, file=sys.stderr)
    return 1 if errors else 0


async def _delete(client: Client, kind: Kind, name: str, namespace: str, *, args: argparse.Namespace) -> str:
    """Delete one object; returns an error line, or "" when it went well."""
    try:
        await client.delete(
            kind.kind, name, namespace,
            propagation_policy=CASCADE[args.cascade],
            grace_period_seconds=args.grace_period,
        )
    except NotFoundError:
        return "" if args.ignore_not_found else not_found_message(names.plural(kind), name)
    print(f'{names.singular(kind)} "{name}" deleted', flush=True)
    return ""
