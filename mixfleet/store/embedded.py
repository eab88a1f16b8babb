"""EmbeddedStore: the Store interface on SQLite, for `mixfleet dev` and single-process use.

Layout (one file, WAL mode, synchronous=FULL so a committed txn survives a crash)::

    kv       (key BLOB PK, value, create_revision, mod_revision)   current state
    history  (revision, seq, key, type, value, prev_value, create_revision)  event log
    meta     (name PK, value)   'revision' (store-wide) and 'compacted' (compaction point)

Keys are stored as UTF-8 BLOBs so that ORDER BY and prefix ranges compare bytes, like etcd.
Every sqlite call runs on one dedicated worker thread: the event loop never blocks, and
that thread is the single writer that serialises transactions. Watches poll nothing:
each reads history from the database at its own pace and sleeps on a Condition that
every commit notifies, so a slow watcher holds no queue and simply falls behind (and gets
CompactedError if auto-compaction overtakes it, like an etcd watcher).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import collections
import functools
import os
import sqlite3
import time
from typing import IO, AsyncGenerator, Callable, Sequence, TypeVar

from mixfleet.store.base import (
    KV,
    AlreadyExistsError,
    CompactedError,
    ConflictError,
    EventType,
    NotFoundError,
    Op,
    OpKind,
    Store,
    StoreClosedError,
    StoreCorruptError,
    StoreError,
    UnavailableError,
    WatchEvent,
)
from mixfleet.store import sqlite_files, sqlite_space
from mixfleet.util import log

_log = log.get("store.embedded")
_T = TypeVar("_T")

# History (the event log watchers resume from) is compacted on whichever comes first: more
# revisions than this, more bytes of values than this, or revisions older than this. A count
# alone let a few large objects updated often fill memory and disk (10,000 revisions of a
# 2 MB pod are 20 GB); the Kubernetes API server compacts etcd every 5 minutes for the same
# reason. Watchers that fall further behind re-list ("too old"), as with etcd.
DEFAULT_HISTORY_LIMIT = 10_000
DEFAULT_HISTORY_BYTES = 64 * 1024 * 1024
DEFAULT_HISTORY_SECONDS = 600.0
_CHECKPOINT_SECONDS = 10.0  # how finely revisions are dated for the age limit
_CORRUPT_ERRORS = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
# A watcher reads at most this many revisions of history per query.
_WATCH_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY, value BLOB NOT NULL,
    create_revision INTEGER NOT NULL, mod_revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    revision INTEGER NOT NULL, seq INTEGER NOT NULL, key BLOB NOT NULL, type TEXT NOT NULL,
    value BLOB, prev_value BLOB, create_revision INTEGER NOT NULL,
    PRIMARY KEY (revision, seq));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0);
"""


def prefix_range(prefix: str) -> tuple[bytes, bytes | None]:
    """[lo, hi) covering every key that starts with prefix (hi None: no upper bound)."""
    lo = prefix.encode()
    s = bytearray(lo)
    for i in reversed(range(len(s))):
        if s[i] < 0xFF:
            s[i] += 1
            return lo, bytes(s[: i + 1])
    return lo, None


def check_unique_keys(ops: Sequence[Op]) -> None:
    """etcd rejects a txn that writes one key twice; both stores do, so they agree."""
    keys = [op.key for op in ops]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a txn may touch each key once, got {keys}")


