"""`mixfleet encryption-key new FILE`: a fresh key for Secrets at rest, written first in FILE
(made with mode 0600), the keys already there kept after it so they still open what they
sealed. Then restart the control plane(s) with --encryption-key-file FILE: the leader
re-seals every Secret under the new key."""

from __future__ import annotations

import argparse
import sys
import time


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("encryption-key", help="make or rotate the key that seals Secrets at rest")
    verbs = p.add_subparsers(dest="verb", required=True)
    new = verbs.add_parser("new", help="put a new random AES-256 key first in FILE")
    new.add_argument("file")
    new.add_argument("--name", default=None, help="the key's name (default key-<unix time>)")
    p.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    from mixfleet.store.encrypted import KeyFileError, new_key_file

    name = args.name or f"key-{int(time.time())}"
    try:
        new_key_file(args.file, name)
    except (KeyFileError, OSError) as e:
        print(f"mixfleet encryption-key new: error: {e}", file=sys.stderr)
        return 1
    print(f"key {name} written first in {args.file}: restart the control plane(s) with "
          f"--encryption-key-file {args.file}")
    return 0
