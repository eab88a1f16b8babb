"""``mixctl auth can-i VERB KIND[/NAME] [NAME] [-n NS | -A]`` and ``mixctl auth whoami``,
as kubectl's: the server answers for whoever this invocation's credentials make the caller.
``can-i`` prints yes or no and exits 0 or 1, so scripts can test it."""

from __future__ import annotations

import argparse

from mixfleet.api import kinds
from mixfleet.client import Client
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.session import Invocation

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("auth", help="inspect your own access")
    verbs = p.add_subparsers(dest="auth_command", metavar="VERB", required=True)
    can = verbs.add_parser("can-i", parents=[common], help="may I VERB KIND? (yes/no, exit 0/1)")
    can.add_argument("verb", choices=VERBS)
    can.add_argument("resource", metavar="KIND[/NAME][/SUBRESOURCE]",
                     help="pods, deployments, secrets/db, pods/log ...")
    can.add_argument("name", nargs="?", default="")
    can.add_argument("-A", "--all-namespaces", action="store_true")
    can.add_argument("--quiet", "-q", action="store_true", help="no output, only the exit status")
    can.set_defaults(handler=_can_i)
    who = verbs.add_parser("whoami", parents=[common], help="the user and groups the server sees")
    who.set_defaults(handler=_whoami)


def _split(resource: str, name: str) -> tuple[kinds.Kind, str, str]:
    """``pods``, ``pods/log``, ``secrets/db`` (kubectl's TYPE/NAME) -> (kind, name, sub)."""
    kind_name, _, rest = resource.partition("/")
    kind = kinds.lookup(kind_name)
    subresource = ""
    if rest in ("status", "log"):
        subresource = rest
    elif rest:
        if name:
            raise CLIError(f"error: give the name once: {resource} or {kind_name} {name}")
        name = rest
    return kind, name, subresource


def _can_i(args: argparse.Namespace, inv: Invocation) -> int:
    kind, name, subresource = _split(args.resource, args.name)
    session = inv.session

    async def ask(client: Client) -> bool:
        review = await client.access_review(
            args.verb, kind.kind, namespace=session.namespace, name=name, subresource=subresource,
            all_namespaces=args.all_namespaces,
        )
        if not args.quiet:
            print("yes" if review.allowed else "no")
        return review.allowed

    return 0 if session.run(ask) else 1


def _whoami(args: argparse.Namespace, inv: Invocation) -> int:
    async def ask(client: Client) -> None:
        review = await client.access_review("get", "Namespace", name="default")
        print(f"Username: {review.user}")
        print(f"Groups:   {', '.join(review.groups) or '<none>'}")

    inv.session.run(ask)
    return 0
