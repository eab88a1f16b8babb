"""`mixfleet snapshot save FILE` / `mixfleet snapshot restore --from FILE`: back up the
embedded store while the server runs, and put a backup back while it does not (the way
back from a corrupt database; see ``store.snapshot``). etcd keeps its own snapshots, so on
an etcd store the command names the etcdctl command instead."""

from __future__ import annotations

import argparse
import sys

from mixfleet.store.base import StoreError

_DEFAULT_STORE = "sqlite://.mixfleet/dev.db"  # what `mixfleet dev` uses


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    snap = sub.add_parser("snapshot", help="save or restore a snapshot of the embedded store")
    verbs = snap.add_subparsers(dest="verb", required=True)
    save = verbs.add_parser("save", help="write a consistent snapshot (the server may run)")
    save.add_argument("file", help="the snapshot file to write")
    restore = verbs.add_parser("restore", help="replace the store with a snapshot (server stopped)")
    restore.add_argument("--from", dest="source", required=True, metavar="FILE", help="snapshot to restore")
    for p in (save, restore):
        p.add_argument("--store", default=_DEFAULT_STORE, help=f"the store's URL (default {_DEFAULT_STORE})")
    snap.set_defaults(command_main=main)


def _db_path(url: str, verb: str) -> str:
    if url.startswith("etcd://"):
        raise StoreError(
            f"{url} is an etcd store, which keeps its own snapshots: use `etcdctl snapshot "
            f"{verb}` (see etcd's disaster-recovery guide)"
        )
    path = url[len("sqlite://"):] if url.startswith("sqlite://") else url
    if not path or path == ":memory:" or ("://" in url and not url.startswith("sqlite://")):
        raise StoreError(f"cannot snapshot store {url!r}: expected sqlite://PATH or a .db path")
    return path


def main(args: argparse.Namespace) -> int:
    from mixfleet.store import snapshot

    try:
        db = _db_path(args.store, args.verb)
        if args.verb == "save":
            info = snapshot.save(db, args.file)
            print(f"saved {info.path}: revision {info.revision}, {info.keys} keys, {info.size} bytes")
        else:
            result = snapshot.restore(db, args.source)
            kept = f"; the previous file is kept at {result.kept_aside}" if result.kept_aside else ""
            print(
                f"restored {db} from {args.source} ({result.snapshot.keys} keys of revision "
                f"{result.snapshot.revision}; the store continues at revision {result.revision}, "
                f"so clients re-list){kept}"
            )
    except (StoreError, OSError) as e:
        print(f"mixfleet snapshot {args.verb}: error: {e}", file=sys.stderr)
        return 1
    return 0
