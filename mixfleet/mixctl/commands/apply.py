"""``mixctl apply -f FILE|DIR|- [--dry-run]``: validate everything first, then one atomic
Apply call, so a bad document means nothing at all was written.

A server carries at most so many objects per request (``--max-objects-per-apply``: a
bigger commit would outlast the request's deadline). When it refuses a larger file it says
its limit, and the file goes again in batches below it, Namespaces first so that the
objects in them find them; each batch is atomic, and a failure says how many objects were
applied before it and that repeating the apply is safe (apply is idempotent).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from mixfleet.client import APIError, Client, OutcomeUnknownError, TooLargeError, UnavailableError
from mixfleet.mixctl import names
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError, api_error_message
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
    suffix = " (dry run)" if args.dry_run else ""

    def show(results: list[tuple[dict[str, Any], str]]) -> None:
        for stored, outcome in results:
            print(f"{names.ref(stored)} {outcome}{suffix}")

    async def go(client: Client) -> None:
        try:
            show(await client.apply(objects, dry_run=args.dry_run))
        except TooLargeError as e:
            if e.limit is None or e.limit < 1:
                raise
            await _apply_in_batches(client, objects, e.limit, dry_run=args.dry_run, show=show,
                                    server=session.target.server)
        except UnavailableError as e:
            if args.dry_run or not _maybe_committed(e):
                raise
            # Our own deadline passed with the request sent: "cannot reach" would be a guess.
            raise CLIError(
                f"error: no answer from the control plane at {session.target.server} in time: "
                "outcome unknown: the apply may have been committed; repeating the apply is safe"
            ) from e

    session.run(go)
    return 0


def _maybe_committed(err: APIError) -> bool:
    """Whether a failed apply may still have been committed: the server said "outcome
    unknown", or the client's own deadline passed while the request was out."""
    if isinstance(err, OutcomeUnknownError):
        return True
    return isinstance(err, UnavailableError) and "deadline exceeded" in err.message.lower()


def batches(objects: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """``objects`` in batches of at most ``limit``, Namespaces first (in file order), so a
    batch never holds an object whose Namespace comes in a later one."""
    ordered = sorted(objects, key=lambda o: o.get("kind") != "Namespace")  # stable
    return [ordered[i : i + limit] for i in range(0, len(ordered), limit)]


async def _apply_in_batches(
    client: Client,
    objects: list[dict[str, Any]],
    limit: int,
    *,
    dry_run: bool,
    show: Callable[[list[tuple[dict[str, Any], str]]], None],
    server: str,
) -> None:
    done = 0
    for batch in batches(objects, limit):
        try:
            results = await client.apply(batch, dry_run=dry_run)
        except APIError as e:
            if done == 0:
                raise
            unknown = len(batch) if not dry_run and _maybe_committed(e) else 0
            maybe = f", the {unknown} of this batch may have been" if unknown else ""
            raise CLIError(
                f"{api_error_message(e, server=server)}\n"
                f"{done} of {len(objects)} objects were applied (in batches of {limit}, "
                f"listed above) before this error{maybe}; the other "
                f"{len(objects) - done - unknown} were not. Repeating the apply is safe."
            ) from e
        show(results)
        done += len(batch)
