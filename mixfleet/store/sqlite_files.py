"""The embedded store's database file: its integrity check, the lock that tells a restore
a server is using it, and the message that says the way back from corruption.

Kept apart from ``embedded.py`` because ``mixfleet snapshot`` uses the same checks without
opening a store (``store.snapshot``). Everything here is synchronous: the store calls it on
its sqlite thread, the snapshot command directly.
"""

from __future__ import annotations

import os
import sqlite3
from typing import IO

from mixfleet.store.base import StoreCorruptError, StoreError

try:  # POSIX; a control plane on Windows runs without the restore guard
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# What EmbeddedStore's schema must hold: a table whose columns differ (another program's
# database, a hand edit) would fail at the first write, long after start.
EXPECTED_COLUMNS = {
    "kv": ("key", "value", "create_revision", "mod_revision"),
    "history": ("revision", "seq", "key", "type", "value", "prev_value", "create_revision"),
    "meta": ("name", "value"),
}
EXPECTED_META = ("compacted", "revision")
_PROBLEMS_SHOWN = 3


class StoreInUseError(StoreError):
    """A restore found a server using the database (or a server found a restore running)."""


def integrity_problem(db: sqlite3.Connection) -> str | None:
    """What is wrong with the open database, or None. Runs ``PRAGMA quick_check`` (every
    page and record readable and well-formed; cheaper than integrity_check, which also
    matches indexes to tables) and then compares the schema with the store's. A database
    with none of the store's tables is fine: it is new, and the store creates them."""
    try:
        rows = [r[0] for r in db.execute(f"PRAGMA quick_check({_PROBLEMS_SHOWN + 1})")]
    except sqlite3.DatabaseError as e:  # "file is not a database", "disk image is malformed"
        return f"SQLite cannot read it ({e})"
    if rows != ["ok"]:
        # One row may hold several lines, headed "*** in database main ***".
        lines = [ln for r in rows for ln in str(r).splitlines() if not ln.startswith("***")]
        shown = "; ".join(lines[:_PROBLEMS_SHOWN])
        more = " (and more)" if len(lines) > _PROBLEMS_SHOWN else ""
        return f"PRAGMA quick_check reports: {shown}{more}"
    return schema_problem(db)


def schema_problem(db: sqlite3.Connection) -> str | None:
    """A table of the store's schema with other columns, or the meta rows missing."""
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables & set(EXPECTED_COLUMNS):
            return None  # a new database
        for table, columns in EXPECTED_COLUMNS.items():
            if table not in tables:
                return f"table {table!r} of the store's schema is missing"
            found = tuple(r[1] for r in db.execute(f"PRAGMA table_info({table})"))
            if found != columns:
                return f"table {table!r} has columns {list(found)}, expected {list(columns)}"
        names = tuple(sorted(r[0] for r in db.execute("SELECT name FROM meta")))
        if not set(EXPECTED_META) <= set(names):
            return f"table 'meta' lacks the rows {list(EXPECTED_META)} (has {list(names)})"
    except sqlite3.DatabaseError as e:
        return f"SQLite cannot read its schema ({e})"
    return None


def corrupt_message(path: str, problem: str) -> str:
    """One paragraph: the file, what is wrong, and the way back."""
    store = f"sqlite://{os.path.abspath(path)}"
    return (
        f"store {path} is corrupt: {problem}. Refusing to serve it (writes and watches would "
        f"fail). To recover, stop every process using it, then run `mixfleet snapshot restore "
        f"--from SNAPSHOT --store {store}` with a snapshot made earlier by `mixfleet snapshot "
        f"save SNAPSHOT --store {store}`; the corrupt file is kept aside as "
        f"{path}.corrupt-<time>. Without a snapshot, move {path} away to start empty."
    )


def check_file(db: sqlite3.Connection, path: str) -> None:
    """Raise StoreCorruptError (the message of ``corrupt_message``) if the database fails."""
    if (problem := integrity_problem(db)) is not None:
        raise StoreCorruptError(corrupt_message(path, problem))


def lock_path(path: str) -> str:
    return f"{path}.lock"


def hold_lock(path: str, *, exclusive: bool) -> IO[str] | None:
    """Lock ``path``'s lock file and return it (the lock lasts while it stays open, and
    ends with the process). Servers hold it shared, so several may open one file as
    before; a restore needs it exclusive, so it cannot swap the file under a server."""
    if fcntl is None or path == ":memory:":  # pragma: no cover - Windows
        return None
    f = open(lock_path(path), "a+")
    try:
        fcntl.flock(f, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        if exclusive:
            raise StoreInUseError(
                f"store {path} is in use by a running mixfleet server; stop it first"
            ) from None
        raise StoreInUseError(f"store {path} is being restored; start the server after") from None
    return f
