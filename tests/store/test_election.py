"""Leader election: one leader at a time on real etcd, takeover after a leader's death or
resignation with a growing fencing token; the embedded store's elector always leads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import AsyncIterator

import pytest

from mixfleet.store.election import EtcdLeaderElector, LocalLeaderElector, elector_for
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.etcd import EtcdCluster, unique_prefix

# Hang guard for waiting on a takeover, not a speed assertion.
_WAIT = 30.0
_TTL = 2.0

# A candidate in its own process, so that its death is a real process death: it stops
# refreshing its lease without resigning.
_CANDIDATE = """
import asyncio, sys
from mixfleet.store.etcd import EtcdStore
from mixfleet.store.election import elector_for
from mixfleet.util import log

async def main():
    log.configure()  # logs to stderr, leaving stdout for the token
    store = EtcdStore([sys.argv[1]], prefix=sys.argv[2])
    elector = elector_for(store, "proc-a", ttl=float(sys.argv[3]))
    await elector.campaign()
    print(elector.fencing_token, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture
async def etcd_prefix_store(etcd_server: EtcdCluster) -> AsyncIterator[EtcdStore]:
    store = EtcdStore([etcd_server.endpoint], prefix=unique_prefix())
    yield store
    await store.close()


async def is_waiting(task: asyncio.Task) -> bool:
    """True if task is still blocked after the loop had a chance to run it."""
    await asyncio.sleep(0.2)
    return not task.done()


@pytest.mark.etcd
async def test_one_leader_and_takeover_on_resign(etcd_prefix_store: EtcdStore) -> None:
    """Of two candidates exactly one leads; when it resigns the other takes over with a
    higher fencing token and the first one's `lost` is set."""
    a = elector_for(etcd_prefix_store, "a", ttl=_TTL)
    b = elector_for(etcd_prefix_store, "b", ttl=_TTL)
    await asyncio.wait_for(a.campaign(), _WAIT)
    b_campaign = asyncio.create_task(b.campaign())
    try:
        assert await is_waiting(b_campaign)
        assert (a.is_leader, b.is_leader) == (True, False)
        assert await b.leader() == "a"
        await a.resign()
        await asyncio.wait_for(b_campaign, _WAIT)
        assert (a.is_leader, b.is_leader) == (False, True)
        assert a.lost.is_set() and not b.lost.is_set()
        assert b.fencing_token > a.fencing_token > 0
        assert await a.leader() == "b"
    finally:
        b_campaign.cancel()
        await b.resign()


@pytest.mark.etcd
async def test_takeover_after_leader_process_dies(etcd_server: EtcdCluster,
                                                  etcd_prefix_store: EtcdStore) -> None:
    """When the leader's process is killed, its lease expires and a waiting candidate
    becomes leader with a higher fencing token."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CANDIDATE, etcd_server.endpoint, etcd_prefix_store.prefix, str(_TTL)],
        stdout=subprocess.PIPE,
    )
    b = elector_for(etcd_prefix_store, "b", ttl=_TTL)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), _WAIT)  # type: ignore[union-attr]
        token_a = int(line)
        b_campaign = asyncio.create_task(b.campaign())
        assert await is_waiting(b_campaign)
        assert await b.leader() == "proc-a"
        proc.kill()
        await asyncio.wait_for(b_campaign, _WAIT)
        assert b.is_leader and b.fencing_token > token_a
    finally:
        proc.kill()
        proc.wait()
        await b.resign()


@pytest.mark.etcd
async def test_leader_steps_down_when_key_disappears(etcd_prefix_store: EtcdStore) -> None:
    """If the leader key is deleted behind the leader's back, it notices and sets `lost`."""
    a = elector_for(etcd_prefix_store, "a", ttl=_TTL)
    await asyncio.wait_for(a.campaign(), _WAIT)
    try:
        await etcd_prefix_store.delete("/leader/controlplane")
        await asyncio.wait_for(a.lost.wait(), _WAIT)
        assert not a.is_leader
    finally:
        await a.resign()


@pytest.mark.etcd
async def test_leader_steps_down_when_lease_cannot_be_refreshed(etcd_prefix_store: EtcdStore) -> None:
    """A leader whose lease is revoked (as when it expires) steps down and sets `lost`."""
    a = elector_for(etcd_prefix_store, "a", ttl=_TTL)
    await asyncio.wait_for(a.campaign(), _WAIT)
    assert isinstance(a, EtcdLeaderElector)
    try:
        await etcd_prefix_store.call(lambda c: c.revoke_lease(a._lease_id))
        await asyncio.wait_for(a.lost.wait(), _WAIT)
        assert not a.is_leader
    finally:
        await a.resign()


async def test_local_elector_always_leads(tmp_path) -> None:
    """With the embedded store the single process leads at once; resigning sets `lost`."""
    store = EmbeddedStore(str(tmp_path / "s.db"))
    elector = elector_for(store, "solo")
    assert isinstance(elector, LocalLeaderElector)
    await asyncio.wait_for(elector.campaign(), _WAIT)
    assert elector.is_leader and elector.fencing_token > 0
    assert await elector.leader() == "solo"
    await elector.resign()
    assert elector.lost.is_set() and not elector.is_leader
    await store.close()
