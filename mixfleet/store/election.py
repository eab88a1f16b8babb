"""Leader election for the control plane: one of several `mixfleet controlplane` processes
sharing a store runs the scheduler and controllers.

- ``EtcdLeaderElector``: the leader holds key ``{prefix}/leader/controlplane`` attached to
  an etcd lease of ``ttl`` seconds that it keeps alive. A leader that dies stops refreshing,
  the lease expires, etcd deletes the key and a waiting candidate takes over. The fencing
  token is the key's create_revision, so it grows with every new leader; writers can put
  it in their writes so a deposed leader's late writes are recognisable.
- ``LocalLeaderElector``: for the embedded store (one process): always leader at once.

A leader steps down (``lost`` set, ``is_leader`` False) when its key changes or vanishes,
or when it cannot confirm its lease before the lease would have expired: it must assume
someone else may lead from then on.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import math

import aetcd

from mixfleet.store.base import CompactedError, EventType, Store, StoreError
from mixfleet.store.etcd import EtcdStore
from mixfleet.util import log
from mixfleet.util.aio import within

_log = log.get("store.election")

LEADER_KEY = "/leader/controlplane"  # store key; the etcd key is the store prefix + this


class LeaderElector(abc.ABC):
    """Campaign for leadership; ``lost`` is set when leadership ends (cleared on a win)."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.lost = asyncio.Event()
        self._token = 0
        self._leader = False

    @property
    def is_leader(self) -> bool:
        return self._leader

    @property
    def fencing_token(self) -> int:
        """Token of the current (or last) term; 0 before the first win. Grows per leader."""
        return self._token

    @abc.abstractmethod
    async def campaign(self) -> None:
        """Return once this elector is the leader (cancel the call to stop campaigning)."""

    @abc.abstractmethod
    async def resign(self) -> None:
        """Give up leadership (if held) so another candidate can take over at once."""

    @abc.abstractmethod
    async def leader(self) -> str | None:
        """Identity of the current leader, if any."""

    def _won(self, token: int) -> None:
        self._token = token
        self._leader = True
        self.lost.clear()
        _log.info("election.won", identity=self.identity, fencing_token=token)

    def _step_down(self, reason: str) -> None:
        if self._leader:
            _log.warning("election.lost", identity=self.identity, reason=reason,
                         fencing_token=self._token)
        self._leader = False
        self.lost.set()


class LocalLeaderElector(LeaderElector):
    """Single-process store: the only candidate always leads."""

    _terms = itertools.count(1)

    async def campaign(self) -> None:
        if not self._leader:
            self._won(next(self._terms))

    async def resign(self) -> None:
        self._step_down("resigned")

    async def leader(self) -> str | None:
        return self.identity if self._leader else None


class EtcdLeaderElector(LeaderElector):
    """Lease-based election on etcd (see the module docstring)."""

    def __init__(self, store: EtcdStore, identity: str, ttl: float = 5.0) -> None:
        super().__init__(identity)
        self._store = store
        self._ttl = ttl
        self._key = store.full_key(LEADER_KEY)
        self._lease_id = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def campaign(self) -> None:
        while not self._leader:
            lease_id, granted = await self._grant()
            try:
                won, revision = await self._try_acquire(lease_id)
            except BaseException:
                # Cancelled or failed mid-attempt: free the key now if we did get it,
                # rather than making the others wait out the TTL.
                await asyncio.shield(self._revoke(lease_id))
                raise
            if won:
                self._lease_id = lease_id
                self._won(revision)
                self._tasks = [
                    asyncio.create_task(self._keep_alive(lease_id, granted)),
                    asyncio.create_task(self._watch_key(revision)),
                ]
                return
            await self._revoke(lease_id)
            await self._wait_for_vacancy(revision)

    async def resign(self) -> None:
        await self._stop_tasks()
        if self._lease_id:
            # Revoking deletes the key at once instead of after the TTL.
            await self._revoke(self._lease_id)
            self._lease_id = 0
        self._step_down("resigned")

    async def leader(self) -> str | None:
        kv = await self._store.get(LEADER_KEY)
        return kv.value.decode() if kv else None

    # -- steps ----------------------------------------------------------------------------

    async def _grant(self) -> tuple[int, int]:
        lease = await self._store.call(lambda c: c.lease(max(1, math.ceil(self._ttl))))
        return int(lease.id), int(lease.ttl)

    async def _try_acquire(self, lease_id: int) -> tuple[bool, int]:
        """Create the key under our lease unless it exists. Returns (won, revision): the
        key's create_revision when won, else the revision the holder was seen at."""
        t = aetcd.Transactions()

        async def txn(c: aetcd.Client) -> tuple[bool, list]:
            return await c.transaction(
                compare=[t.create(self._key) == 0],
                success=[t.put(self._key, self.identity.encode(), lease=lease_id)],
                failure=[t.get(self._key)],
            )

        won, responses = await self._store.call(txn)
        if won:
            return True, int(responses[0].response_put.header.revision)
        held = responses[0]
        return False, int(held[0][1].mod_revision) if held else 0

    async def _wait_for_vacancy(self, seen: int) -> None:
        """Block until the leader key is deleted (lease expiry or resignation)."""
        events = self._store.watch(LEADER_KEY, seen + 1 if seen else 0)
        with contextlib.suppress(CompactedError):  # history gone: just try again
            async with contextlib.aclosing(events):
                async for ev in events:
                    if ev.kv.key == LEADER_KEY and ev.type is EventType.DELETE:
                        return

    async def _watch_key(self, created: int) -> None:
        """Step down as soon as the key is deleted or rewritten by someone else."""
        events = self._store.watch(LEADER_KEY, created + 1)
        try:
            async with contextlib.aclosing(events):
                async for ev in events:
                    if ev.kv.key == LEADER_KEY:
                        break
            await self._lose("leader key changed")
        except StoreError as e:
            await self._lose(f"cannot watch leader key: {e}")

    async def _keep_alive(self, lease_id: int, ttl: int) -> None:
        """Refresh the lease every ttl/3; step down if it is not confirmed before it would
        expire (measured from when each refresh was sent, so we give up early, not late)."""
        loop = asyncio.get_running_loop()
        expires = loop.time() + ttl
        while True:
            await asyncio.sleep(max(0.0, min(ttl / 3, expires - loop.time())))
            sent = loop.time()
            if sent >= expires:
                await self._lose("lease not refreshed in time")
                return
            try:
                resp = await within(
                    self._store.call(lambda c: c.refresh_lease(lease_id)), expires - sent
                )
            except (StoreError, asyncio.TimeoutError) as e:
                _log.warning("election.keepalive_failed", identity=self.identity, error=str(e))
                continue
            if resp is None or resp.TTL <= 0:
                await self._lose("lease expired")
                return
            expires = sent + resp.TTL

    async def _lose(self, reason: str) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._tasks = []
        lease_id, self._lease_id = self._lease_id, 0
        self._step_down(reason)
        if lease_id:
            await self._revoke(lease_id)  # in case the key still carries our lease

    async def _revoke(self, lease_id: int) -> None:
        try:
            await self._store.call(lambda c: c.revoke_lease(lease_id))
        except StoreError as e:  # an expired lease is already gone; nothing else to do
            _log.info("election.revoke_failed", identity=self.identity, error=str(e))

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def elector_for(store: Store, identity: str, ttl: float = 5.0) -> LeaderElector:
    """The elector that fits the store: etcd lease election, or local for embedded."""
    if isinstance(store, EtcdStore):
        return EtcdLeaderElector(store, identity, ttl)
    return LocalLeaderElector(identity)