class EmbeddedStore(Store):
    """SQLite-backed Store. ``path`` is a file (created if absent) or ":memory:"."""

    def __init__(
        self,
        path: str,
        *,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        history_bytes: int = DEFAULT_HISTORY_BYTES,
        history_seconds: float = DEFAULT_HISTORY_SECONDS,
        reserve_bytes: int = sqlite_space.DEFAULT_RESERVE_BYTES,
    ) -> None:
        self.path = path
        self._history_limit = history_limit
        self._history_budget = history_bytes
        self._history_seconds = history_seconds
        self._history_bytes = 0  # estimate of the bytes history holds; exact after compaction
        self._checkpoints: collections.deque[tuple[float, int]] = collections.deque()
        # No reserve for an in-memory database: it has no disk to fill.
        self._space = sqlite_space.SpaceGuard(path, 0 if path == ":memory:" else reserve_bytes)
        self._reclaimed_at = -1  # the store revision the last reclaim ran at
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="mixfleet-sqlite"
        )
        self._db: sqlite3.Connection | None = None
        self._revision = 0  # mirror of meta.revision, read by waiting watchers
        self._compacted = 0  # mirror of meta.compacted, read by auto-compaction
        self._changed = asyncio.Condition()
        self._closed = False
        self._opened = asyncio.Lock()
        self._lock: IO[str] | None = None  # shared lock: keeps `snapshot restore` away

    # -- plumbing ---------------------------------------------------------------------

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        """Run fn(db, *args) on the sqlite thread, opening the database on first use."""
        if self._closed:
            raise StoreClosedError(f"store {self.path} is closed")
        if self._db is None:
            async with self._opened:
                if self._db is None:
                    await self._call(self._open)
        return await self._call(functools.partial(fn, self._db, *args))

    async def _call(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.Error as e:
            if getattr(e, "sqlite_errorname", "") in _CORRUPT_ERRORS:
                # Damage found after start (the check at open saw none): not worth a retry.
                _log.error("store.corrupt", path=self.path, error=str(e))
                raise StoreCorruptError(sqlite_files.corrupt_message(self.path, str(e))) from e
            raise UnavailableError(f"sqlite {self.path}: {e}") from e

    def _open(self) -> None:
        if self.path != ":memory:" and os.path.dirname(self.path):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        lock = sqlite_files.hold_lock(self.path, exclusive=False)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            # Before anything writes to it: serving a corrupt file answered health checks
            # while every write and watch failed, for good.
            sqlite_files.check_file(db, self.path)
        except StoreError:
            db.close()
            if lock is not None:
                lock.close()
            raise
        self._lock = lock
        # Only takes effect on a new file (before its first table): lets a full disk get
        # back the pages that deletes free (sqlite_space.reclaim).
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        if self._space.reserve_bytes:
            sqlite_space.make_reclaimable(db, self.path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        if not self._space.ensure_reserve():
            _log.warning("store.reserve_missing", path=self.path, free_bytes=self._space.free_bytes())
        self._revision = _meta(db, "revision")
        self._compacted = _meta(db, "compacted")
        self._history_bytes = db.execute(
            "SELECT ifnull(sum(ifnull(length(value), 0) + ifnull(length(prev_value), 0)), 0) FROM history"
        ).fetchone()[0]
        self._db = db
        _log.info("store.opened", path=self.path, revision=self._revision)

    # -- reads ------------------------------------------------------------------------

    async def get(self, key: str) -> KV | None:
        return await self._run(_get, key.encode())

    async def list(self, prefix: str) -> tuple[list[KV], int]:
        return await self._run(_list, prefix)

    async def current_revision(self) -> int:
        return await self._run(_meta, "revision")

    # -- writes -----------------------------------------------------------------------

    async def txn(self, ops: Sequence[Op]) -> int:
        check_unique_keys(ops)
        rev = await self._run(self._apply_in_space, list(ops))
        if rev > self._revision:
            self._revision = rev
            async with self._changed:
                self._changed.notify_all()
            try:
                await self._compact_history(rev, ops)
            except StoreError as e:  # the txn committed: say so, retry next time
                _log.warning("store.compact_failed", path=self.path, error=str(e))
        return rev

    async def _compact_history(self, rev: int, ops: Sequence[Op]) -> None:
        """Auto-compaction after a commit, on count, age or size of history."""
        # An update also records the value it replaced: count the new value twice.
        self._history_bytes += sum(2 * len(op.value) for op in ops)
        now = time.monotonic()
        if not self._checkpoints or now - self._checkpoints[-1][0] >= _CHECKPOINT_SECONDS:
            self._checkpoints.append((now, rev))
        target = 0
        # Once a tenth of the limit piles up beyond it, so the delete is amortised instead
        # of running on every commit.
        if rev - self._compacted > self._history_limit + self._history_limit // 10:
            target = rev - self._history_limit
        while self._checkpoints and now - self._checkpoints[0][0] > self._history_seconds:
            target = max(target, self._checkpoints.popleft()[1])
        if target > self._compacted:
            await self.compact(target)
        if self._history_bytes > self._history_budget:
            cut, kept = await self._run(_bytes_cut, self._history_budget // 2)
            self._history_bytes = kept
            if cut > self._compacted:
                await self.compact(cut)

    def _apply_in_space(self, db: sqlite3.Connection, ops: Sequence[Op]) -> int:
        """_apply, with the disk-full rules of sqlite_space: under the alarm only writes
        that add no data run (deletes, and updates that do not grow their object: lease
        renewals, status, deletion marks); one of those that finds the disk full runs again
        in the released reserve."""
        space = self._space
        pressed = space.full or space.low(db)
        adds = pressed and _adds_data(db, ops)
        if adds and not self._make_room(db):
            space.raise_alarm()
            raise space.error()
        try:
            try:
                rev = _apply(db, ops)
            except sqlite3.Error as e:
                if not sqlite_space.is_disk_full(e):
                    raise
                space.raise_alarm()
                if (adds or _adds_data(db, ops)) or not space.release():
                    raise space.error() from e
                rev = _apply(db, ops)
        except sqlite3.Error as e:
            if sqlite_space.is_disk_full(e):
                raise space.error() from e
            raise
        if space.full or space.low(db):
            # Every commit adds history (a delete two copies of the value): on a disk this
            # full, compact it right away, or deletes would fill the disk they are clearing.
            self._reclaim(db, rev)
        return rev

    def _make_room(self, db: sqlite3.Connection) -> bool:
        """Before a create or update on a (nearly) full disk: reclaim what the commits since
        the last try freed, then say whether there is room (the alarm's hysteresis when it
        is up, the floor otherwise)."""
        rev = _meta(db, "revision")
        if rev != self._reclaimed_at:
            self._reclaim(db, rev)
        return self._space.recovered(db) if self._space.full else not self._space.low(db)

    def _reclaim(self, db: sqlite3.Connection, rev: int) -> None:
        """On a full disk: drop history (which holds a copy of every value, two of a
        deleted one), give free pages back to the disk, maybe clear the alarm."""
        self._reclaimed_at = rev
        target = rev - sqlite_space.PRESSURE_HISTORY
        if target > self._compacted:
            try:
                if _compact(db, target):
                    self._compacted = target
                    _log.info("store.compacted_for_space", path=self.path, revision=target)
            except sqlite3.Error as e:
                _log.warning("store.reclaim_failed", step="compact", error=str(e))
        sqlite_space.reclaim(db)
        self._space.recovered(db)

    async def compact(self, revision: int) -> None:
        done = await self._run(_compact, revision)
        if done:
            self._compacted = revision
            _log.info("store.compacted", path=self.path, revision=revision)

    # -- watch ------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[WatchEvent, None]:
        """Replays history from start_revision, then follows commits until close()."""
        now = await self.current_revision()  # also opens the database
        nxt = start_revision if start_revision > 0 else now + 1
        while not self._closed:
            upto = min(self._revision, nxt + _WATCH_BATCH - 1)
            if upto >= nxt:
                for event in await self._run(_history, prefix, nxt, upto):
                    yield event
                nxt = upto + 1
                continue
            async with self._changed:
                await self._changed.wait_for(lambda: self._closed or self._revision >= nxt)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._changed:
            self._changed.notify_all()
        if self._db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        if self._lock is not None:
            self._lock.close()
        self._executor.shutdown(wait=False)
        _log.info("store.closed", path=self.path)


# -- the functions below run on the sqlite thread ------------------------------------


def _meta(db: sqlite3.Connection, name: str) -> int:
    return int(db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()[0])


def _row_kv(row: tuple[bytes, bytes, int, int]) -> KV:
    return KV(row[0].decode(), bytes(row[1]), row[2], row[3])


def _get(db: sqlite3.Connection, key: bytes) -> KV | None:
    row = db.execute(
        "SELECT key, value, create_revision, mod_revision FROM kv WHERE key=?", (key,)
    ).fetchone()
    return _row_kv(row) if row else None


def _range_sql(prefix: str) -> tuple[str, tuple[bytes, ...]]:
    lo, hi = prefix_range(prefix)
    if hi is None:
        return "key >= ?", (lo,)
    return "key >= ? AND key < ?", (lo, hi)


def _list(db: sqlite3.Connection, prefix: str) -> tuple[list[KV], int]:
    where, args = _range_sql(prefix)
    db.execute("BEGIN")  # one snapshot for the rows and the revision they were read at
    try:
        rows = db.execute(
            f"SELECT key, value, create_revision, mod_revision FROM kv WHERE {where} "
            "ORDER BY key",
            args,
        ).fetchall()
        return [_row_kv(r) for r in rows], _meta(db, "revision")
    finally:
        db.execute("COMMIT")


def precondition_error(op: Op, cur: KV | None) -> StoreError | None:
    """The error op would raise against the current value of its key, if any."""
    if op.kind is OpKind.CREATE:
        return AlreadyExistsError(op.key) if cur else None
    if op.kind is OpKind.PUT or (op.kind is OpKind.DELETE and op.expected_mod_revision is None):
        return None
    if cur is None:
        return NotFoundError(op.key)
    assert op.expected_mod_revision is not None
    if cur.mod_revision != op.expected_mod_revision:
        return ConflictError(op.key, op.expected_mod_revision, cur.mod_revision)
    return None


def _adds_data(db: sqlite3.Connection, ops: Sequence[Op]) -> bool:
    """Whether ops store more than they replace: a create, a put of a new key, or an update
    growing its value by more than sqlite_space.UPDATE_SLACK. (Read outside the txn: only
    this thread writes, and it is an admission rule, not a precondition.)"""
    for op in ops:
        if op.kind is OpKind.DELETE:
            continue
        if op.kind is OpKind.CREATE:
            return True
        cur = _get(db, op.key.encode())
        if cur is None or len(op.value) > len(cur.value) + sqlite_space.UPDATE_SLACK:
            return True
    return False


def _apply(db: sqlite3.Connection, ops: Sequence[Op]) -> int:
    """Validate every op against the state before the txn (as etcd compares do), then apply
    all of them under one new revision. Returns the store revision after the txn."""
    db.execute("BEGIN IMMEDIATE")
    try:
        current = {op.key: _get(db, op.key.encode()) for op in ops}
        for op in ops:
            if (err := precondition_error(op, current[op.key])) is not None:
                raise err
        rev = _meta(db, "revision") + 1
        seq = 0
        for op in ops:
            seq += _write(db, op, current[op.key], rev, seq)
        if seq == 0:  # only deletes of absent keys: nothing changed, no new revision
            db.execute("ROLLBACK")
            return rev - 1
        db.execute("UPDATE meta SET value=? WHERE name='revision'", (rev,))
        db.execute("COMMIT")
        return rev
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _write(db: sqlite3.Connection, op: Op, cur: KV | None, rev: int, seq: int) -> int:
    """Apply one validated op; returns the number of history events it recorded (0 or 1)."""
    key = op.key.encode()
    prev = cur.value if cur else None
    if op.kind is OpKind.DELETE:
        if cur is None:
            return 0
        db.execute("DELETE FROM kv WHERE key=?", (key,))
        event = (rev, seq, key, EventType.DELETE.value, cur.value, prev, cur.create_revision)
    else:
        created = cur.create_revision if cur else rev
        db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?)", (key, op.value, created, rev))
        event = (rev, seq, key, EventType.PUT.value, op.value, prev, created)
    db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?)", event)
    return 1


def _bytes_cut(db: sqlite3.Connection, keep: int) -> tuple[int, int]:
    """The revision to compact to so that history keeps about ``keep`` bytes of values (the
    newest revisions), and the bytes it then keeps. Whole revisions only."""
    kept = 0
    rows = db.execute(
        "SELECT revision, sum(ifnull(length(value), 0) + ifnull(length(prev_value), 0)) "
        "FROM history GROUP BY revision ORDER BY revision DESC"
    )
    for revision, size in rows:
        if kept + size > keep:
            # The newest revision stays even when it alone is larger than ``keep``.
            return (revision + 1, kept) if kept else (revision, size)
        kept += size
    return 0, kept


def _compact(db: sqlite3.Connection, revision: int) -> bool:
    db.execute("BEGIN IMMEDIATE")
    try:
        current = _meta(db, "revision")
        if revision > current:
            raise ValueError(f"cannot compact to future revision {revision} (now {current})")
        if revision <= _meta(db, "compacted"):
            db.execute("COMMIT")
            return False
        db.execute("DELETE FROM history WHERE revision < ?", (revision,))
        db.execute("UPDATE meta SET value=? WHERE name='compacted'", (revision,))
        db.execute("COMMIT")
        return True
    except BaseException:
        # A COMMIT that fails (a full disk) can leave the transaction open: every later
        # BEGIN would then fail.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _history(db: sqlite3.Connection, prefix: str, lo: int, hi: int) -> list[WatchEvent]:
    """Events under prefix with lo <= revision <= hi, in order; CompactedError if lo is
    older than the compaction point (checked in the same snapshot as the read)."""
    where, args = _range_sql(prefix)
    db.execute("BEGIN")
    try:
        compacted = _meta(db, "compacted")
        if lo < compacted:
            raise CompactedError(lo, compacted)
        rows = db.execute(
            "SELECT revision, key, type, value, prev_value, create_revision FROM history "
            f"WHERE revision BETWEEN ? AND ? AND {where} ORDER BY revision, seq",
            (lo, hi, *args),
        ).fetchall()
    finally:
        db.execute("COMMIT")
    return [
        WatchEvent(
            type=EventType(typ),
            kv=KV(key.decode(), bytes(value), created, rev),
            prev_value=None if prev is None else bytes(prev),
            revision=rev,
        )
        for rev, key, typ, value, prev, created in rows
    ]
