"""Snapshots of the embedded store: one consistent SQLite file, saved while a server runs,
and restored over a damaged (or unwanted) database while none does.

``save`` copies through SQLite's online backup API (``sqlite3.Connection.backup``): it reads
under SQLite's own locking, so the copy is one consistent revision even while the server
commits, which a plain file copy of a WAL database is not. The copy is checked
(``quick_check`` and the schema) before it replaces the destination, and is written in
rollback-journal mode so it is one self-contained file.

``restore`` checks the snapshot the same way first (a bad snapshot changes nothing), takes
the store's lock exclusively (a running server holds it shared: restoring under it would
swap the file under open connections), keeps the old file aside as
``PATH.corrupt-<time>`` (or ``PATH.replaced-<time>`` when it was sound), and moves the
checked copy in with one rename.

Like ``etcdctl snapshot restore --bump-revision --mark-compacted``, the restored store's
revision jumps ahead and everything before it counts as compacted: clients that had seen
revisions newer than the snapshot's then re-list instead of watching from a revision the
store would reach again with other changes.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

from mixfleet.store.base import StoreError
from mixfleet.store.sqlite_files import hold_lock, integrity_problem

# How far a restore moves the revision ahead (etcd's docs suggest a large bump too): more
# than any number of writes the damaged file could have held beyond the snapshot's.
REVISION_BUMP = 1_000_000


class SnapshotError(StoreError):
    """A snapshot could not be saved or restored; the message says why and what is kept."""


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    path: str
    revision: int
    keys: int
    size: int


@dataclass(frozen=True, slots=True)
class RestoreResult:
    snapshot: SnapshotInfo
    revision: int  # the restored store's revision (bumped)
    kept_aside: str | None  # where the previous database file went


def save(db_path: str, dest: str) -> SnapshotInfo:
    """Write a consistent, checked snapshot of the database at db_path to dest."""
    if not os.path.exists(db_path):
        raise SnapshotError(f"no store database at {db_path}")
    tmp = f"{dest}.tmp-{os.getpid()}"
    try:
        src = sqlite3.connect(db_path)
        try:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)
                out.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
                if (problem := integrity_problem(out)) is not None:
                    raise SnapshotError(
                        f"store {db_path} fails its check ({problem}); snapshot not written"
                    )
                info = _describe(out, dest)
            finally:
                out.close()
        finally:
            src.close()
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest)
    except sqlite3.Error as e:
        raise SnapshotError(f"cannot snapshot store {db_path}: {e}; snapshot not written") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return SnapshotInfo(dest, info.revision, info.keys, os.path.getsize(dest))


def verify(snapshot: str) -> SnapshotInfo:
    """The snapshot's revision and size if it passes the store's checks; else SnapshotError."""
    if not os.path.isfile(snapshot):
        raise SnapshotError(f"snapshot {snapshot} does not exist; store not changed")
    try:
        db = sqlite3.connect(snapshot)
        try:
            problem = integrity_problem(db)
            if problem is None and not _has_schema(db):
                problem = "it holds no mixfleet store"
            if problem is not None:
                raise SnapshotError(f"snapshot {snapshot} is not usable: {problem}; store not changed")
            return _describe(db, snapshot)
        finally:
            db.close()
    except sqlite3.Error as e:
        raise SnapshotError(f"snapshot {snapshot} is not usable: {e}; store not changed") from e


def restore(db_path: str, snapshot: str, *, now: datetime | None = None) -> RestoreResult:
    """Replace the database at db_path with a checked copy of snapshot (see module doc)."""
    info = verify(snapshot)
    lock = hold_lock(db_path, exclusive=True)  # StoreInUseError while a server runs
    try:
        old_revision, old_sound = _old_state(db_path)
        revision = max(info.revision, old_revision) + REVISION_BUMP
        tmp = f"{db_path}.restoring-{os.getpid()}"
        try:
            _copy_bumped(snapshot, tmp, revision)
            stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
            aside = _move_aside(db_path, f"{db_path}.{'replaced' if old_sound else 'corrupt'}-{stamp}")
            os.replace(tmp, db_path)
            _fsync_dir(db_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    finally:
        if lock is not None:
            lock.close()
    return RestoreResult(info, revision, aside)


def _has_schema(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='kv'").fetchone() is not None


def _describe(db: sqlite3.Connection, path: str) -> SnapshotInfo:
    revision = int(db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0])
    keys = int(db.execute("SELECT count(*) FROM kv").fetchone()[0])
    return SnapshotInfo(path, revision, keys, 0)


def _old_state(db_path: str) -> tuple[int, bool]:
    """The revision of the database being replaced, as far as it can be read, and whether
    it passes its check."""
    if not os.path.exists(db_path):
        return 0, True
    try:
        db = sqlite3.connect(db_path)
        try:
            sound = integrity_problem(db) is None
            row = db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()
            return (int(row[0]) if row else 0), sound
        finally:
            db.close()
    except sqlite3.Error:
        return 0, False


def _copy_bumped(snapshot: str, dest: str, revision: int) -> None:
    """Copy snapshot to dest through the backup API, then move its revision to ``revision``
    and mark everything before it compacted (its history is dropped)."""
    src = sqlite3.connect(snapshot)
    try:
        out = sqlite3.connect(dest, isolation_level=None)
        try:
            src.backup(out)
            out.execute("BEGIN IMMEDIATE")
            out.execute("UPDATE meta SET value=? WHERE name IN ('revision', 'compacted')", (revision,))
            out.execute("DELETE FROM history")
            out.execute("COMMIT")
            # A store made before auto_vacuum=INCREMENTAL gets it here (VACUUM applies it),
            # so on a full disk its freed pages can go back to the filesystem.
            out.execute("PRAGMA auto_vacuum=INCREMENTAL")
            out.execute("VACUUM")
            out.execute("PRAGMA journal_mode=WAL")  # what the store runs in
        finally:
            out.close()
    finally:
        src.close()
    _fsync(dest)


def _move_aside(db_path: str, aside: str) -> str | None:
    """Rename the database (and its WAL, which holds committed pages of it) to ``aside``;
    the shared-memory index is only a cache of the WAL and is removed."""
    if not os.path.exists(db_path):
        return None
    os.replace(db_path, aside)
    if os.path.exists(f"{db_path}-wal"):
        os.replace(f"{db_path}-wal", f"{aside}-wal")
    if os.path.exists(f"{db_path}-shm"):
        os.unlink(f"{db_path}-shm")
    return aside


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    """Make a rename in path's directory durable (POSIX; a no-op where it cannot be)."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
