"""Disk space for the embedded store: a reserve file, and a full alarm modelled on etcd's
NOSPACE alarm (with the quota exceeded, etcd takes only reads, deletes and compaction).

Why a reserve: in WAL mode every commit, a delete too, first appends pages to the WAL, and
a delete also records the deleted value in the history table. On a full disk SQLite then
fails the delete as well (``database or disk is full``), so nothing could ever free space.
Two guards, so that deletes always find room:

- a floor: a write that adds data is refused (``StoreFullError``, RESOURCE_EXHAUSTED at the
  API) once the filesystem has less free space than the reserve size, like etcd's
  ``--quota-backend-bytes``; the full alarm goes up and stays up until space is back. Unlike
  etcd, updates that do not grow their object (by more than ``UPDATE_SLACK``) still run, so
  node heartbeats and graceful deletes keep working: with history compacted on every
  commit under the alarm they take no space;
- a reserve for when something else fills the disk (a log, another program): the store keeps
  ``PATH.reserve``, a preallocated file beside the database. A write failing with
  SQLITE_FULL raises the alarm too, and a delete that fails so releases the reserve and
  runs again in the space it gave back (so does an update that adds no data).

The way out is automatic, with no `alarm disarm` step: after each delete under the alarm
the store compacts its history (it holds a copy of every value), lets SQLite hand free
pages back to the filesystem (``incremental_vacuum``; new databases are made with
``auto_vacuum=INCREMENTAL``), truncates the WAL, and clears the alarm once the reserve is
whole again with room to spare (hysteresis: the floor plus what the WAL grows into).
Everything here runs on the store's sqlite thread.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3

from mixfleet.store.base import StoreFullError
from mixfleet.util import log

_log = log.get("store.space")

DEFAULT_RESERVE_BYTES = 16 << 20
# Revisions of history kept by a compaction for space: a watcher that is caught up asks
# for the next revision and is not affected; one further behind re-lists, as after any
# compaction. History holds a copy of every value (two for a delete), so it is where a
# full disk's space is.
PRESSURE_HISTORY = 50
# Under the alarm an update may still grow its object by this much: a node's heartbeat
# (a Lease renewal, a condition's message) or a pod's deletion mark must keep working on
# a full disk, and with history compacted on every commit they add next to nothing.
UPDATE_SLACK = 1024
_CHUNK = 1 << 20
_PAGES_PER_STEP = 128  # 512 KiB of WAL per reclaim step at SQLite's 4 KiB pages
_RECLAIM_STEPS = 256
# The WAL grows to about this (SQLite's default autocheckpoint, 1000 pages of 4 KiB) before
# a checkpoint lets it start over: room a cleared alarm must leave for it to grow into.
WAL_ALLOWANCE = 4 << 20


def is_disk_full(e: sqlite3.Error) -> bool:
    return getattr(e, "sqlite_errorname", "") == "SQLITE_FULL"


class SpaceGuard:
    """The reserve file and the full alarm of one database file."""

    def __init__(self, db_path: str, reserve_bytes: int) -> None:
        self.db_path = db_path
        self.reserve_path = f"{db_path}.reserve"
        self.reserve_bytes = reserve_bytes
        self.full = False

    def free_bytes(self) -> int:
        try:
            return shutil.disk_usage(os.path.dirname(os.path.abspath(self.db_path))).free
        except OSError:
            return 0

    def error(self) -> StoreFullError:
        return StoreFullError(
            f"store disk full: {self.free_bytes()} bytes free on the filesystem of "
            f"{self.db_path}; creates and updates that grow objects are refused until "
            "space is freed; reads, deletes and updates that do not grow objects (heartbeats, "
            "status) still work"
        )

    def ensure_reserve(self) -> bool:
        """Make the reserve whole; False if the disk has no room for it."""
        if self.reserve_bytes <= 0:
            return True
        try:
            if os.path.getsize(self.reserve_path) >= self.reserve_bytes:
                return True
        except OSError:
            pass
        try:
            _allocate(self.reserve_path, self.reserve_bytes)
            return True
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                _log.warning("store.reserve_failed", path=self.reserve_path, error=str(e))
            try:
                os.unlink(self.reserve_path)  # a partial reserve only takes space
            except OSError:
                pass
            return False

    def release(self) -> bool:
        """Give the reserve's space back; True if there was one to give."""
        try:
            os.unlink(self.reserve_path)
        except FileNotFoundError:
            return False
        _log.warning("store.reserve_released", path=self.reserve_path, bytes=self.reserve_bytes)
        return True

    def low(self, db: sqlite3.Connection) -> bool:
        """Less room than the reserve's size: a create or update now could take the room
        deletes, compaction and checkpoints need (etcd's space quota, as a floor)."""
        return self.reserve_bytes > 0 and not self._room(db, self.reserve_bytes)

    def _room(self, db: sqlite3.Connection, wanted: int) -> bool:
        """Whether the filesystem has ``wanted`` bytes free. Only the filesystem counts, not
        the database's free pages: the WAL and checkpoints need room on the disk itself."""
        return self.free_bytes() >= wanted

    def raise_alarm(self) -> None:
        if not self.full:
            self.full = True
            _log.error("store.disk_full", path=self.db_path, free_bytes=self.free_bytes())

    def recovered(self, db: sqlite3.Connection) -> bool:
        """Clear the alarm if the reserve can be made whole and room is left beyond it for
        the WAL (else the next writes fill the disk again at once)."""
        if not self.full:
            return True
        if self.ensure_reserve() and self._room(db, self.reserve_bytes + WAL_ALLOWANCE):
            self.full = False
            _log.info("store.disk_space_recovered", path=self.db_path, free_bytes=self.free_bytes())
        return not self.full


def reclaim(db: sqlite3.Connection) -> None:
    """Hand the database's free pages back to the filesystem, and empty the WAL. In steps:
    a page that vacuum moves is first written to the WAL, so freeing everything at once
    could need more room than a full disk has; each step's WAL is checkpointed (which
    truncates the database file) and emptied before the next. Best effort: on a full disk
    a step may fail, and the next delete tries again."""
    for _ in range(_RECLAIM_STEPS):
        try:
            free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
            if free:
                # executescript steps it to the end: execute() frees one page per step.
                db.executescript(f"PRAGMA incremental_vacuum({_PAGES_PER_STEP});")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as e:
            _log.warning("store.reclaim_failed", error=str(e))
            return
        if free <= _PAGES_PER_STEP:
            return


def _allocate(path: str, size: int) -> None:
    """A file of ``size`` bytes whose blocks are really allocated (not sparse)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, size)
        else:  # pragma: no cover - Windows
            zeros = bytes(_CHUNK)
            for done in range(0, size, _CHUNK):
                os.write(fd, zeros[: min(_CHUNK, size - done)])
        os.fsync(fd)
    finally:
        os.close(fd)


def make_reclaimable(db: sqlite3.Connection, path: str) -> None:
    """Turn on auto_vacuum=INCREMENTAL in a database made without it (before this store
    used it), so that reclaim can hand freed pages back. VACUUM rewrites the file once,
    at the first start after the upgrade; it needs room for a copy, and without that room
    the database is used as it is (freed pages are then only reused, not returned)."""
    if int(db.execute("PRAGMA auto_vacuum").fetchone()[0]) != 0:
        return
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table'").fetchone() is None:
        return  # a new file: the store sets the pragma before its first table
    try:
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        db.execute("VACUUM")
        _log.info("store.vacuumed", path=path, auto_vacuum="incremental")
    except sqlite3.Error as e:
        _log.warning("store.vacuum_failed", path=path, error=str(e))
