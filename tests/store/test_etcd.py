"""EtcdStore behaviour beyond the shared contract: unreachable endpoints and failover
between the members of a real 3-member cluster."""

from __future__ import annotations

import pytest

from mixfleet.store.base import EventType, UnavailableError
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.etcd import EtcdCluster, free_port, unique_prefix
from tests.store.test_contract import take

pytestmark = pytest.mark.etcd


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda s: s.get("/pods/a"), id="get"),
        pytest.param(lambda s: s.put("/pods/a", b"1"), id="put"),
        pytest.param(lambda s: anext(s.watch("/pods/", 1)), id="watch"),
    ],
)
async def test_dead_endpoint_raises_unavailable(action) -> None:
    """With nothing listening, requests give up after the retry budget with
    UnavailableError chained from the transport error."""
    store = EtcdStore([f"127.0.0.1:{free_port()}"], prefix=unique_prefix(), retry_budget=0.3)
    try:
        with pytest.raises(UnavailableError) as exc:
            await action(store)
        assert exc.value.__cause__ is not None
    finally:
        await store.close()


async def test_skips_dead_endpoint_in_list(etcd_server: EtcdCluster) -> None:
    """A dead first endpoint is skipped: requests go to the next one that answers."""
    dead = f"127.0.0.1:{free_port()}"
    store = EtcdStore([dead, etcd_server.endpoint], prefix=unique_prefix(), retry_budget=10)
    try:
        rev = await store.create("/pods/a", b"1")
        assert (await store.get("/pods/a")).mod_revision == rev  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_member_death_fails_over_without_losing_watch_events(etcd_cluster: EtcdCluster) -> None:
    """Killing the member the store talks to moves reads, writes and an open watch to another
    member; the watch delivers every change exactly once."""
    # A short request timeout: a proposal in flight to the killed leader is dropped and
    # only the client deadline ends it.
    store = EtcdStore(etcd_cluster.endpoints, prefix=unique_prefix(), timeout=2.0, retry_budget=20)
    try:
        start = await store.put("/pods/a", b"0")
        events = store.watch("/pods/", start)
        seen = await take(events, 1)
        etcd_cluster.kill(0)  # the store starts on the first endpoint
        revs = [await store.put(f"/pods/k{i}", str(i).encode()) for i in range(3)]
        seen += await take(events, 3)
        await events.aclose()  # type: ignore[attr-defined]
        assert [(e.type, e.revision) for e in seen] == [(EventType.PUT, r) for r in [start, *revs]]
        kvs, _ = await store.list("/pods/")
        assert [kv.key for kv in kvs] == ["/pods/a", "/pods/k0", "/pods/k1", "/pods/k2"]
    finally:
        await store.close()
        etcd_cluster.restart(0)
