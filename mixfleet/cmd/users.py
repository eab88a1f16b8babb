"""`mixfleet user create NAME [--group G]... [--ttl 24h]`, `mixfleet user list`,
`mixfleet user delete NAME`: bearer tokens, written straight into the cluster's store (like
`kubeadm token`, run where the store is reachable; the server needs not run). The token is
printed once and kept only as its SHA-256 (controlplane/access/tokens.py); what a user may
do is what RoleBindings grant their name and groups (`--group system:masters`: cluster-admin).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from mixfleet.store.base import StoreError

_DEFAULT_STORE = "sqlite://.mixfleet/dev.db"  # what `mixfleet dev` uses
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    user = sub.add_parser("user", help="make, list and revoke users' bearer tokens")
    verbs = user.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", help="make a token for NAME and print it (once)")
    create.add_argument("name")
    create.add_argument("--group", action="append", default=[], metavar="G",
                        help="a group of the user (repeatable); system:masters is cluster-admin")
    create.add_argument("--ttl", default="", metavar="DURATION", help="expire after 30m, 12h, 90d ...")
    verbs.add_parser("list", help="users and groups of every token (never the tokens)")
    delete = verbs.add_parser("delete", help="revoke every token of NAME")
    delete.add_argument("name")
    for p in verbs.choices.values():
        p.add_argument("--store", default=_DEFAULT_STORE, help=f"the store's URL (default {_DEFAULT_STORE})")
    user.set_defaults(command_main=main)


def _ttl(text: str) -> float | None:
    if not text:
        return None
    m = _DURATION.match(text)
    if not m or int(m[1]) == 0:
        raise ValueError(f"--ttl {text!r}: want a duration such as 30m, 12h or 90d")
    return int(m[1]) * _UNIT[m[2]]


async def _run(args: argparse.Namespace) -> None:
    from mixfleet.controlplane.access import tokens
    from mixfleet.store import open_store

    store = open_store(args.store)
    try:
        if args.verb == "create":
            token = await tokens.create(store, args.name, tuple(args.group), ttl=_ttl(args.ttl))
            print(token)
        elif args.verb == "list":
            for _, r in sorted(await tokens.records(store), key=lambda x: (x[1].user, x[1].created)):
                print(f"{r.user}\tgroups={','.join(r.groups) or '-'}\tcreated={r.created}")
        else:
            n = await tokens.delete_user(store, args.name)
            if n == 0:
                raise ValueError(f'no tokens for user "{args.name}"')
            print(f'user "{args.name}": {n} token(s) revoked (in effect within '
                  f"{tokens.CACHE_SECONDS:.0f}s on every control plane)")
    finally:
        await store.close()


def main(args: argparse.Namespace) -> int:
    from mixfleet.util import log

    log.configure(json=False, level="warning")  # stdout is for the token alone
    try:
        asyncio.run(_run(args))
    except (StoreError, OSError, ValueError) as e:
        print(f"mixfleet user {args.verb}: error: {e}", file=sys.stderr)
        return 1
    return 0
