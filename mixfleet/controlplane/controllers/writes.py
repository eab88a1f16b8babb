"""Controllers' writes: one registry transaction per decision, and expectations.

A controller decides from what it read (its informers' caches) and commits every
consequence of that decision with ``Registry.txn``: validated like any API write and
guarded by the revisions it read (the owner it synced included), all or nothing. A second
writer that read the same revisions, e.g. a deposed leader that has not yet noticed it lost
its lease, loses the transaction, so no decision is carried out twice: it raises
``Requeue`` and the key is synced again from fresh state.

Caches lag the store: right after a ReplicaSet's sync created three pods, the next sync
could still see none and create three more. ``Expectations`` (client-go's
ControllerExpectations, by revision) remember what each key's last commit wrote; the key is
not synced again until the informers show all of it (the watch events that bring it also
enqueue the key), or after ``EXPECTATION_TIMEOUT`` in case they never come.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mixfleet.api import times
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.controllers.queue import Requeue
from mixfleet.controlplane.informer import Informer
from mixfleet.controlplane.objects import thaw
from mixfleet.controlplane.registry import (
    Create,
    Delete,
    Guard,
    ObjectExistsError,
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
    TxnResult,
    Update,
    Write,
)
from mixfleet.util import log

_log = log.get("controllers.writes")

EXPECTATION_TIMEOUT = 60.0  # seconds; client-go waits 5 minutes
EXPECTATION_RECHECK = 1.0  # a sync that waits for its writes looks again after this at most


def rev(obj: ObjView) -> int:
    return int(obj["metadata"]["resourceVersion"])


def create(obj: ObjView, *, uid: str | None = None) -> Create:
    """Create ``obj`` (with ``uid`` when another write of the batch names it). Timestamps
    are precise so "newest first" can tell apart pods made in one second."""
    return Create(obj, created=times.now_micro(), uid=uid)


def update(base: ObjView, new: ObjView) -> Update:
    """CAS-replace ``base`` (as read) with ``new`` (a changed copy of it)."""
    return Update(base, new)


def guard(obj: ObjView) -> Guard:
    """A guard: the transaction fails if ``obj`` changed since it was read."""
    return Guard(obj)


def delete(obj: ObjView) -> Delete:
    """Delete the way the registry does: a pod running on a node is only marked, so its
    agent stops it gracefully and then finalises the deletion."""
    return Delete(obj)


async def commit(registry: Registry, writes: Sequence[Write], *, why: str) -> TxnResult:
    """Apply ``writes`` atomically; a lost race raises Requeue (sync again from fresh state).
    InvalidObjectError (the registry refused an object) propagates; nothing was written."""
    if not writes:
        return TxnResult(0, [])
    try:
        return await registry.txn(writes)
    except (StaleObjectError, ObjectNotFoundError, ObjectExistsError) as e:
        raise Requeue(f"{why}: {e}") from e


def with_status(obj: ObjView, status: dict) -> Obj:
    new: Obj = thaw(obj)
    new["status"] = status
    return new


# One write to wait for: the informer, the object's cache key, the revision written, and
# whether it was removed (None: removed or changed, as a delete that may only mark).
Seen = tuple[Informer, str, int, bool | None]


class Expectations:
    """What each key's last commit wrote, until the informers show it (module docstring)."""

    def __init__(self, *, timeout: float = EXPECTATION_TIMEOUT) -> None:
        self.timeout = timeout
        self._pending: dict[str, tuple[float, list[Seen]]] = {}

    def expect(self, key: str, seen: list[Seen]) -> None:
        """Add ``seen`` to what ``key`` waits for (one sync may commit more than once)."""
        if seen:
            _, before = self._pending.get(key, (0.0, []))
            self._pending[key] = (time.monotonic(), [*before, *seen])

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)

    def satisfied(self, key: str) -> bool:
        entry = self._pending.get(key)
        if entry is None:
            return True
        since, seen = entry
        left = [s for s in seen if not s[0].observed(s[1], s[2], gone=s[3])]
        if not left:
            del self._pending[key]
            return True
        if time.monotonic() - since > self.timeout:
            _log.warning("expectations.timed_out", key=key, missing=[s[1] for s in left])
            del self._pending[key]
            return True
        self._pending[key] = (since, left)
        return False
