"""``mixctl apply -f FILE|DIR|- [--dry-run]``: validate everything first, then one atomic
Apply call, so a bad document means nothing at all was written."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mixfleet.client import Client
from mixfleet.mixctl import names
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.session import Invocation


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("apply", parents=[common], help="create or update objects from manifests")
    add_file_flag(p, required=True)
    p.add_argument("--dry-run", action="store_true", help="validate on the server, write nothing")
    p.set_defaults(handler=run)


def add_file_flag(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "-f", "--filename", action="append", default=[], required=required, metavar="PATH",
        help="a manifest file, a directory of them, or - for stdin (repeatable)",
    )
    p.add_argument("-R", "--recursive", action="store_true", help="also read subdirectories of -f DIR")


def load_objects(args: argparse.Namespace, inv: Invocation, *, verb: str) -> list[dict[str, Any]]:
    """Every document named by ``-f``, defaulted and validated. Invalid documents raise
    ``CLIError`` listing every error, one per line (file, document, object, field)."""
    # Imported here: manifest loading pulls in the schema, which only -f commands need.
    from mixfleet.api import manifest

    paths = args.filename
    try:
        docs = manifest.load(
            paths,
            stdin=sys.stdin if "-" in paths else None,
            recursive=args.recursive,
            # Only an explicit -n is passed: load() treats it as a demand (an object naming
            # another namespace is an error), which a context's namespace should not be.
            namespace=inv.namespace_flag,
            default_namespace=inv.session.namespace,
        )
    except manifest.ManifestError as e:
        lines = [f"error: {fe}" for fe in e.errors] or [f"error: {e}"]
        bad = len({(fe.file, fe.document) for fe in e.errors})
        lines.append(
            f"nothing was applied: {bad} document{'s' if bad != 1 else ''} with errors"
        )
        raise CLIError("\n".join(lines)) from e
    objects = [d.obj for d in docs]
    if not objects:
        raise CLIError(f"error: no objects passed to {verb}")
    return objects


def run(args: argparse.Namespace, inv: Invocation) -> int:
    objects = load_objects(args, inv, verb="apply")
    session = inv.session

    async def go(client: Client) -> list[tuple[dict[str, Any], str]]:
        return await client.apply(objects, dry_run=args.dry_run)

    suffix = " (dry run)" if args.dry_run else ""
    for stored, outcome in session.run(go):
        print(f"{names.ref(stored)} {outcome}{suffix}")
    return 0
