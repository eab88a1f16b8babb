"""``mixctl logs POD [-c CONTAINER] [-f] [--tail N]``: bytes straight through to stdout."""

from __future__ import annotations

import argparse
import sys

from mixfleet.client import Client
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.session import Invocation


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("logs", parents=[common], help="print a container's output")
    p.add_argument("pod", metavar="POD | pod/POD")
    p.add_argument("-c", "--container", default="", help="the container (default: the only/first)")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new output")
    p.add_argument("--tail", type=int, default=-1, metavar="N", help="only the last N lines")
    p.set_defaults(handler=run)


def _pod_name(arg: str) -> str:
    kind, sep, name = arg.partition("/")
    if not sep:
        return arg
    if kind.lower() not in ("po", "pod", "pods"):
        raise CLIError(f"error: logs works on pods, not {kind}")
    return name


def run(args: argparse.Namespace, inv: Invocation) -> int:
    session = inv.session
    pod = _pod_name(args.pod)
    out = sys.stdout.buffer

    async def go(client: Client) -> None:
        async for chunk in client.logs(
            session.namespace, pod, container=args.container, follow=args.follow, tail_lines=args.tail
        ):
            out.write(chunk)
            out.flush()

    try:
        session.run(go)
    except KeyboardInterrupt:
        if not args.follow:
            raise
    return 0
