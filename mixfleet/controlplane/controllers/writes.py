"""Compare-and-swap writes for controllers.

A controller decides from what it read and commits every consequence of that decision in
one store transaction guarded by the revisions it read (the owner it synced included). A
second writer that read the same revisions, e.g. a deposed leader that has not yet noticed
it lost its lease, loses the transaction, so no decision is carried out twice: it raises
``Requeue`` and the key is synced again from fresh state.
"""

from __future__ import annotations

import copy
from typing import Sequence

from mixfleet.api import kinds, times
from mixfleet.api.types import Obj
from mixfleet.controlplane.controllers.queue import Requeue
from mixfleet.controlplane.objects import encode
from mixfleet.controlplane.registry import Registry, new_object
from mixfleet.store.base import AlreadyExistsError, ConflictError, NotFoundError, Op


def rev(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def update_op(obj: Obj) -> Op:
    """CAS-replace ``obj`` (a modified copy of what was read, resourceVersion unchanged)."""
    return Op.update(kinds.key_for(obj), encode(obj), rev(obj))


def touch_op(obj: Obj) -> Op:
    """A guard: rewrite ``obj`` unchanged, failing the transaction if it changed."""
    return update_op(obj)


def delete_op(obj: Obj) -> Op:
    return Op.delete(kinds.key_for(obj), rev(obj))


def create_op(obj: Obj) -> tuple[Op, Obj]:
    """Default, validate and stamp a new object as the registry does; (op, stored object).
    Timestamps are precise so "newest first" can tell apart pods made in one second."""
    new = new_object(obj, created=times.now_micro())
    return Op.create(kinds.key_for(new), encode(new)), new


async def commit(registry: Registry, ops: Sequence[Op], *, why: str) -> int:
    """Apply ``ops`` atomically; a lost race raises Requeue (sync again from fresh state)."""
    if not ops:
        return 0
    try:
        return await registry.store.txn(list(ops))
    except (ConflictError, NotFoundError, AlreadyExistsError) as e:
        raise Requeue(f"{why}: {e}") from e


def with_status(obj: Obj, status: dict) -> Obj:
    new = copy.deepcopy(obj)
    new["status"] = status
    return new
